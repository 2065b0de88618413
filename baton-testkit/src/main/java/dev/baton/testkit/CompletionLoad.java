package dev.baton.testkit;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Client threads sending {@code /v1/completions} to a gateway until closed, counting successes and
 * keeping every failure, so a test can scale, kill or roll workers under load and then assert that
 * nothing failed.
 */
public final class CompletionLoad implements AutoCloseable {

  private static final HttpClient CLIENT =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  /** Requests answered 200. */
  public final AtomicInteger ok = new AtomicInteger();

  /** Every other outcome: status and body, or the exception. */
  public final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();

  /** What the tag function saw in the 200 answers (which worker served them, say). */
  public final Set<String> tags = ConcurrentHashMap.newKeySet();

  private final AtomicBoolean running = new AtomicBoolean(true);
  private final List<Thread> threads = new ArrayList<>();

  /**
   * @param body the JSON body of a client's i-th request: {@code body.apply(client, i)}
   * @param tag what to remember of a 200 answer in {@link #tags} (null: nothing)
   */
  public CompletionLoad(
      String gatewayUrl,
      int clients,
      BiFunction<Integer, Integer, String> body,
      Function<HttpResponse<String>, String> tag) {
    for (int c = 0; c < clients; c++) {
      int client = c;
      threads.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    for (int i = 0; running.get(); i++) {
                      try {
                        HttpResponse<String> r =
                            CLIENT.send(
                                HttpRequest.newBuilder(URI.create(gatewayUrl + "/v1/completions"))
                                    .timeout(Duration.ofSeconds(60))
                                    .header("Content-Type", "application/json")
                                    .POST(
                                        HttpRequest.BodyPublishers.ofString(body.apply(client, i)))
                                    .build(),
                                HttpResponse.BodyHandlers.ofString());
                        if (r.statusCode() == 200) {
                          ok.incrementAndGet();
                          String t = tag.apply(r);
                          if (t != null) {
                            tags.add(t);
                          }
                        } else {
                          failures.add(r.statusCode() + " " + r.body());
                        }
                      } catch (Exception e) {
                        failures.add(e.toString());
                      }
                    }
                  }));
    }
  }

  /** Stops the clients after their current request and waits for them. */
  @Override
  public void close() {
    running.set(false);
    try {
      for (Thread t : threads) {
        t.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

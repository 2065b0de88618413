package dev.baton.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Conversations of several turns: each turn sends the whole conversation so far (earlier user turns
 * and the server's actual replies) plus a new user message, with the session's {@code x-session-id}
 * header, so session affinity and prefix caching see real multi-turn traffic. A session's next turn
 * is handed out only after its previous reply arrived; sessions take turns first come, first
 * served.
 */
public final class MultiTurnWorkload implements Workload {

  private final class Session {
    final String id;
    final List<ChatMessage> history = new ArrayList<>();
    int turnsLeft;
    int tokensSoFar;
    int pendingUserTokens;
    String pendingUserText;

    Session(String id, int turns) {
      this.id = id;
      this.turnsLeft = turns;
    }
  }

  private final TextSynthesizer text;
  private final Random random;
  private final int inputLow;
  private final int inputHigh;
  private final int outputLow;
  private final int outputHigh;
  private final int total;
  private final AtomicInteger handedOut = new AtomicInteger();
  private final LinkedBlockingQueue<Session> ready = new LinkedBlockingQueue<>();
  // Identity, not record equality: requests hold whole conversations.
  private final java.util.Map<PreparedRequest, Session> inFlight =
      java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>());

  /**
   * @param requests turns in all; sessions = ceil(requests / turns), the last one shorter
   */
  public MultiTurnWorkload(DatasetConfig config, TextSynthesizer text) {
    this.text = text;
    this.random = new Random(config.seed());
    this.total = config.numPrompts();
    int[] in = Datasets.range(config.random().inputLen(), config.random().rangeRatio());
    int[] out = Datasets.range(config.random().outputLen(), config.random().rangeRatio());
    inputLow = in[0];
    inputHigh = in[1];
    outputLow = out[0];
    outputHigh = out[1];
    int turns = config.multiturnTurns();
    int left = total;
    for (int s = 0; left > 0; s++) {
      int n = Math.min(turns, left);
      ready.add(new Session("bench-" + config.seed() + "-" + s, n));
      left -= n;
    }
  }

  /** Sessions in this workload. */
  public int sessions() {
    return ready.size();
  }

  @Override
  public int size() {
    return total;
  }

  @Override
  public PreparedRequest next() throws InterruptedException {
    if (handedOut.getAndIncrement() >= total) {
      return null;
    }
    Session session = ready.take();
    int userTokens;
    String user;
    int outputLen;
    synchronized (random) {
      int target = inputLow + random.nextInt(inputHigh - inputLow + 1);
      TextSynthesizer.Text t = text.randomText(target, random);
      user = t.text();
      userTokens = t.tokens();
      outputLen = outputLow + random.nextInt(outputHigh - outputLow + 1);
    }
    session.pendingUserText = user;
    session.pendingUserTokens = userTokens;
    PreparedRequest request =
        new PreparedRequest(
            user,
            null,
            List.copyOf(session.history),
            session.tokensSoFar + userTokens,
            outputLen,
            session.id);
    inFlight.put(request, session);
    return request;
  }

  @Override
  public void finished(PreparedRequest request, RequestResult result) {
    Session session = inFlight.remove(request);
    if (session == null) {
      return;
    }
    session.history.add(new ChatMessage("user", session.pendingUserText));
    session.history.add(new ChatMessage("assistant", result.generatedText()));
    session.tokensSoFar += session.pendingUserTokens + result.outputTokens();
    session.turnsLeft--;
    if (session.turnsLeft > 0) {
      ready.add(session);
    }
  }

  @Override
  public PreparedRequest warmupRequest() {
    synchronized (random) {
      TextSynthesizer.Text t = text.randomText(inputLow, new Random(random.nextLong()));
      return PreparedRequest.text(t.text(), t.tokens(), outputLow);
    }
  }
}

package dev.baton.bench;

/**
 * The stream of requests a benchmark sends. Static datasets hand out a fixed list; multi-turn
 * sessions hand out a session's next turn only after its previous reply arrived.
 */
public interface Workload {

  /** Requests this workload hands out in all. */
  int size();

  /**
   * The next request, or null when none is left. May block while every unfinished session waits for
   * its reply.
   */
  PreparedRequest next() throws InterruptedException;

  /** Reports how a request handed out by {@link #next} ended. */
  default void finished(PreparedRequest request, RequestResult result) {}

  /** A request like the first one, for warm-up (excluded from the metrics). */
  PreparedRequest warmupRequest();

  /** A fixed list of requests. */
  static Workload of(java.util.List<PreparedRequest> requests) {
    return new ListWorkload(requests, false);
  }

  /** The same requests, over and over (for {@code --duration} runs). */
  default Workload cycling() {
    if (this instanceof ListWorkload list) {
      return new ListWorkload(list.requests, true);
    }
    return this;
  }

  /** Hands out a fixed list in order. */
  final class ListWorkload implements Workload {
    private final java.util.List<PreparedRequest> requests;
    private final boolean cycle;
    private final java.util.concurrent.atomic.AtomicInteger next =
        new java.util.concurrent.atomic.AtomicInteger();

    ListWorkload(java.util.List<PreparedRequest> requests, boolean cycle) {
      this.cycle = cycle;
      if (requests.isEmpty()) {
        throw new IllegalArgumentException("the dataset produced no requests");
      }
      this.requests = java.util.List.copyOf(requests);
    }

    @Override
    public int size() {
      return requests.size();
    }

    @Override
    public PreparedRequest next() {
      int i = next.getAndIncrement();
      if (cycle) {
        return requests.get(Math.floorMod(i, requests.size()));
      }
      return i < requests.size() ? requests.get(i) : null;
    }

    @Override
    public PreparedRequest warmupRequest() {
      return requests.get(0);
    }

    public java.util.List<PreparedRequest> requests() {
      return requests;
    }
  }
}

package dev.baton.kv;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * What a connector's background threads finished since the engine last asked: sends done, loads
 * done and failed (with why). Threads record; the engine thread drains through {@link #poll} and
 * {@link #failures} (the connector's {@code pollFinished} and {@code loadFailures}).
 */
public final class TransferEvents {

  private final ConcurrentLinkedQueue<String> doneSending = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> doneRecving = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> failedRecving = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<KvConnector.LoadFailure> failures =
      new ConcurrentLinkedQueue<>();

  /** The request's blocks may be freed: nothing reads them any more. */
  public void sent(String requestId) {
    doneSending.add(requestId);
  }

  /** The request's external tokens are in its blocks. */
  public void loaded(String requestId) {
    doneRecving.add(requestId);
  }

  /** The request's load failed; {@code why} is reported once through {@link #failures}. */
  public void loadFailed(String requestId, KvConnector.LoadFailure why) {
    failures.add(why);
    failedRecving.add(requestId);
  }

  /** Everything recorded since the last call. */
  public KvConnector.Finished poll() {
    Set<String> sending = drain(doneSending);
    Set<String> recving = drain(doneRecving);
    Set<String> failed = drain(failedRecving);
    if (sending.isEmpty() && recving.isEmpty() && failed.isEmpty()) {
      return KvConnector.Finished.NOTHING;
    }
    return new KvConnector.Finished(sending, recving, failed);
  }

  /** The failures recorded since the last call. */
  public List<KvConnector.LoadFailure> failures() {
    List<KvConnector.LoadFailure> out = new ArrayList<>();
    for (KvConnector.LoadFailure f; (f = failures.poll()) != null; ) {
      out.add(f);
    }
    return out;
  }

  private static Set<String> drain(ConcurrentLinkedQueue<String> queue) {
    Set<String> out = new HashSet<>();
    for (String id; (id = queue.poll()) != null; ) {
      out.add(id);
    }
    return out;
  }
}

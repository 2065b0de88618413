package dev.baton.engine.sched;

/** Where a request is in its life inside the engine. */
public enum RequestStatus {
  /** Queued for admission (new, or preempted and waiting to be recomputed). */
  WAITING,
  /** Holding blocks while a KV connector loads part of its prompt asynchronously. */
  WAITING_FOR_REMOTE_KVS,
  /** In the running batch. */
  RUNNING,
  /** Ended; its blocks are released (or handed to the connector until its send is done). */
  FINISHED
}

package dev.baton.gateway;

/** A leg failed before anything reached the client: the request may be tried again. */
final class LegFailure extends Exception {
  private static final long serialVersionUID = 1L;
  final transient Worker worker;
  final String leg;

  LegFailure(Worker worker, String leg, String message) {
    super(leg + " worker " + worker.url() + ": " + message, null, false, false);
    this.worker = worker;
    this.leg = leg;
  }
}

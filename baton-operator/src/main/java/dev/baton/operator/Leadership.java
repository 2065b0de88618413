package dev.baton.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfig;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.javaoperatorsdk.operator.Operator;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Leader election for several operator replicas: they compete for one {@code coordination.k8s.io}
 * Lease; only its holder runs the operator (informers and reconciles). A replica that loses the
 * Lease stops its operator and calls {@code onLost} (the CLI exits, so Kubernetes restarts it as a
 * follower). Followers start nothing: a take-over costs the informers' initial list, which is cheap
 * next to the lease duration.
 *
 * <p>fabric8's leader elector is used directly rather than JOSDK's built-in election: JOSDK warms
 * its informers in followers, and its start-up permission check (a SelfSubjectRulesReview) is one
 * more request to grant and to stand in for in tests.
 */
public final class Leadership implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(Leadership.class.getName());

  /** Lease timings: a dead leader is replaced within about {@code duration}. */
  public record Timing(Duration duration, Duration renewDeadline, Duration retryPeriod) {
    public static final Timing STANDARD =
        new Timing(Duration.ofSeconds(15), Duration.ofSeconds(10), Duration.ofSeconds(2));
  }

  private final KubernetesClient client;
  private final LeaderElectionConfig config;
  private volatile CompletableFuture<?> election;
  private volatile Operator operator;
  private volatile boolean closing;

  private Leadership(
      KubernetesClient client,
      String leaseNamespace,
      String identity,
      Timing timing,
      Supplier<Operator> startOperator,
      Runnable onLost) {
    this.client = client;
    this.config =
        new LeaderElectionConfigBuilder()
            .withName(OperatorMain.LEASE)
            .withLock(new LeaseLock(leaseNamespace, OperatorMain.LEASE, identity))
            .withLeaseDuration(timing.duration())
            .withRenewDeadline(timing.renewDeadline())
            .withRetryPeriod(timing.retryPeriod())
            .withReleaseOnCancel(true)
            .withLeaderCallbacks(
                new LeaderCallbacks(
                    () -> {
                      LOG.info(identity + " leads: starting the operator");
                      operator = startOperator.get();
                    },
                    () -> {
                      LOG.warning(identity + " stopped leading: stopping the operator");
                      stopOperator();
                      if (!closing) {
                        onLost.run();
                      }
                    },
                    leader -> LOG.info("operator leader: " + leader)))
            .build();
    compete();
  }

  /**
   * Runs one election; when it ends without {@link #close} (fabric8's elector gives up after an API
   * error such as losing a take-over race with a 409 Conflict), competes again, so a follower never
   * silently stops standing by.
   */
  private synchronized void compete() {
    if (closing) {
      return;
    }
    CompletableFuture<?> running = client.leaderElector().withConfig(config).build().start();
    election = running;
    running.whenComplete(
        (ignored, error) -> {
          if (!closing) {
            LOG.warning(
                "leader election ended"
                    + (error == null ? "" : " (" + error + ")")
                    + "; competing again");
            CompletableFuture.delayedExecutor(
                    config.getRetryPeriod().toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                .execute(this::compete);
          }
        });
  }

  /** Starts competing; the operator starts once (and each time) this replica holds the Lease. */
  public static Leadership start(
      KubernetesClient client,
      String leaseNamespace,
      String identity,
      Timing timing,
      Supplier<Operator> startOperator,
      Runnable onLost) {
    return new Leadership(client, leaseNamespace, identity, timing, startOperator, onLost);
  }

  private synchronized void stopOperator() {
    Operator running = operator;
    operator = null;
    if (running != null) {
      running.stop();
    }
  }

  /** Stops the operator and gives the Lease up (a follower takes over at once). */
  @Override
  public void close() {
    synchronized (this) {
      closing = true;
      election.cancel(true);
    }
    stopOperator();
  }
}

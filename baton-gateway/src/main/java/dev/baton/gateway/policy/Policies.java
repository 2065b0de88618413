package dev.baton.gateway.policy;

import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.random.RandomGenerator;

/** The routing policies by their stable config names. */
public final class Policies {

  /** What a policy may need when it is built. */
  public record Context(PrefixIndexConfig prefix, RandomGenerator random) {}

  private static final Map<String, Function<Context, RoutingPolicy>> FACTORIES =
      Map.of(
          "random", c -> new RandomPolicy(c.random()),
          "round-robin", c -> new RoundRobinPolicy(),
          "least-request", c -> new LeastRequestPolicy(c.random()),
          "least-kv-cache", c -> new LeastKvCachePolicy(),
          "power-of-two", c -> new PowerOfTwoPolicy(c.random()),
          "prefix-cache", c -> new PrefixCachePolicy(c.prefix(), c.random()),
          "session-affinity", c -> new SessionAffinityPolicy(c.random(), 100_000),
          "pd", c -> new PdPolicy(c.random()));

  private Policies() {}

  /** Every registered name, sorted. */
  public static TreeSet<String> names() {
    return new TreeSet<>(FACTORIES.keySet());
  }

  public static void requireKnown(String name) {
    if (!FACTORIES.containsKey(name)) {
      throw new IllegalArgumentException(
          "unknown routing policy '" + name + "' (known: " + String.join(", ", names()) + ")");
    }
  }

  public static RoutingPolicy create(String name, Context context) {
    requireKnown(name);
    return FACTORIES.get(name).apply(context);
  }
}

package dev.baton.control;

import dev.baton.core.Role;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link LaunchBackend} whose instances are entries in a map: the state a backend would observe
 * (processes, pods) without running anything. Tests play the outside world on it: an instance
 * becomes ready, fails or disappears. Its revision per role is what the test sets.
 */
final class InMemoryWorkers implements LaunchBackend {

  private final Map<String, Observed> instances = new LinkedHashMap<>();
  private final Map<Role, String> revisions = new EnumMap<>(Role.class);
  private final List<String> launched = new ArrayList<>();
  private final List<String> drained = new ArrayList<>();
  private int counter;

  InMemoryWorkers revision(Role role, String revision) {
    revisions.put(role, revision);
    return this;
  }

  @Override
  public List<Observed> observe() {
    return List.copyOf(instances.values());
  }

  @Override
  public String revision(WorkerIdentity worker) {
    return revisions.getOrDefault(worker.role(), "r1");
  }

  @Override
  public void launch(WorkerIdentity worker, String gang) {
    String name = worker.id() + "#" + ++counter;
    instances.put(name, new Observed(name, worker, revision(worker), Health.STARTING, gang));
    launched.add(name);
  }

  @Override
  public void drain(Observed instance) {
    instances.remove(instance.instance());
    drained.add(instance.instance());
  }

  /** Every instance (of {@code idPrefix}, e.g. {@code g1-}) becomes ready. */
  void ready(String idPrefix) {
    set(idPrefix, Health.READY);
  }

  void fail(String idPrefix) {
    set(idPrefix, Health.FAILED);
  }

  /** The instance vanishes without a trace (a deleted pod, a process and its record gone). */
  void lose(String idPrefix) {
    instances.values().removeIf(o -> o.worker().id().startsWith(idPrefix));
  }

  private void set(String idPrefix, Health health) {
    instances.replaceAll(
        (name, o) ->
            o.worker().id().startsWith(idPrefix)
                ? new Observed(name, o.worker(), o.revision(), health, o.gang())
                : o);
  }

  /** Worker ids of the live instances, in launch order. */
  List<String> workers() {
    return instances.values().stream().map(o -> o.worker().id()).toList();
  }

  List<String> instances() {
    return List.copyOf(instances.keySet());
  }

  /** Launched instance names since the last call. */
  List<String> takeLaunched() {
    List<String> out = List.copyOf(launched);
    launched.clear();
    return out;
  }

  List<String> takeDrained() {
    List<String> out = List.copyOf(drained);
    drained.clear();
    return out;
  }
}

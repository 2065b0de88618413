package dev.baton.operator;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the operator reports: phase, ready workers per role and group, the gateway URL, conditions
 * ({@code SpecValid}, {@code Ready}, {@code Progressing}), the generation they describe, and the
 * scale subresource's {@code replicas} and {@code selector}. A Jackson bean because the fabric8
 * client (de)serializes it.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class BatonClusterStatus {

  private String phase;
  private Long observedGeneration;
  private Integer replicas;
  private String selector;
  private String gatewayUrl;
  private Map<String, Integer> readyWorkers = new LinkedHashMap<>();
  private Map<String, Integer> desiredWorkers = new LinkedHashMap<>();
  private Map<String, Integer> readyGroups = new LinkedHashMap<>();
  private List<Condition> conditions = new ArrayList<>();

  public String getPhase() {
    return phase;
  }

  public void setPhase(String phase) {
    this.phase = phase;
  }

  public Long getObservedGeneration() {
    return observedGeneration;
  }

  public void setObservedGeneration(Long observedGeneration) {
    this.observedGeneration = observedGeneration;
  }

  public Integer getReplicas() {
    return replicas;
  }

  public void setReplicas(Integer replicas) {
    this.replicas = replicas;
  }

  public String getSelector() {
    return selector;
  }

  public void setSelector(String selector) {
    this.selector = selector;
  }

  public String getGatewayUrl() {
    return gatewayUrl;
  }

  public void setGatewayUrl(String gatewayUrl) {
    this.gatewayUrl = gatewayUrl;
  }

  /** Ready workers per role ({@code prefill}, {@code decode}, {@code both}). */
  public Map<String, Integer> getReadyWorkers() {
    return readyWorkers;
  }

  public void setReadyWorkers(Map<String, Integer> readyWorkers) {
    this.readyWorkers = readyWorkers;
  }

  public Map<String, Integer> getDesiredWorkers() {
    return desiredWorkers;
  }

  public void setDesiredWorkers(Map<String, Integer> desiredWorkers) {
    this.desiredWorkers = desiredWorkers;
  }

  /** Ready workers per replica-mode group ({@code g0}, ...). */
  public Map<String, Integer> getReadyGroups() {
    return readyGroups;
  }

  public void setReadyGroups(Map<String, Integer> readyGroups) {
    this.readyGroups = readyGroups;
  }

  public List<Condition> getConditions() {
    return conditions;
  }

  public void setConditions(List<Condition> conditions) {
    this.conditions = conditions;
  }

  /** The condition of {@code type}, or {@code null}. */
  public Condition condition(String type) {
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
  }
}

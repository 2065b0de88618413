package dev.baton.gateway.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.gateway.Worker;

/** Plain proxying: one worker computes the prompt and the answer; the body passes unchanged. */
public final class ColocatedProtocol implements PdProtocol {

  public static final String NAME = "colocated";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean hasPrefillLeg() {
    return false;
  }

  @Override
  public boolean concurrentLegs() {
    return false;
  }

  @Override
  public ObjectNode prefillRequest(ObjectNode client, Worker prefill) {
    throw new IllegalStateException("colocated serving has no prefill leg");
  }

  @Override
  public ObjectNode decodeRequest(
      ObjectNode client, Worker prefill, ObjectNode prefillRequest, JsonNode prefillAnswer) {
    return client;
  }

  @Override
  public boolean migratable() {
    return true;
  }
}

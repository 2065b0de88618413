package dev.baton.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.OpenAiError;
import dev.baton.gateway.Exchange.ClientGone;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A P/D request with several prompts or {@code n > 1}, split into one request per prompt and sample
 * and merged back into one answer. A prefill answer's {@code kv_transfer_params} describe one
 * sequence's KV (one lease, one set of blocks), so an engine that receives a batch or {@code n > 1}
 * with them would pull one prompt's KV for every copy (vLLM) or only release one lease (Baton).
 * Each part runs its own {@link ProxyFlow} (pair selection, retries, migration), so each part gets
 * its own lease, pulled and released by exactly one decode sequence.
 *
 * <p>Sample {@code i} of a request with a {@code seed} gets {@code seed + i}, as a Baton worker
 * seeds its own samples; choices come back indexed {@code prompt * n + sample}, as the engines
 * number them, and the usage counts each prompt once.
 */
final class PdFanOut {

  /** More parts than this is refused: each holds a prefill lease and a decode slot. */
  static final int MAX_PARTS = 128;

  private final FlowContext ctx;
  private final GatewayConfig config;
  private final ClientCall call;
  private final Exchange client;
  private final List<ObjectNode> parts;
  private final int samples;

  private PdFanOut(
      FlowContext ctx,
      GatewayConfig config,
      ClientCall call,
      Exchange client,
      List<ObjectNode> parts,
      int samples) {
    this.ctx = ctx;
    this.config = config;
    this.call = call;
    this.client = client;
    this.parts = parts;
    this.samples = samples;
  }

  /**
   * The fan-out for {@code call}, or null when it holds one prompt and one sample (or is malformed
   * in a way the worker will explain: the request then goes on unsplit).
   *
   * @throws IllegalArgumentException when it would split into more than {@link #MAX_PARTS}
   */
  static PdFanOut of(FlowContext ctx, GatewayConfig config, ClientCall call, Exchange client) {
    ObjectNode body = call.body();
    JsonNode nNode = body.get("n");
    int n = 1;
    if (nNode != null && !nNode.isNull()) {
      if (!nNode.isIntegralNumber() || !nNode.canConvertToInt() || nNode.asInt() < 1) {
        return null;
      }
      n = nNode.asInt();
    }
    List<JsonNode> prompts = call.chat() ? null : prompts(body.get("prompt"));
    int promptCount = call.chat() ? 1 : prompts == null ? 0 : prompts.size();
    if (promptCount == 0 || (long) promptCount * n <= 1) {
      return null;
    }
    if ((long) promptCount * n > MAX_PARTS) {
      throw new IllegalArgumentException(
          promptCount
              + " prompts x n="
              + n
              + " would need "
              + ((long) promptCount * n)
              + " prefill/decode pairs; a disaggregated pool takes at most "
              + MAX_PARTS
              + " per request");
    }
    List<ObjectNode> parts = new ArrayList<>();
    for (int p = 0; p < promptCount; p++) {
      for (int i = 0; i < n; i++) {
        ObjectNode part = body.deepCopy();
        if (!call.chat()) {
          part.set("prompt", prompts.get(p));
        }
        part.remove("n");
        JsonNode seed = part.get("seed");
        if (seed != null && seed.isIntegralNumber() && seed.canConvertToLong() && i > 0) {
          part.put("seed", seed.asLong() + i);
        }
        parts.add(part);
      }
    }
    return new PdFanOut(ctx, config, call, client, parts, n);
  }

  /**
   * The prompts of a completions request: one for a string or a list of token ids, one per item for
   * a list of strings or of token lists; null when the shape is not one of these.
   */
  static List<JsonNode> prompts(JsonNode prompt) {
    if (prompt == null || prompt.isNull()) {
      return null;
    }
    if (prompt.isTextual()) {
      return List.of(prompt);
    }
    if (!prompt.isArray() || prompt.isEmpty()) {
      return null;
    }
    boolean allInts = true;
    boolean allBatchItems = true;
    for (JsonNode item : prompt) {
      allInts &= item.isIntegralNumber();
      allBatchItems &= item.isTextual() || item.isArray();
    }
    if (allInts) {
      return List.of(prompt);
    }
    if (!allBatchItems) {
      return null;
    }
    List<JsonNode> out = new ArrayList<>();
    prompt.forEach(out::add);
    return out;
  }

  /** Runs every part, merges their answers for the client, returns the client's status. */
  int run() {
    boolean stream = call.stream();
    Merger merger = new Merger();
    List<CompletableFuture<Part>> running = new ArrayList<>();
    for (int k = 0; k < parts.size(); k++) {
      Part part = new Part(k, merger, stream);
      ObjectNode body = parts.get(k);
      ClientCall partCall =
          new ClientCall(
              body,
              ProxyFlow.bytes(body),
              call.path(),
              call.pool(),
              call.protocol(),
              ctx.route(call.pool(), body, call.chat(), call.route().sessionId()),
              call.startNanos(),
              call.requestId() + "-" + k);
      running.add(
          CompletableFuture.supplyAsync(
              () -> {
                new ProxyFlow(ctx, config, partCall, part).run();
                return part;
              },
              ctx.executor()));
    }
    List<Part> done = new ArrayList<>();
    for (CompletableFuture<Part> f : running) {
      done.add(f.join());
    }
    try {
      return stream ? merger.endStream(done) : answerWhole(done);
    } catch (ClientGone gone) {
      ctx.metrics().clientDisconnects.inc();
      return 499;
    }
  }

  private int answerWhole(List<Part> done) throws ClientGone {
    for (Part p : done) {
      if (p.status != 200) {
        client.sendAnswer(p.status, p.contentType, p.answer, null, null);
        return p.status;
      }
    }
    ObjectNode merged;
    try {
      merged = merge(done);
    } catch (IOException | RuntimeException e) {
      client.sendError(
          502, "a worker's answer could not be merged: " + e.getMessage(), "upstream_error");
      return 502;
    }
    client.sendAnswer(
        200, "application/json", Json.write(merged).getBytes(StandardCharsets.UTF_8), null, null);
    return 200;
  }

  private ObjectNode merge(List<Part> done) throws IOException {
    ObjectNode root = null;
    ArrayNode choices = null;
    Usage usage = new Usage();
    for (Part p : done) {
      ObjectNode answer = (ObjectNode) Json.MAPPER.readTree(p.answer);
      if (root == null) {
        root = answer.deepCopy();
        choices = root.putArray("choices");
      }
      for (JsonNode c : answer.path("choices")) {
        ObjectNode choice = (ObjectNode) c.deepCopy();
        choice.put("index", p.index + c.path("index").asInt(0));
        choices.add(choice);
      }
      usage.add(answer.path("usage"), p.index % samples == 0);
    }
    if (root.has("usage")) {
      root.set("usage", usage.toJson());
    }
    if (root.has("kv_transfer_params")) {
      root.putNull("kv_transfer_params");
    }
    return root;
  }

  /** Usage summed over the parts; a prompt's tokens count once however many samples it has. */
  private static final class Usage {
    long prompt;
    long completion;
    long cached;
    boolean hasCached;

    void add(JsonNode u, boolean firstSampleOfItsPrompt) {
      if (firstSampleOfItsPrompt) {
        prompt += u.path("prompt_tokens").asLong(0);
        JsonNode c = u.path("prompt_tokens_details").path("cached_tokens");
        if (c.isNumber()) {
          hasCached = true;
          cached += c.asLong();
        }
      }
      completion += u.path("completion_tokens").asLong(0);
    }

    ObjectNode toJson() {
      ObjectNode u = Json.object();
      u.put("prompt_tokens", prompt);
      u.put("total_tokens", prompt + completion);
      u.put("completion_tokens", completion);
      if (hasCached) {
        u.putObject("prompt_tokens_details").put("cached_tokens", cached);
      }
      return u;
    }
  }

  /**
   * The client's stream, written by all parts at once: chunks keep their order per part and get
   * their choice index and the request's id rewritten; each part's usage chunk and {@code [DONE]}
   * are held back and one of each is sent when every part has ended.
   */
  private final class Merger {
    private volatile boolean cancelled;
    private boolean clientGone;
    private String id;
    private ObjectNode usageTemplate;
    private final Usage usage = new Usage();

    synchronized void write(Part part, JsonNode chunk, Worker prefill, Worker decode)
        throws ClientGone {
      if (clientGone || cancelled) {
        throw new ClientGone(null);
      }
      if (chunk.isObject() && chunk.has("choices")) {
        ObjectNode c = (ObjectNode) chunk;
        if (id == null) {
          id = c.path("id").asText(null);
        } else if (c.has("id")) {
          c.put("id", id);
        }
        if (c.get("choices").isEmpty() && c.has("usage")) {
          usage.add(c.get("usage"), part.index % samples == 0);
          usageTemplate = c;
          return;
        }
        for (JsonNode choice : c.get("choices")) {
          ((ObjectNode) choice).put("index", part.index + choice.path("index").asInt(0));
        }
      }
      try {
        client.writeEvent(
            ("data: " + Json.write(chunk) + "\n\n").getBytes(StandardCharsets.UTF_8),
            prefill,
            decode);
      } catch (ClientGone e) {
        clientGone = true;
        throw e;
      }
    }

    /** A part failed for good: the others stop at their next write. */
    void cancel() {
      cancelled = true;
    }

    synchronized int endStream(List<Part> done) throws ClientGone {
      if (clientGone) {
        throw new ClientGone(null);
      }
      Part failed = null;
      for (Part p : done) {
        if (p.status != 200 && p.status != 499) {
          failed = p;
          break;
        }
      }
      if (failed != null && !client.streaming()) {
        client.sendAnswer(failed.status, failed.contentType, failed.answer, null, null);
        return failed.status;
      }
      if (failed != null) {
        client.status(failed.status);
        if (failed.answer != null) {
          client.writeEvent(sse(failed.answer), null, null);
        }
      } else if (usageTemplate != null) {
        usageTemplate.set("usage", usage.toJson());
        client.writeEvent(
            ("data: " + Json.write(usageTemplate) + "\n\n").getBytes(StandardCharsets.UTF_8),
            null,
            null);
      }
      client.writeEvent(StreamRelay.DONE, null, null);
      client.finishStream();
      return client.status();
    }

    private static byte[] sse(byte[] json) {
      String one = new String(json, StandardCharsets.UTF_8).replace('\n', ' ');
      return ("data: " + one + "\n\n").getBytes(StandardCharsets.UTF_8);
    }
  }

  /**
   * One part's end of its flow: a whole answer is kept for the merge; a stream's events go to the
   * merger as they come; an error is kept (and, for streams, stops the other parts).
   */
  private static final class Part implements Exchange {
    final int index;
    private final Merger merger;
    private final boolean stream;
    private boolean streaming;
    int status = 200;
    String contentType;
    byte[] answer;

    Part(int index, Merger merger, boolean stream) {
      this.index = index;
      this.merger = merger;
      this.stream = stream;
    }

    @Override
    public int status() {
      return status;
    }

    @Override
    public void status(int code) {
      status = code;
      if (code != 200 && stream) {
        merger.cancel();
      }
    }

    @Override
    public boolean streaming() {
      return streaming;
    }

    @Override
    public void sendAnswer(
        int code, String contentType, byte[] answer, Worker prefill, Worker decode) {
      this.contentType = contentType;
      this.answer = answer;
      status(code);
    }

    @Override
    public void writeEvent(byte[] bytes, Worker prefill, Worker decode) throws ClientGone {
      streaming = true;
      for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
        if (!line.startsWith("data:")) {
          continue; // comments and blank lines: the merged stream writes its own framing
        }
        String data = line.substring(5).trim();
        if (data.equals("[DONE]")) {
          continue;
        }
        JsonNode chunk;
        try {
          chunk = Json.MAPPER.readTree(data);
        } catch (IOException e) {
          continue; // not JSON: nothing a client could use
        }
        if (chunk.has("error") && !chunk.has("choices")) {
          // The part's flow gave up mid-stream: keep the error for the end of the merged stream.
          answer = data.getBytes(StandardCharsets.UTF_8);
          status(status == 200 ? 502 : status);
          continue;
        }
        merger.write(this, chunk, prefill, decode);
      }
    }

    @Override
    public void finishStream() {}

    @Override
    public void sendError(int code, String message, String type) {
      contentType = "application/json";
      answer =
          Json.write(new OpenAiError(message, type, null, null).toJson())
              .getBytes(StandardCharsets.UTF_8);
      status(code);
    }
  }
}

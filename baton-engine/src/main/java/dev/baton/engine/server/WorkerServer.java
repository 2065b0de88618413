package dev.baton.engine.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.Usage;
import dev.baton.engine.sched.Engine;
import dev.baton.engine.sched.EngineEvent;
import dev.baton.engine.sched.EngineRequest;
import dev.baton.engine.sched.FinishReason;
import dev.baton.engine.sched.RequestOptions;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.Handler;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The worker's OpenAI-compatible HTTP API on Helidon SE (one virtual thread per request). Handlers
 * validate and tokenize, hand {@link EngineRequest}s to the {@link Engine}, and turn the events
 * that come back into vLLM-shaped JSON or Server-Sent Events. A stream whose client is gone aborts
 * its requests at the next write, which frees their blocks before the next engine step.
 */
public final class WorkerServer implements AutoCloseable {

  private static final Logger LOG = Logger.getLogger(WorkerServer.class.getName());
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);

  private final ServerConfig config;
  private final Engine engine;
  private final ModelText text;
  private final SamplerFactory samplers;
  private final EngineMetrics metrics;
  private final long createdAt = System.currentTimeMillis() / 1000;
  private final byte[] apiKey;
  private WebServer server;

  public WorkerServer(
      ServerConfig config,
      Engine engine,
      ModelText text,
      SamplerFactory samplers,
      EngineMetrics metrics) {
    this.config = config;
    this.engine = engine;
    this.text = text;
    this.samplers = samplers;
    this.metrics = metrics;
    this.apiKey = config.apiKey() == null ? null : config.apiKey().getBytes(StandardCharsets.UTF_8);
  }

  /** Starts listening; returns this. */
  public WorkerServer start() {
    server =
        WebServer.builder()
            .host(config.host())
            .port(config.port())
            // Each SSE event is one small write: without TCP_NODELAY, Nagle's algorithm and the
            // client's delayed ACK hold it back ~40 ms.
            .connectionOptions(o -> o.tcpNoDelay(true))
            .routing(this::routes)
            .build()
            .start();
    return this;
  }

  /** The port actually bound. */
  public int port() {
    return server.port();
  }

  private void routes(HttpRouting.Builder r) {
    r.get("/health", guarded(false, (req, res) -> res.status(200).send()))
        .get("/metrics", guarded(false, this::metricsRoute))
        .get("/v1/models", guarded(true, this::models))
        .post("/v1/completions", guarded(true, (req, res) -> generate(req, res, false)))
        .post("/v1/chat/completions", guarded(true, (req, res) -> generate(req, res, true)))
        .post("/tokenize", guarded(true, this::tokenize))
        .post("/detokenize", guarded(true, this::detokenize))
        .any(
            guarded(
                false,
                (req, res) -> {
                  throw new ApiException(
                      404,
                      "no route " + req.prologue().method().text() + " " + req.path().path(),
                      null,
                      null);
                }));
  }

  /** Wraps a handler with the API key check and the error-to-JSON mapping. */
  private Handler guarded(boolean auth, Handler h) {
    return (req, res) -> {
      try {
        if (auth && apiKey != null && !authorized(req)) {
          throw new ApiException(401, "invalid or missing API key", null, "invalid_api_key");
        }
        h.handle(req, res);
      } catch (ApiException e) {
        sendError(res, e.status(), e.toJson());
      } catch (ClientGoneException e) {
        // nothing to answer: the client closed the connection
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "request failed", e);
        sendError(res, 500, ApiException.body(500, "internal error: " + e, null, null));
      }
    };
  }

  private boolean authorized(ServerRequest req) {
    String h = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
    if (!h.startsWith("Bearer ")) {
      return false;
    }
    byte[] given = h.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(given, apiKey);
  }

  private static void sendError(ServerResponse res, int status, ObjectNode body) {
    if (res.isSent()) {
      return;
    }
    if (status == 429 || status == 503) {
      res.header("Retry-After", "1");
    }
    sendJson(res.status(status), body);
  }

  private static void sendJson(ServerResponse res, JsonNode body) {
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(Json.write(body).getBytes(StandardCharsets.UTF_8));
  }

  private JsonNode readJson(ServerRequest req) {
    long declared = req.headers().contentLength().orElse(-1);
    if (declared > config.maxBodyBytes()) {
      throw tooLarge();
    }
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (InputStream in = req.content().inputStream()) {
      byte[] chunk = new byte[16384];
      int n;
      while ((n = in.read(chunk)) > 0) {
        buf.write(chunk, 0, n);
        if (buf.size() > config.maxBodyBytes()) {
          throw tooLarge();
        }
      }
    } catch (IOException | UncheckedIOException e) {
      throw ApiException.badRequest(null, "cannot read the request body: " + e.getMessage());
    }
    if (buf.size() == 0) {
      throw ApiException.badRequest(null, "the request body is empty");
    }
    try {
      return Json.parse(buf.toString(StandardCharsets.UTF_8));
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest(null, e.getMessage());
    }
  }

  private ApiException tooLarge() {
    return new ApiException(
        413, "request body exceeds " + config.maxBodyBytes() + " bytes", null, "payload_too_large");
  }

  private void metricsRoute(ServerRequest req, ServerResponse res) {
    res.header(HeaderNames.CONTENT_TYPE, EngineMetrics.contentType());
    res.send(metrics.scrape());
  }

  private void models(ServerRequest req, ServerResponse res) {
    ObjectNode root = Json.object();
    root.put("object", "list");
    ObjectNode m = root.putArray("data").addObject();
    m.put("id", config.servedModelName());
    m.put("object", "model");
    m.put("created", createdAt);
    m.put("owned_by", "baton");
    m.put("root", config.servedModelName());
    m.putNull("parent");
    m.put("max_model_len", engine.config().maxModelLen());
    m.putArray("permission");
    sendJson(res, root);
  }

  private void checkModel(JsonNode body) {
    JsonNode model = body.get("model");
    if (model != null && !model.isNull() && !config.servedModelName().equals(model.asText())) {
      throw new ApiException(
          404, "The model `" + model.asText() + "` does not exist.", "model", "model_not_found");
    }
  }

  private void tokenize(ServerRequest req, ServerResponse res) {
    JsonNode body = readJson(req);
    if (!body.isObject()) {
      throw ApiException.badRequest(null, "the request body must be a JSON object");
    }
    checkModel(body);
    int[] tokens;
    if (body.has("messages")) {
      tokens =
          GenerationRequest.parse(body, true, text, config.servedModelName(), Integer.MAX_VALUE)
              .prompts()
              .getFirst();
    } else {
      String prompt = GenerationRequest.optString(body, "prompt");
      if (prompt == null) {
        throw ApiException.badRequest("prompt", "'prompt' (a string) or 'messages' is required");
      }
      tokens = text.encode(prompt, GenerationRequest.optBool(body, "add_special_tokens", true));
    }
    ObjectNode root = Json.object();
    root.put("count", tokens.length);
    root.put("max_model_len", engine.config().maxModelLen());
    ArrayNode arr = root.putArray("tokens");
    for (int t : tokens) {
      arr.add(t);
    }
    root.putNull("token_strs");
    sendJson(res, root);
  }

  private void detokenize(ServerRequest req, ServerResponse res) {
    JsonNode body = readJson(req);
    if (!body.isObject()) {
      throw ApiException.badRequest(null, "the request body must be a JSON object");
    }
    checkModel(body);
    JsonNode arr = body.get("tokens");
    if (arr == null || !arr.isArray()) {
      throw ApiException.badRequest("tokens", "'tokens' must be a list of token ids");
    }
    int[] ids = new int[arr.size()];
    for (int i = 0; i < ids.length; i++) {
      JsonNode t = arr.get(i);
      if (!t.isIntegralNumber()
          || !t.canConvertToInt()
          || t.asInt() < 0
          || t.asInt() >= text.vocabSize()) {
        throw ApiException.badRequest(
            "tokens", "token ids must be in [0, " + text.vocabSize() + ")");
      }
      ids[i] = t.asInt();
    }
    ObjectNode root = Json.object();
    root.put("prompt", text.decode(ids));
    sendJson(res, root);
  }

  // ---------------------------------------------------------------- generation

  /** One choice of a response: which prompt it continues and the engine request producing it. */
  private record Choice(int index, int promptIndex, int[] prompt, EngineRequest request) {}

  /** Thrown when writing to a client that has disconnected. */
  private static final class ClientGoneException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ClientGoneException(Throwable cause) {
      super("client disconnected", cause, false, false);
    }
  }

  private void generate(ServerRequest req, ServerResponse res, boolean chat) {
    JsonNode body = readJson(req);
    GenerationRequest g =
        GenerationRequest.parse(
            body, chat, text, config.servedModelName(), engine.config().maxModelLen());
    String id = (chat ? "chatcmpl-" : "cmpl-") + HexFormat.of().formatHex(randomBytes());
    long created = System.currentTimeMillis() / 1000;
    List<Choice> choices = submit(g, id);
    try {
      if (g.stream()) {
        stream(res, g, id, created, choices);
      } else {
        respond(res, g, id, created, choices);
      }
    } finally {
      for (Choice c : choices) {
        engine.abort(c.request()); // no-op for requests that already ended
      }
    }
  }

  private static byte[] randomBytes() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return b;
  }

  private List<Choice> submit(GenerationRequest g, String id) {
    List<Choice> choices = new ArrayList<>();
    int index = 0;
    for (int p = 0; p < g.prompts().size(); p++) {
      for (int i = 0; i < g.n(); i++) {
        SamplingSettings s = g.sampling();
        if (s.seed() != null) {
          s = s.withSeed(s.seed() + i);
        }
        RequestOptions options =
            new RequestOptions(
                g.maxTokens(),
                g.minTokens(),
                g.ignoreEos(),
                text.eosTokenIds(),
                g.stop(),
                g.stopTokenIds(),
                g.logprobs(),
                g.cacheSalt(),
                g.kvTransferParams());
        int[] prompt = g.prompts().get(p);
        EngineRequest r =
            new EngineRequest(
                id + "-" + index, prompt, options, samplers.create(s), text.detokenizer());
        try {
          engine.submit(r);
        } catch (Engine.OverloadedException e) {
          for (Choice c : choices) {
            engine.abort(c.request());
          }
          metrics.onRejected();
          throw new ApiException(429, "server busy: " + e.getMessage(), null, "too_many_requests");
        }
        choices.add(new Choice(index, p, prompt, r));
        index++;
      }
    }
    return choices;
  }

  /** Everything one choice produced, gathered for a non-streaming response. */
  private static final class Collected {
    final StringBuilder text = new StringBuilder();
    final List<EngineEvent.Token> tokens = new ArrayList<>();
    EngineEvent.Finished end;
  }

  private static EngineEvent take(BlockingQueue<EngineEvent> q) {
    try {
      return q.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the engine", e);
    }
  }

  private void respond(
      ServerResponse res, GenerationRequest g, String id, long created, List<Choice> choices) {
    List<Collected> all = new ArrayList<>();
    for (Choice c : choices) {
      Collected col = new Collected();
      while (col.end == null) {
        EngineEvent e = take(c.request().events());
        if (e instanceof EngineEvent.Token t) {
          col.tokens.add(t);
          col.text.append(t.text());
          col.end = t.end();
        } else {
          col.end = (EngineEvent.Finished) e;
        }
      }
      if (col.end.reason() == FinishReason.ERROR) {
        throw col.end.retryable()
            ? new ApiException(503, col.end.error(), null, "kv_transfer_failed")
            : new ApiException(500, col.end.error(), null, "engine_error");
      }
      all.add(col);
    }
    ObjectNode root = Json.object();
    root.put("id", id);
    root.put("object", g.chat() ? "chat.completion" : "text_completion");
    root.put("created", created);
    root.put("model", config.servedModelName());
    ArrayNode arr = root.putArray("choices");
    int promptTokens = 0;
    int cached = 0;
    int completionTokens = 0;
    JsonNode kv = null;
    for (int i = 0; i < choices.size(); i++) {
      Choice c = choices.get(i);
      Collected col = all.get(i);
      ObjectNode ch = arr.addObject();
      ch.put("index", c.index());
      if (g.chat()) {
        ObjectNode msg = ch.putObject("message");
        msg.put("role", "assistant");
        msg.put("content", col.text.toString());
        msg.putArray("tool_calls");
        ch.set("logprobs", g.logprobs() < 0 ? null : chatLogprobs(col.tokens, g.logprobs()));
      } else {
        ch.put("text", col.text.toString());
        ch.set("logprobs", g.logprobs() < 0 ? null : completionLogprobs(col.tokens, 0));
      }
      ch.put("finish_reason", finishReason(col.end));
      putStopReason(ch, col.end);
      if (g.returnTokenIds()) {
        ArrayNode ids = ch.putArray("token_ids");
        col.tokens.forEach(t -> ids.add(t.tokenId()));
        if (!g.chat()) {
          ch.set("prompt_token_ids", intArray(c.prompt()));
        }
      }
      if (i % g.n() == 0) {
        promptTokens += col.end.promptTokens();
        cached += col.end.cachedTokens();
      }
      completionTokens += col.end.completionTokens();
      if (kv == null) {
        kv = col.end.kvTransferParams();
      }
    }
    root.set("usage", new Usage(promptTokens, completionTokens, cached).toJson());
    if (g.chat() && g.returnTokenIds()) {
      root.set("prompt_token_ids", intArray(choices.getFirst().prompt()));
    }
    root.set("kv_transfer_params", kv);
    sendJson(res, root);
  }

  private static String finishReason(EngineEvent.Finished end) {
    return end.reason() == FinishReason.LENGTH ? "length" : end.reason().apiName;
  }

  private static void putStopReason(ObjectNode ch, EngineEvent.Finished end) {
    if (end.stopReason() instanceof Integer i) {
      ch.put("stop_reason", i);
    } else if (end.stopReason() instanceof String s) {
      ch.put("stop_reason", s);
    } else {
      ch.putNull("stop_reason");
    }
  }

  private static ArrayNode intArray(int[] a) {
    ArrayNode arr = Json.MAPPER.createArrayNode();
    for (int v : a) {
      arr.add(v);
    }
    return arr;
  }

  private ObjectNode completionLogprobs(List<EngineEvent.Token> tokens, int textOffset) {
    ObjectNode lp = Json.object();
    ArrayNode offsets = lp.putArray("text_offset");
    ArrayNode values = lp.putArray("token_logprobs");
    ArrayNode strs = lp.putArray("tokens");
    ArrayNode tops = lp.putArray("top_logprobs");
    int offset = textOffset;
    for (EngineEvent.Token t : tokens) {
      String s = text.tokenText(t.tokenId());
      offsets.add(offset);
      offset += t.text().length();
      values.add(t.logprob());
      strs.add(s);
      ObjectNode top = tops.addObject();
      for (int k = 0; k < t.topIds().length; k++) {
        top.put(text.tokenText(t.topIds()[k]), t.topLogprobs()[k]);
      }
      top.put(s, t.logprob());
    }
    return lp;
  }

  private ObjectNode chatLogprobs(List<EngineEvent.Token> tokens, int top) {
    ObjectNode lp = Json.object();
    ArrayNode content = lp.putArray("content");
    for (EngineEvent.Token t : tokens) {
      ObjectNode item = content.addObject();
      String s = text.tokenText(t.tokenId());
      item.put("token", s);
      item.put("logprob", t.logprob());
      item.set("bytes", bytes(s));
      ArrayNode alts = item.putArray("top_logprobs");
      for (int k = 0; k < Math.min(top, t.topIds().length); k++) {
        ObjectNode alt = alts.addObject();
        String as = text.tokenText(t.topIds()[k]);
        alt.put("token", as);
        alt.put("logprob", t.topLogprobs()[k]);
        alt.set("bytes", bytes(as));
      }
    }
    return lp;
  }

  private static ArrayNode bytes(String s) {
    ArrayNode arr = Json.MAPPER.createArrayNode();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      arr.add(b & 0xff);
    }
    return arr;
  }

  // ---------------------------------------------------------------- streaming

  /** An event of one choice, tagged with the choice's position in the list. */
  private record Tagged(int choice, EngineEvent event) {}

  private void stream(
      ServerResponse res, GenerationRequest g, String id, long created, List<Choice> choices) {
    BlockingQueue<Tagged> merged = new LinkedBlockingQueue<>();
    List<Thread> forwarders = new ArrayList<>();
    if (choices.size() > 1) {
      for (int i = 0; i < choices.size(); i++) {
        int which = i;
        BlockingQueue<EngineEvent> q = choices.get(i).request().events();
        forwarders.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        while (true) {
                          EngineEvent e = q.take();
                          merged.add(new Tagged(which, e));
                          if (e instanceof EngineEvent.Finished
                              || (e instanceof EngineEvent.Token t && t.end() != null)) {
                            return;
                          }
                        }
                      } catch (InterruptedException ex) {
                        Thread.currentThread().interrupt();
                      }
                    }));
      }
    }
    res.header(HeaderNames.CONTENT_TYPE, "text/event-stream");
    res.header(HeaderNames.CACHE_CONTROL, "no-cache");
    OutputStream out = res.outputStream();
    try {
      if (g.chat()) {
        for (Choice c : choices) {
          ObjectNode chunk = chunk(g, id, created);
          ObjectNode ch = ((ArrayNode) chunk.get("choices")).addObject();
          ch.put("index", c.index());
          ObjectNode delta = ch.putObject("delta");
          delta.put("role", "assistant");
          delta.put("content", "");
          ch.putNull("logprobs");
          ch.putNull("finish_reason");
          if (g.returnTokenIds()) {
            chunk.set("prompt_token_ids", intArray(c.prompt()));
          }
          write(out, chunk);
        }
      }
      int open = choices.size();
      int[] completion = new int[choices.size()];
      int[] textOffset = new int[choices.size()];
      int promptTokens = 0;
      int cached = 0;
      boolean[] sentPromptIds = new boolean[choices.size()];
      while (open > 0) {
        Tagged tagged =
            choices.size() == 1
                ? new Tagged(0, take(choices.getFirst().request().events()))
                : takeTagged(merged);
        Choice c = choices.get(tagged.choice());
        EngineEvent.Token token = tagged.event() instanceof EngineEvent.Token t ? t : null;
        EngineEvent.Finished end =
            token != null ? token.end() : (EngineEvent.Finished) tagged.event();
        if (end != null && end.reason() == FinishReason.ERROR) {
          write(
              out,
              end.retryable()
                  ? ApiException.body(503, end.error(), null, "kv_transfer_failed")
                  : ApiException.body(500, end.error(), null, "engine_error"));
          break;
        }
        ObjectNode chunk = chunk(g, id, created);
        ObjectNode ch = ((ArrayNode) chunk.get("choices")).addObject();
        ch.put("index", c.index());
        String piece = token == null ? "" : token.text();
        if (g.chat()) {
          ch.putObject("delta").put("content", piece);
          ch.set(
              "logprobs",
              token == null || g.logprobs() < 0
                  ? null
                  : chatLogprobs(List.of(token), g.logprobs()));
        } else {
          ch.put("text", piece);
          ch.set(
              "logprobs",
              token == null || g.logprobs() < 0
                  ? null
                  : completionLogprobs(List.of(token), textOffset[tagged.choice()]));
        }
        textOffset[tagged.choice()] += piece.length();
        if (end == null) {
          ch.putNull("finish_reason");
          ch.putNull("stop_reason");
        } else {
          ch.put("finish_reason", finishReason(end));
          putStopReason(ch, end);
        }
        if (g.returnTokenIds()) {
          ArrayNode ids = ch.putArray("token_ids");
          if (token != null) {
            ids.add(token.tokenId());
          }
          if (!g.chat() && !sentPromptIds[tagged.choice()]) {
            ch.set("prompt_token_ids", intArray(c.prompt()));
            sentPromptIds[tagged.choice()] = true;
          }
        }
        if (end != null) {
          open--;
          completion[tagged.choice()] = end.completionTokens();
          if (tagged.choice() % g.n() == 0) {
            promptTokens += end.promptTokens();
            cached += end.cachedTokens();
          }
          if (end.kvTransferParams() != null) {
            chunk.set("kv_transfer_params", end.kvTransferParams());
          }
        }
        if (token != null || end != null) {
          write(out, chunk);
        }
      }
      if (g.includeUsage()) {
        ObjectNode last = chunk(g, id, created);
        int total = 0;
        for (int v : completion) {
          total += v;
        }
        last.set("usage", new Usage(promptTokens, total, cached).toJson());
        write(out, last);
      }
      out.write(DONE);
      out.flush();
      out.close();
    } catch (IOException | UncheckedIOException e) {
      throw new ClientGoneException(e); // generate()'s finally aborts the requests
    } finally {
      forwarders.forEach(Thread::interrupt);
    }
  }

  private static Tagged takeTagged(BlockingQueue<Tagged> q) {
    try {
      return q.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while streaming", e);
    }
  }

  private ObjectNode chunk(GenerationRequest g, String id, long created) {
    ObjectNode chunk = Json.object();
    chunk.put("id", id);
    chunk.put("object", g.chat() ? "chat.completion.chunk" : "text_completion");
    chunk.put("created", created);
    chunk.put("model", config.servedModelName());
    chunk.putArray("choices");
    return chunk;
  }

  private static void write(OutputStream out, JsonNode json) throws IOException {
    byte[] data = Json.write(json).getBytes(StandardCharsets.UTF_8);
    byte[] frame = new byte[data.length + 8];
    System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, frame, 0, 6);
    System.arraycopy(data, 0, frame, 6, data.length);
    frame[frame.length - 2] = '\n';
    frame[frame.length - 1] = '\n';
    out.write(frame);
    out.flush();
  }

  @Override
  public void close() {
    if (server != null) {
      server.stop();
    }
  }
}

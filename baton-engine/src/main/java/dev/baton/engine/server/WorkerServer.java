package dev.baton.engine.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.http.ConnectionGuard;
import dev.baton.core.http.ServerStart;
import dev.baton.engine.sched.Engine;
import dev.baton.engine.sched.EngineRequest;
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
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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

  private final ServerConfig config;
  private final Engine engine;
  private final ModelText text;
  private final SamplerFactory samplers;
  private final OpenAiWriter writer;
  private final EngineMetrics metrics;
  private final long createdAt = System.currentTimeMillis() / 1000;
  private final byte[] apiKey;
  private final ConnectionGuard guard;
  private volatile KvEventPublisher kvEvents;
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
    this.writer = new OpenAiWriter(text, config.servedModelName());
    this.metrics = metrics;
    this.apiKey = config.apiKey() == null ? null : config.apiKey().getBytes(StandardCharsets.UTF_8);
    this.guard = new ConnectionGuard(config.timeouts());
  }

  /** Starts listening; returns this. */
  public WorkerServer start() {
    WebServer built =
        WebServer.builder()
            .host(config.host())
            .port(config.port())
            // Each SSE event is one small write: without TCP_NODELAY, Nagle's algorithm and the
            // client's delayed ACK hold it back ~40 ms.
            .connectionOptions(o -> o.tcpNoDelay(true))
            .protocolsDiscoverServices(false)
            .addConnectionSelector(guard.selector())
            .idleConnectionTimeout(config.timeouts().idle())
            .idleConnectionPeriod(config.timeouts().checkPeriod())
            .routing(this::routes)
            .build();
    server = ServerStart.start(built, config.host(), config.port());
    return this;
  }

  /** The port actually bound. */
  public int port() {
    return server.port();
  }

  /** Where the worker publishes its KV events (before {@link #start}); null: it publishes none. */
  public WorkerServer kvEvents(KvEventPublisher publisher) {
    this.kvEvents = publisher;
    return this;
  }

  /**
   * {@code GET /kv_events}: the KV event sockets as bound ({@code endpoint}, {@code
   * replay_endpoint}, {@code topic}), so a gateway can follow a worker whose ports were picked at
   * start ({@code tcp://host:*}); 404 when the worker publishes none. A Baton extension: vLLM tells
   * them nowhere. Open like {@code /health} and {@code /metrics}: a gateway's health checks carry
   * no worker key, and the event stream itself is unauthenticated ZeroMQ, as vLLM's.
   */
  private void kvEventsRoute(ServerRequest req, ServerResponse res) {
    KvEventPublisher p = kvEvents;
    if (p == null) {
      throw new ApiException(404, "this worker publishes no KV events", null, null);
    }
    ObjectNode body = Json.object();
    body.put("endpoint", p.endpoint());
    body.put("replay_endpoint", p.replayEndpoint());
    body.put("topic", p.topic());
    sendJson(res, body);
  }

  /**
   * {@code POST /reset_prefix_cache} (vLLM's route): forgets the cached prefixes of every free KV
   * block, so the next requests start from a cold cache (benchmarks repeating one workload use it);
   * blocks of running requests keep theirs. Answers 200 with {@code forgotten_blocks}. Key-guarded
   * like inference: it changes what later requests cost.
   */
  private void resetPrefixCache(ServerRequest req, ServerResponse res) {
    int forgotten;
    try {
      forgotten = engine.resetPrefixCache().get(30, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new ApiException(503, "the engine did not reach a step boundary in 30 s", null, null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiException(503, "interrupted", null, null);
    } catch (ExecutionException e) {
      throw new ApiException(500, "reset failed: " + e.getCause(), null, null);
    }
    ObjectNode body = Json.object();
    body.put("forgotten_blocks", forgotten);
    sendJson(res, body);
  }

  private void routes(HttpRouting.Builder r) {
    r.addFilter(guard::filter);
    r.get("/health", guarded(false, (req, res) -> res.status(200).send()))
        .get("/metrics", guarded(false, this::metricsRoute))
        .get("/v1/models", guarded(true, this::models))
        .get("/kv_events", guarded(false, this::kvEventsRoute))
        .post("/v1/completions", guarded(true, (req, res) -> generate(req, res, false)))
        .post("/v1/chat/completions", guarded(true, (req, res) -> generate(req, res, true)))
        .post("/tokenize", guarded(true, this::tokenize))
        .post("/detokenize", guarded(true, this::detokenize))
        .post("/reset_prefix_cache", guarded(true, this::resetPrefixCache))
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
      } catch (OpenAiWriter.ClientGoneException | UncheckedIOException e) {
        // The client closed the connection: an expected event, one line at debug level.
        LOG.log(Level.FINE, () -> "client went away: " + req.path().path());
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "request failed", e);
        // The details stay in the log: a client never sees internals.
        sendError(
            res,
            500,
            ApiException.body(500, "internal error (see the worker log)", null, "internal_error"));
      }
    };
  }

  private boolean authorized(ServerRequest req) {
    String h = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
    if (!h.regionMatches(true, 0, "Bearer ", 0, 7)) { // the scheme is case-insensitive
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
    } catch (ApiException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      // A body shorter than its Content-Length lands here (as whatever the HTTP library throws):
      // the client's fault, said plainly.
      throw ApiException.badRequest(
          null, "the request body could not be read (shorter than its Content-Length?)");
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

  private void generate(ServerRequest req, ServerResponse res, boolean chat) {
    JsonNode body = readJson(req);
    GenerationRequest g =
        GenerationRequest.parse(
            body, chat, text, config.servedModelName(), engine.config().maxModelLen());
    String id = (chat ? "chatcmpl-" : "cmpl-") + HexFormat.of().formatHex(randomBytes());
    long created = System.currentTimeMillis() / 1000;
    checkFits(g);
    List<OpenAiWriter.Choice> choices = submit(g, id);
    try {
      if (g.stream()) {
        writer.stream(res, g, id, created, choices);
      } else {
        sendJson(res, writer.response(g, id, created, choices));
      }
    } finally {
      for (OpenAiWriter.Choice c : choices) {
        engine.abort(c.request()); // no-op for requests that already ended
      }
    }
  }

  private static byte[] randomBytes() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return b;
  }

  /**
   * Refuses (400) what this worker could never serve however long the client retried: more
   * sequences than it runs and queues at once, or one sequence needing more KV than the pool has.
   */
  private void checkFits(GenerationRequest g) {
    var c = engine.config();
    int copies = g.prompts().size() * g.n();
    if (copies > c.maxNumSeqs() + c.maxWaiting()) {
      throw ApiException.badRequest(
          "n",
          copies
              + " sequences (prompts x n) exceed what this worker can hold at once ("
              + (c.maxNumSeqs() + c.maxWaiting())
              + " = --max-num-seqs + --max-waiting)");
    }
    for (int[] prompt : g.prompts()) {
      long tokens = Math.min((long) prompt.length + g.maxTokens(), c.maxModelLen());
      long blocks = (tokens + c.blockSize() - 1) / c.blockSize();
      if (blocks > engine.kvBlocks()) {
        throw ApiException.badRequest(
            "max_tokens",
            "a sequence of "
                + tokens
                + " tokens needs "
                + blocks
                + " KV blocks; this worker's pool has "
                + engine.kvBlocks());
      }
    }
  }

  private List<OpenAiWriter.Choice> submit(GenerationRequest g, String id) {
    List<OpenAiWriter.Choice> choices = new ArrayList<>();
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
                id + "-" + index, prompt, options, samplers.create(s), text.detokenizer(prompt));
        try {
          engine.submit(r);
        } catch (Engine.OverloadedException e) {
          for (OpenAiWriter.Choice c : choices) {
            engine.abort(c.request());
          }
          engine.discard(r);
          metrics.onRejected();
          throw new ApiException(429, "server busy: " + e.getMessage(), null, "too_many_requests");
        }
        choices.add(new OpenAiWriter.Choice(index, p, prompt, r));
        index++;
      }
    }
    return choices;
  }

  @Override
  public void close() {
    if (server != null) {
      server.stop();
    }
  }
}

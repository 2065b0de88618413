package dev.baton.engine.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.baton.core.Json;
import dev.baton.core.Usage;
import dev.baton.engine.sched.EngineEvent;
import dev.baton.engine.sched.EngineRequest;
import dev.baton.engine.sched.FinishReason;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Turns the engine events of a request's choices into OpenAI/vLLM-shaped answers: one JSON
 * completion (chat or text, logprobs, token ids, usage, {@code kv_transfer_params}) or a stream of
 * Server-Sent Events with the same pieces per chunk. The routes in {@link WorkerServer} decide what
 * to run; this class only writes.
 */
final class OpenAiWriter {

  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8);

  private final ModelText text;
  private final String servedModelName;

  OpenAiWriter(ModelText text, String servedModelName) {
    this.text = text;
    this.servedModelName = servedModelName;
  }

  /** One choice of a response: which prompt it continues and the engine request producing it. */
  record Choice(int index, int promptIndex, int[] prompt, EngineRequest request) {}

  /** Thrown when writing to a client that has disconnected. */
  static final class ClientGoneException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ClientGoneException(Throwable cause) {
      super("client disconnected", cause, false, false);
    }
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

  /** The whole (non-streaming) response: every choice collected, usage and KV params. */
  ObjectNode response(GenerationRequest g, String id, long created, List<Choice> choices) {
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
    root.put("model", servedModelName);
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
    return root;
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

  /** Streams the choices as Server-Sent Events (vLLM's chunk shapes), then {@code [DONE]}. */
  void stream(
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
    chunk.put("model", servedModelName);
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
}

package dev.baton.engine.sched;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * One sequence being generated: its tokens, its KV blocks, how far its KV is computed, and the
 * channel its events go to. The engine loop thread owns every mutable field; the consumer (an HTTP
 * handler on a virtual thread) only reads {@link #events} and may call {@link Engine#abort}.
 */
public final class EngineRequest {

  private final String id;
  private final int promptLen;
  private final RequestOptions options;
  private final TokenSampler sampler;
  private final Detokenizer detokenizer;
  private final BlockingQueue<EngineEvent> events = new LinkedBlockingQueue<>();
  private final long arrivalNanos = System.nanoTime();

  // Owned by the engine loop thread.
  int[] tokens;
  int numTokens;
  int numComputed;
  final List<Integer> blocks = new ArrayList<>();
  final List<byte[]> hashes = new ArrayList<>();
  int numCachedBlocks;
  int cachedPromptTokens = -1;
  int pendingExternalTokens;
  RequestStatus status = RequestStatus.WAITING;
  int numPreemptions;
  final StringBuilder text = new StringBuilder();
  int sentChars;
  long firstTokenNanos;
  long lastTokenNanos;
  String extraKeys;

  public EngineRequest(
      String id,
      int[] prompt,
      RequestOptions options,
      TokenSampler sampler,
      Detokenizer detokenizer) {
    if (prompt.length == 0) {
      throw new IllegalArgumentException("the prompt must have at least one token");
    }
    this.id = id;
    this.promptLen = prompt.length;
    this.options = options;
    this.sampler = sampler;
    this.detokenizer = detokenizer;
    this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(options.maxTokens(), 64));
    this.numTokens = prompt.length;
  }

  public String id() {
    return id;
  }

  public int promptLen() {
    return promptLen;
  }

  public RequestOptions options() {
    return options;
  }

  /** Events for this request, in order; the last one is an {@link EngineEvent.Finished}. */
  public BlockingQueue<EngineEvent> events() {
    return events;
  }

  public long arrivalNanos() {
    return arrivalNanos;
  }

  /** The prompt token ids (a copy). */
  public int[] prompt() {
    return Arrays.copyOf(tokens, promptLen);
  }

  TokenSampler sampler() {
    return sampler;
  }

  /**
   * Whether the next token is the plain argmax of the logits: a greedy sampler with nothing else
   * applied, no logprobs to report, and no stop tokens to mask for {@code min_tokens}.
   */
  boolean nextTokenIsArgmax() {
    return sampler.argmaxOnly() && options.logprobs() < 0 && numOutput() >= options.minTokens();
  }

  Detokenizer detokenizer() {
    return detokenizer;
  }

  int numOutput() {
    return numTokens - promptLen;
  }

  void append(int token) {
    if (numTokens == tokens.length) {
      tokens = Arrays.copyOf(tokens, tokens.length * 2);
    }
    tokens[numTokens++] = token;
  }

  int[] blockArray() {
    int[] out = new int[blocks.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = blocks.get(i);
    }
    return out;
  }

  @Override
  public String toString() {
    return "EngineRequest[" + id + ", " + status + ", " + numComputed + "/" + numTokens + "]";
  }
}

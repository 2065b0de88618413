package dev.baton.engine;

/**
 * How a backend sets up a model runner.
 *
 * @param threads compute threads (0 = every core)
 * @param contextLength longest sequence (0 = the model's trained context)
 * @param kvBlocks blocks in the KV pool (0 = enough for one sequence of {@code contextLength})
 * @param blockSize token slots per KV block
 * @param kvDtype element type of the KV cache
 * @param kvSharedDir put the KV pool in a shared-memory file there (null: private memory), so a
 *     same-host P/D peer can copy blocks straight out of it
 * @param device which accelerator a GPU backend computes on ({@code --device}; the CPU ignores it)
 */
public record RunnerOptions(
    int threads,
    int contextLength,
    int kvBlocks,
    int blockSize,
    KvBlockPool.Dtype kvDtype,
    java.nio.file.Path kvSharedDir,
    int device) {

  public RunnerOptions(
      int threads, int contextLength, int kvBlocks, int blockSize, KvBlockPool.Dtype kvDtype) {
    this(threads, contextLength, kvBlocks, blockSize, kvDtype, null, 0);
  }

  public RunnerOptions(
      int threads,
      int contextLength,
      int kvBlocks,
      int blockSize,
      KvBlockPool.Dtype kvDtype,
      java.nio.file.Path kvSharedDir) {
    this(threads, contextLength, kvBlocks, blockSize, kvDtype, kvSharedDir, 0);
  }

  public RunnerOptions {
    if (threads < 0 || contextLength < 0 || kvBlocks < 0 || blockSize <= 0 || device < 0) {
      throw new IllegalArgumentException(
          "threads, context length, KV blocks and device must be >= 0, block size > 0");
    }
  }

  public static RunnerOptions defaults() {
    return new RunnerOptions(0, 0, 0, 16, KvBlockPool.Dtype.F32, null, 0);
  }

  public RunnerOptions withThreads(int n) {
    return new RunnerOptions(n, contextLength, kvBlocks, blockSize, kvDtype, kvSharedDir, device);
  }

  public RunnerOptions withContextLength(int n) {
    return new RunnerOptions(threads, n, kvBlocks, blockSize, kvDtype, kvSharedDir, device);
  }

  public RunnerOptions withKvBlocks(int n) {
    return new RunnerOptions(threads, contextLength, n, blockSize, kvDtype, kvSharedDir, device);
  }

  public RunnerOptions withKvDtype(KvBlockPool.Dtype d) {
    return new RunnerOptions(threads, contextLength, kvBlocks, blockSize, d, kvSharedDir, device);
  }

  public RunnerOptions withKvSharedDir(java.nio.file.Path dir) {
    return new RunnerOptions(threads, contextLength, kvBlocks, blockSize, kvDtype, dir, device);
  }

  public RunnerOptions withDevice(int d) {
    return new RunnerOptions(threads, contextLength, kvBlocks, blockSize, kvDtype, kvSharedDir, d);
  }

  /** Threads to use: {@link #threads}, or every core when 0. */
  public int resolvedThreads() {
    return threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
  }
}

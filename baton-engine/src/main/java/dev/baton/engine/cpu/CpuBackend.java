package dev.baton.engine.cpu;

import dev.baton.engine.Backend;
import dev.baton.engine.KvBlockPool;
import dev.baton.engine.ModelRunner;
import dev.baton.engine.RunnerOptions;
import dev.baton.engine.forward.LlamaRunner;
import dev.baton.model.LlamaConfig;
import dev.baton.model.LlamaWeights;

/** The CPU backend: Vector API kernels ({@code dev.baton.engine.kernel}) on all cores. */
public final class CpuBackend implements Backend {

  @Override
  public String name() {
    return "cpu";
  }

  @Override
  public boolean available() {
    return true;
  }

  @Override
  public ModelRunner createRunner(LlamaConfig config, LlamaWeights weights, RunnerOptions options) {
    int context =
        options.contextLength() > 0
            ? Math.min(options.contextLength(), config.contextLength())
            : config.contextLength();
    int blocks =
        options.kvBlocks() > 0
            ? options.kvBlocks()
            : (context + options.blockSize() - 1) / options.blockSize();
    KvBlockPool pool =
        new KvBlockPool(
            blocks,
            options.blockSize(),
            config.layers(),
            config.kvHeads(),
            config.headDim(),
            options.kvDtype(),
            options.kvSharedDir());
    try {
      return new LlamaRunner(config, weights, pool, context, options.resolvedThreads());
    } catch (RuntimeException e) {
      pool.close();
      throw e;
    }
  }
}

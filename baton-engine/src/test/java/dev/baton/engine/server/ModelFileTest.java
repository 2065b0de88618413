package dev.baton.engine.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.baton.model.GgmlType;
import dev.baton.model.RandomModel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Odd model files get the right one-line error, and extreme metadata does not overflow sizes. */
class ModelFileTest {

  @TempDir Path dir;

  @Test
  void aContextOfTwoToTheThirtyOneMinusOneDoesNotOverflowTheKvSizing() throws Exception {
    RandomModel.Spec tiny = RandomModel.Preset.TINY.spec;
    RandomModel.Spec huge =
        new RandomModel.Spec(
            tiny.name(),
            tiny.architecture(),
            tiny.dim(),
            tiny.layers(),
            tiny.heads(),
            tiny.kvHeads(),
            tiny.ffnDim(),
            tiny.vocabSize(),
            tiny.specialTokens(),
            Integer.MAX_VALUE,
            tiny.ropeTheta(),
            tiny.llama3RopeScaling(),
            tiny.tiedEmbeddings(),
            tiny.defaultType());
    Path model = dir.resolve("huge-context.gguf");
    RandomModel.write(model, huge, 1, GgmlType.F32);
    WorkerOptions d = WorkerOptions.defaults(model);
    WorkerOptions o =
        d.with(new WorkerOptions.Listener("127.0.0.1", 0, "both", null, null, 1 << 20))
            .with(new WorkerOptions.Compute("cpu", 1, 4096));
    assertThat(
            Worker.numBlocks(
                o,
                dev.baton.model.LlamaConfig.fromGguf(dev.baton.model.GgufFile.open(model)),
                Integer.MAX_VALUE))
        .isPositive();
  }
}

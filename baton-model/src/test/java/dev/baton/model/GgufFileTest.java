package dev.baton.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufFileTest {
  @TempDir Path dir;

  private Path writeSample(String name, int alignment) {
    GgufWriter w = new GgufWriter();
    if (alignment != GgufFile.DEFAULT_ALIGNMENT) {
      w.putUInt32("general.alignment", alignment);
    }
    w.putString("general.architecture", "llama");
    w.put("u8", GgufValueType.UINT8, 200);
    w.put("i8", GgufValueType.INT8, -5);
    w.put("u16", GgufValueType.UINT16, 60000);
    w.put("i16", GgufValueType.INT16, -30000);
    w.putUInt32("u32", 4000000000L);
    w.putInt32("i32", -7);
    w.put("u64", GgufValueType.UINT64, 1L << 40);
    w.put("i64", GgufValueType.INT64, -(1L << 40));
    w.putFloat32("f32", 1.5f);
    w.put("f64", GgufValueType.FLOAT64, 2.25);
    w.putBool("bool", true);
    w.putString("str", "héllo ✓ 😀");
    w.putStringArray("strs", List.of("a", "", "Ġthe"));
    w.putInt32Array("ints", new int[] {1, -2, 3});
    w.putFloat32Array("floats", new float[] {0.5f, -1f});
    w.putArray("bytes", GgufValueType.UINT8, new byte[] {1, 2, 3});
    w.putArray("u32s", GgufValueType.UINT32, new long[] {7, 4000000000L});
    w.putArray("bools", GgufValueType.BOOL, new boolean[] {true, false});
    w.putArray("f64s", GgufValueType.FLOAT64, new double[] {1.25});
    float[] a = new float[32 * 3];
    for (int i = 0; i < a.length; i++) {
      a[i] = i * 0.25f - 5;
    }
    w.addTensor("a", GgmlType.F32, new long[] {32, 3}, a);
    w.addTensor("b", GgmlType.Q8_0, new long[] {32, 3}, a);
    w.addTensor("c", GgmlType.F16, new long[] {96}, a);
    Path p = dir.resolve(name);
    w.write(p);
    return p;
  }

  @Test
  void readsEveryMetadataTypeAndTensorsBack() {
    Path p = writeSample("s.gguf", GgufFile.DEFAULT_ALIGNMENT);
    try (GgufFile f = GgufFile.open(p)) {
      assertThat(f.version()).isEqualTo(3);
      assertThat(f.getString("general.architecture")).isEqualTo("llama");
      assertThat(f.getInt("u8")).isEqualTo(200);
      assertThat(f.getInt("i8")).isEqualTo(-5);
      assertThat(f.getInt("u16")).isEqualTo(60000);
      assertThat(f.getInt("i16")).isEqualTo(-30000);
      assertThat(f.getLong("u32")).isEqualTo(4000000000L);
      assertThatThrownBy(() -> f.getInt("u32")).hasMessageContaining("out of range");
      assertThat(f.getInt("i32")).isEqualTo(-7);
      assertThat(f.getLong("u64")).isEqualTo(1L << 40);
      assertThat(f.getLong("i64")).isEqualTo(-(1L << 40));
      assertThat(f.getFloat("f32")).isEqualTo(1.5f);
      assertThat(f.getDouble("f64")).isEqualTo(2.25);
      assertThat(f.getBool("bool", false)).isTrue();
      assertThat(f.getString("str")).isEqualTo("héllo ✓ 😀");
      assertThat(f.getStringArray("strs")).containsExactly("a", "", "Ġthe");
      assertThat(f.getIntArray("ints")).containsExactly(1, -2, 3);
      assertThat(f.getFloatArray("floats")).containsExactly(0.5f, -1f);
      assertThat(f.getIntArray("bytes")).containsExactly(1, 2, 3);
      assertThat((long[]) f.metadata().get("u32s")).containsExactly(7, 4000000000L);
      assertThat((boolean[]) f.metadata().get("bools")).containsExactly(true, false);
      assertThat(f.getFloatArray("f64s")).containsExactly(1.25f);
      assertThat(f.metadataType("u16")).isEqualTo(GgufValueType.UINT16);
      assertThat(f.arrayLength("strs")).isEqualTo(3);
      assertThatThrownBy(() -> f.getString("i32")).hasMessageContaining("expected STRING");
      assertThatThrownBy(() -> f.getInt("nope")).hasMessageContaining("missing metadata nope");

      assertThat(f.tensorNames()).containsExactly("a", "b", "c");
      GgufTensor a = f.tensor("a");
      assertThat(a.shape()).containsExactly(32, 3);
      assertThat(a.rows()).isEqualTo(3);
      assertThat(a.row(2)[0]).isEqualTo(64 * 0.25f - 5);
      assertThat(f.tensor("b").type()).isEqualTo(GgmlType.Q8_0);
      assertThat(f.tensor("b").data().byteSize()).isEqualTo(3 * 34);
      assertThat(f.tensor("c").toFloatArray()).isEqualTo(a.toFloatArray());
      for (GgufTensor t : f.tensors().values()) {
        assertThat(t.data().address() - f.segment().address() - f.dataOffset() % 1).isNotNegative();
        assertThat((t.data().address() - f.segment().address() - f.dataOffset()) % 32).isZero();
      }
      assertThatThrownBy(() -> f.tensor("zzz")).hasMessageContaining("missing tensor zzz");
    }
  }

  @Test
  void honoursGeneralAlignment() {
    Path p = writeSample("al.gguf", 64);
    try (GgufFile f = GgufFile.open(p)) {
      assertThat(f.alignment()).isEqualTo(64);
      assertThat(f.dataOffset() % 64).isZero();
      long off = f.tensor("b").data().address() - f.segment().address();
      assertThat(off % 64).isZero();
      assertThat(f.tensor("b").toFloatArray()[5])
          .isCloseTo(-3.75f, org.assertj.core.data.Offset.offset(0.05f));
    }
  }

  @Test
  void readsVersion2() throws IOException {
    Path p = writeSample("v2.gguf", 32);
    byte[] b = Files.readAllBytes(p);
    b[4] = 2;
    Files.write(p, b);
    try (GgufFile f = GgufFile.open(p)) {
      assertThat(f.version()).isEqualTo(2);
      assertThat(f.getString("str")).isEqualTo("héllo ✓ 😀");
    }
  }

  @Test
  void rejectsBadMagicVersionsAndMissingFiles() throws IOException {
    Path p = writeSample("x.gguf", 32);
    byte[] b = Files.readAllBytes(p);
    byte[] bad = b.clone();
    bad[0] = 'X';
    Files.write(dir.resolve("bad.gguf"), bad);
    assertThatThrownBy(() -> GgufFile.open(dir.resolve("bad.gguf")))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("not a GGUF file");
    byte[] v4 = b.clone();
    v4[4] = 4;
    Files.write(dir.resolve("v4.gguf"), v4);
    assertThatThrownBy(() -> GgufFile.open(dir.resolve("v4.gguf")))
        .hasMessageContaining("unsupported GGUF version 4");
    byte[] be = b.clone();
    be[4] = 0;
    be[7] = 3;
    Files.write(dir.resolve("be.gguf"), be);
    assertThatThrownBy(() -> GgufFile.open(dir.resolve("be.gguf")))
        .hasMessageContaining("big-endian");
    Files.write(dir.resolve("empty.gguf"), new byte[0]);
    assertThatThrownBy(() -> GgufFile.open(dir.resolve("empty.gguf")))
        .hasMessageContaining("not a GGUF file");
    assertThatThrownBy(() -> GgufFile.open(dir.resolve("missing.gguf")))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("not found");
    assertThatThrownBy(() -> GgufFile.open(dir))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("directory");
  }

  @Test
  void everyTruncationIsAClearError() throws IOException {
    Path p = writeSample("t.gguf", 32);
    byte[] b = Files.readAllBytes(p);
    Path cut = dir.resolve("cut.gguf");
    for (int len = 0; len < b.length; len += (len < 600 ? 1 : 7)) {
      Files.write(cut, Arrays.copyOf(b, len));
      assertThatThrownBy(() -> GgufFile.open(cut).close())
          .as("cut at %d", len)
          .isInstanceOf(ModelFormatException.class);
    }
  }

  @Test
  void randomCorruptionNeverEscapesAsAnotherException() throws IOException {
    Path p = writeSample("r.gguf", 32);
    byte[] b = Files.readAllBytes(p);
    Path bad = dir.resolve("corrupt.gguf");
    Random rnd = new Random(7);
    for (int i = 0; i < 300; i++) {
      byte[] c = b.clone();
      int hdr = 700; // corrupt the header region where the structure lives
      for (int k = 0; k < 3; k++) {
        c[rnd.nextInt(hdr)] = (byte) rnd.nextInt(256);
      }
      Files.write(bad, c);
      try {
        GgufFile.open(bad).close();
      } catch (ModelFormatException e) {
        assertThat(e.getMessage()).isNotBlank();
      }
    }
  }

  @Test
  void unknownTensorTypeIsNamed() throws IOException {
    GgufWriter w = new GgufWriter();
    w.addTensor("weird", GgmlType.F32, new long[] {4}, new float[] {1, 2, 3, 4});
    Path p = dir.resolve("w.gguf");
    w.write(p);
    byte[] b = Files.readAllBytes(p);
    // tensor info: magic(4) version(4) counts(16) name(8+5) ndims(4) dim(8) type(4)
    int typeAt = 4 + 4 + 16 + 8 + 5 + 4 + 8;
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(typeAt, 3);
    Files.write(p, b);
    assertThatThrownBy(() -> GgufFile.open(p))
        .isInstanceOf(ModelFormatException.class)
        .hasMessageContaining("weird")
        .hasMessageContaining("unsupported GGML tensor type Q4_1 (id 3");
  }

  @Test
  void filesOverTwoGibibytesWork() throws IOException {
    // A sparse file: the filler touches only the last row, so little is written to disk.
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Files.getFileStore(dir).getUsableSpace() > (8L << 30), "needs free disk space");
    long rows = (2L << 30) / 4096 + 1000; // 4096-byte rows, a bit over 2 GiB in all
    GgufWriter w = new GgufWriter().putString("general.architecture", "llama");
    w.addTensor("small", GgmlType.F32, new long[] {4}, new float[] {1, 2, 3, 4});
    w.addTensor(
        "big",
        GgmlType.F32,
        new long[] {1024, rows},
        dst -> {
          for (int i = 0; i < 1024; i++) {
            dst.set(GgufFile.F32, dst.byteSize() - 4096 + 4L * i, i * 0.5f);
          }
        });
    w.addTensor("after", GgmlType.F32, new long[] {2}, new float[] {7, 8});
    Path p = dir.resolve("big.gguf");
    w.write(p);
    try (GgufFile f = GgufFile.open(p)) {
      assertThat(f.size()).isGreaterThan(1L << 31);
      GgufTensor big = f.tensor("big");
      assertThat(big.byteSize()).isGreaterThan(1L << 31);
      assertThat(big.row(rows - 1)[1023]).isEqualTo(511.5f);
      assertThat(big.row(rows - 2)[5]).isZero();
      assertThat(f.tensor("after").toFloatArray()).containsExactly(7f, 8f);
    } finally {
      Files.delete(p);
    }
  }

  @Test
  void writerRejectsWrongSizes() {
    GgufWriter w = new GgufWriter();
    assertThatThrownBy(() -> w.addTensor("x", GgmlType.Q8_0, new long[] {16}, new byte[18]))
        .hasMessageContaining("multiple of 32");
    assertThatThrownBy(() -> w.addTensor("y", GgmlType.F32, new long[] {4}, new byte[3]))
        .hasMessageContaining("needs 16 bytes");
  }

  @Test
  void putAllCopiesMetadata() {
    Path p = writeSample("c.gguf", 32);
    Path q = dir.resolve("copy.gguf");
    try (GgufFile f = GgufFile.open(p)) {
      new GgufWriter().putAll(f).write(q);
    }
    try (GgufFile f = GgufFile.open(q)) {
      assertThat(f.getString("str")).isEqualTo("héllo ✓ 😀");
      assertThat(f.getLong("u32")).isEqualTo(4000000000L);
      assertThat(f.getStringArray("strs")).containsExactly("a", "", "Ġthe");
      assertThat(f.segment().get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 'G');
    }
  }
}

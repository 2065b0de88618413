// Native Q8_0 matrix products for the CPU engine (called through FFM by NativeKernels.java).
//
// The activations are quantized to int8 per 32-element block (as Q8_0 weights are), so a block's
// dot product is 32 int8 x int8 products summed exactly in int32 by AVX-512 VNNI (vpdpbusd),
// then scaled once in float by d_weight * d_activation. vpdpbusd multiplies unsigned by signed
// bytes: the weights are made unsigned by adding 128 (xor 0x80, done once per weight block and
// shared by every token), and the surplus 128 * sum(activation quants) is subtracted by starting
// the integer accumulator at -128 * sum (precomputed per activation block).
//
// Only the functions between the target pragmas use AVX-512; baton_cpu_level() runs anywhere and
// says whether they may be called, so this file builds on any x86-64 compiler and the Java side
// falls back to its Vector API kernels where the CPU lacks the instructions.
#define _GNU_SOURCE // madvise's MADV_HUGEPAGE
#include <immintrin.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#define QK 32          // elements per Q8_0 block
#define Q8_BYTES 34    // f16 scale + 32 int8 quants
#define MAX_TILE_T 4   // tokens per register tile
#define MAX_TILE_R 4   // rows per register tile

// 1 = AVX-512 VNNI kernels usable, 0 = none (the caller uses its own kernels).
int baton_cpu_level(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
      && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")
      && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma")) {
    return 1;
  }
  return 0;
}

// Per-thread buffer for the quantized activations (grown on demand, freed when the thread ends).
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
typedef struct { void *data; size_t size; } buffer;

static void free_buffer(void *p) {
  buffer *b = p;
  free(b->data);
  free(b);
}

static void make_key(void) { pthread_key_create(&buffer_key, free_buffer); }

static void *thread_buffer(size_t size) {
  pthread_once(&buffer_once, make_key);
  buffer *b = pthread_getspecific(buffer_key);
  if (b == NULL) {
    b = calloc(1, sizeof(buffer));
    if (b == NULL) return NULL;
    pthread_setspecific(buffer_key, b);
  }
  if (b->size < size) {
    free(b->data);
    b->data = aligned_alloc(64, (size + 63) & ~(size_t) 63);
    b->size = b->data == NULL ? 0 : size;
  }
  return b->data;
}

// Quantized activations of one token, per pair of blocks (64 elements): 64 int8 quants, then 16
// int32 start values (-16 * sum of each block's quants in its 8 lanes: the lanes add up to
// -128 * sum), then 16 floats (each block's scale in its 8 lanes). 256 bytes, 64-byte aligned.
typedef struct {
  int8_t q[64];
  int32_t start[16];
  float scale[16];
} pair_block;

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")

// Quantizes one 32-element block: d = max|x| / 127, q = round-half-even(x / d). Matches
// ScalarKernels.quantizeQ8 bit for bit (same float operations, same rounding).
static inline void quantize_block(const float *x, int8_t *q, int32_t *start, float *scale) {
  __m512 a = _mm512_loadu_ps(x);
  __m512 b = _mm512_loadu_ps(x + 16);
  float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
  float d = amax / 127.0f;
  float id = d != 0.0f ? 1.0f / d : 0.0f;
  __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, _mm512_set1_ps(id)));
  __m512i qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, _mm512_set1_ps(id)));
  _mm_storeu_si128((__m128i *) q, _mm512_cvtsepi32_epi8(qa));
  _mm_storeu_si128((__m128i *) (q + 16), _mm512_cvtsepi32_epi8(qb));
  int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
  _mm256_store_si256((__m256i *) start, _mm256_set1_epi32(-16 * sum));
  _mm256_store_ps(scale, _mm256_set1_ps(d));
}

static void quantize_tokens(const float *x, int x_stride, int n, int cols, pair_block *out) {
  int pairs = cols / (2 * QK);
  for (int t = 0; t < n; t++) {
    const float *xt = x + (size_t) t * x_stride;
    pair_block *pt = out + (size_t) t * pairs;
    for (int p = 0; p < pairs; p++) {
      quantize_block(xt + 64 * p, pt[p].q, pt[p].start, pt[p].scale);
      quantize_block(xt + 64 * p + 32, pt[p].q + 32, pt[p].start + 8, pt[p].scale + 8);
    }
  }
}

// Two consecutive weight blocks at p: quants made unsigned (+128) in one register.
static inline __m512i weight_quants(const uint8_t *p) {
  __m256i lo = _mm256_loadu_si256((const __m256i *) (p + 2));
  __m256i hi = _mm256_loadu_si256((const __m256i *) (p + Q8_BYTES + 2));
  __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  return _mm512_xor_si512(q, _mm512_set1_epi8((char) 0x80));
}

// The two blocks' f16 scales, each in its 8 lanes.
static inline __m512 weight_scales(const uint8_t *p) {
  uint16_t d0, d1;
  memcpy(&d0, p, 2);
  memcpy(&d1, p + Q8_BYTES, 2);
  __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short) d0)),
                                      _mm_set1_epi16((short) d1), 1);
  return _mm512_cvtph_ps(h);
}

// R rows x T tokens: out[t][r] = sum over blocks of d_w * d_x * (integer block dot product).
static inline __attribute__((always_inline)) void tile(
    const uint8_t *w, int64_t row_bytes, int pairs, const pair_block *xq, int R, int T,
    float *out, int out_stride) {
  __m512 acc[MAX_TILE_R][MAX_TILE_T];
#pragma GCC unroll 4
  for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
  }
  for (int p = 0; p < pairs; p++) {
    __m512i wq[MAX_TILE_R];
    __m512 ws[MAX_TILE_R];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
      const uint8_t *b = w + r * row_bytes + (int64_t) p * 2 * Q8_BYTES;
      wq[r] = weight_quants(b);
      ws[r] = weight_scales(b);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
      const pair_block *x = xq + (size_t) t * pairs + p;
      __m512i xv = _mm512_load_si512(x->q);
      __m512i start = _mm512_load_si512(x->start);
      __m512 xs = _mm512_load_ps(x->scale);
#pragma GCC unroll 4
      for (int r = 0; r < R; r++) {
        __m512i dot = _mm512_dpbusd_epi32(start, wq[r], xv);
        acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws[r], xs), acc[r][t]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) out[(size_t) t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
  }
}

// Every (row tile, token tile) of rows [r0, r1) x n tokens, rows in blocks whose weights stay in
// L2 while every token tile passes over them (each weight byte comes from memory once).
static void gemm_rows(const uint8_t *w, int64_t row_bytes, int pairs, const pair_block *xq,
                      int n, float *out, int out_stride, int r0, int r1) {
  int block_rows = (int) ((256 * 1024) / row_bytes) & ~(MAX_TILE_R - 1);
  if (block_rows < MAX_TILE_R) block_rows = MAX_TILE_R;
  for (int rb = r0; rb < r1; rb += block_rows) {
    int re = rb + block_rows < r1 ? rb + block_rows : r1;
    for (int t = 0; t < n; t += MAX_TILE_T) {
      int tn = n - t < MAX_TILE_T ? n - t : MAX_TILE_T;
      const pair_block *xt = xq + (size_t) t * pairs;
      float *ot = out + (size_t) t * out_stride;
      int r = rb;
      for (; r + MAX_TILE_R <= re; r += MAX_TILE_R) {
        const uint8_t *wr = w + r * row_bytes;
        switch (tn) {
          case 1: tile(wr, row_bytes, pairs, xt, 4, 1, ot + r, out_stride); break;
          case 2: tile(wr, row_bytes, pairs, xt, 4, 2, ot + r, out_stride); break;
          case 3: tile(wr, row_bytes, pairs, xt, 4, 3, ot + r, out_stride); break;
          default: tile(wr, row_bytes, pairs, xt, 4, 4, ot + r, out_stride); break;
        }
      }
      for (; r < re; r++) {
        const uint8_t *wr = w + r * row_bytes;
        for (int tt = 0; tt < tn; tt++) {
          tile(wr, row_bytes, pairs, xt + (size_t) tt * pairs, 1, 1,
               ot + (size_t) tt * out_stride + r, out_stride);
        }
      }
    }
  }
}

// ------------------------------------------------------------------ packed (row-interleaved) Q8_0
//
// A Q8_0 matrix repacked at load for the products below: per group of 16 rows, the 16 f16 scales
// of each 32-column block, then per block the 32 quants of the 16 rows as 8 runs of
// [16 rows x 4 consecutive columns], made unsigned (+128). One vpdpbusd then multiplies 4 columns
// of 16 rows by 4 activation bytes broadcast to every lane: the lanes are the rows, so after a
// block's 8 steps each lane holds one row's exact block dot product, and the float scaling is one
// convert, one multiply and one multiply-add per 16 rows (the unpacked kernel above spends those
// per row and pair of blocks).
#define PACK_ROWS 16
#define PACK_SCALE_BYTES (PACK_ROWS * 2) // 16 f16 scales per block
#define PACK_QUANT_BYTES (PACK_ROWS * QK) // 512 B of quants per block

// A group's bytes: all its blocks' scales (padded to 64 B, so the quants stay aligned), then all
// its blocks' quants: exactly the Q8_0 size when the block count is even.
static inline size_t pack_scales_bytes(int blocks) {
  return ((size_t) blocks * PACK_SCALE_BYTES + 63) & ~(size_t) 63;
}
static inline size_t pack_group_bytes(int blocks) {
  return pack_scales_bytes(blocks) + (size_t) blocks * PACK_QUANT_BYTES;
}

// Activations for the packed products: per token, cols quants, then per block the scale and
// -128 * the sum of its quants (the +128 of the weights taken back out).
typedef struct {
  int8_t *q;
  float *d;
  int32_t *start;
} token_quants;

static void quantize_plain(const float *x, int x_stride, int n, int cols, token_quants tq) {
  int blocks = cols / QK;
  for (int t = 0; t < n; t++) {
    for (int b = 0; b < blocks; b++) {
      int32_t start[8] __attribute__((aligned(32)));
      float scale[8] __attribute__((aligned(32)));
      size_t i = (size_t) t * blocks + b;
      quantize_block(x + (size_t) t * x_stride + QK * b, tq.q + QK * i, start, scale);
      tq.d[i] = scale[0];
      tq.start[i] = start[0] * 8; // -16 * sum in each of 8 lanes: -128 * sum in one
    }
  }
}

// 16 rows (one group) x T tokens (T <= 8), all blocks.
static inline __attribute__((always_inline)) void packed_tile(
    const uint8_t *g, int blocks, const token_quants *tq, int t0, int T, float *out,
    int out_stride) {
  __m512 acc[8];
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) acc[t] = _mm512_setzero_ps();
  for (int b = 0; b < blocks; b++) {
    const uint8_t *pq = g + pack_scales_bytes(blocks) + (size_t) b * PACK_QUANT_BYTES;
    __m512i dot[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
      dot[t] = _mm512_set1_epi32(tq->start[(size_t) (t0 + t) * blocks + b]);
    }
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
      __m512i w = _mm512_load_si512(pq + 64 * k);
#pragma GCC unroll 8
      for (int t = 0; t < T; t++) {
        int32_t x4;
        memcpy(&x4, tq->q + ((size_t) (t0 + t) * blocks + b) * QK + 4 * k, 4);
        dot[t] = _mm512_dpbusd_epi32(dot[t], w, _mm512_set1_epi32(x4));
      }
    }
    __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *) (g + PACK_SCALE_BYTES * b)));
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
      __m512 s = _mm512_mul_ps(ws, _mm512_set1_ps(tq->d[(size_t) (t0 + t) * blocks + b]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[t]), s, acc[t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < T; t++) _mm512_storeu_ps(out + (size_t) (t0 + t) * out_stride, acc[t]);
}

static void packed_rows(const uint8_t *packed, int cols, const token_quants *tq, int n,
                        float *out, int out_stride, int r0, int r1) {
  int blocks = cols / QK;
  size_t group_bytes = pack_group_bytes(blocks);
  // Groups in runs that stay in L2 while every token passes over them.
  int run = (int) ((512 * 1024) / group_bytes);
  if (run < 1) run = 1;
  for (int g0 = r0 / PACK_ROWS; g0 < r1 / PACK_ROWS; g0 += run) {
    int g1 = g0 + run < r1 / PACK_ROWS ? g0 + run : r1 / PACK_ROWS;
    for (int t = 0; t < n; t += 8) {
      int tn = n - t < 8 ? n - t : 8;
      for (int g = g0; g < g1; g++) {
        const uint8_t *gp = packed + (size_t) g * group_bytes;
        float *o = out + g * PACK_ROWS;
        switch (tn) {
          case 1: packed_tile(gp, blocks, tq, t, 1, o, out_stride); break;
          case 2: packed_tile(gp, blocks, tq, t, 2, o, out_stride); break;
          case 3: packed_tile(gp, blocks, tq, t, 3, o, out_stride); break;
          case 4: packed_tile(gp, blocks, tq, t, 4, o, out_stride); break;
          case 5: packed_tile(gp, blocks, tq, t, 5, o, out_stride); break;
          case 6: packed_tile(gp, blocks, tq, t, 6, o, out_stride); break;
          case 7: packed_tile(gp, blocks, tq, t, 7, o, out_stride); break;
          default: packed_tile(gp, blocks, tq, t, 8, o, out_stride); break;
        }
      }
    }
  }
}

// Repacks Q8_0 rows [0, rows) (rows a multiple of 16) into the layout above; out is 64-byte
// aligned and baton_packed_bytes long. Callers check baton_cpu_level first.
void baton_pack_q8_0(const uint8_t *w, int64_t row_bytes, int rows, int cols, uint8_t *out) {
  int blocks = cols / QK;
  for (int g = 0; g < rows / PACK_ROWS; g++) {
    for (int b = 0; b < blocks; b++) {
      uint8_t *scales = out + (size_t) g * pack_group_bytes(blocks) + PACK_SCALE_BYTES * b;
      uint8_t *o = out + (size_t) g * pack_group_bytes(blocks) + pack_scales_bytes(blocks)
                   + (size_t) b * PACK_QUANT_BYTES;
      for (int r = 0; r < PACK_ROWS; r++) {
        const uint8_t *blk = w + (size_t) (g * PACK_ROWS + r) * row_bytes + (size_t) b * Q8_BYTES;
        memcpy(scales + 2 * r, blk, 2); // the f16 scale as it is
        for (int k = 0; k < 8; k++) {
          uint32_t four; // 4 consecutive quants, made unsigned together
          memcpy(&four, blk + 2 + 4 * k, 4);
          four ^= 0x80808080u;
          memcpy(o + 64 * k + 4 * r, &four, 4);
        }
      }
    }
  }
}

#pragma GCC pop_options

// out[t * out_stride + r] = W[r, :] . x[t * x_stride ..] for r0 <= r < r1, t < n, with W in Q8_0
// (row_bytes per row, cols a multiple of 64). Returns 0, or -1 when the buffer for the quantized
// activations cannot be allocated (nothing is written then). Callers check baton_cpu_level first.
int baton_gemm_q8_0(const uint8_t *w, int64_t row_bytes, int cols, const float *x, int x_stride,
                    int n, float *out, int out_stride, int r0, int r1) {
  int pairs = cols / (2 * QK);
  pair_block *xq = thread_buffer((size_t) n * pairs * sizeof(pair_block));
  if (xq == NULL) return -1;
  quantize_tokens(x, x_stride, n, cols, xq);
  gemm_rows(w, row_bytes, pairs, xq, n, out, out_stride, r0, r1);
  return 0;
}

// The activation quantization alone, for the tests: q gets n * cols quants, d n * cols / 32
// scales and sums n * cols / 32 quant sums, token after token.
int baton_quantize_q8(const float *x, int x_stride, int n, int cols, int8_t *q, float *d,
                      int32_t *sums) {
  int pairs = cols / (2 * QK);
  pair_block *xq = thread_buffer((size_t) n * pairs * sizeof(pair_block));
  if (xq == NULL) return -1;
  quantize_tokens(x, x_stride, n, cols, xq);
  for (size_t i = 0; i < (size_t) n * pairs; i++) {
    memcpy(q + 64 * i, xq[i].q, 64);
    d[2 * i] = xq[i].scale[0];
    d[2 * i + 1] = xq[i].scale[8];
    sums[2 * i] = -xq[i].start[0] / 16;
    sums[2 * i + 1] = -xq[i].start[8] / 16;
  }
  return 0;
}

// Memory for packed weights: 2 MiB aligned and advised to be backed by transparent huge pages
// (the products stream through it once per token; 4 KiB pages cost a TLB miss every 64 lines,
// about 8 % of the matrix-vector speed measured on one core). Untouched, so the advice holds
// when the pages fault in. Free with baton_free_packed. NULL when out of memory.
void *baton_alloc_packed(int64_t bytes) {
  size_t huge = (size_t) 2 << 20;
  size_t size = ((size_t) bytes + huge - 1) & ~(huge - 1);
  void *p = aligned_alloc(huge, size);
  if (p != NULL) madvise(p, size, MADV_HUGEPAGE); // advice only: failure leaves 4 KiB pages
  return p;
}

void baton_free_packed(void *p) { free(p); }

// Bytes baton_pack_q8_0 writes for a rows x cols matrix (rows a multiple of 16).
int64_t baton_packed_bytes(int rows, int cols) {
  return (int64_t) (rows / PACK_ROWS) * (int64_t) pack_group_bytes(cols / QK);
}

// out[t * out_stride + r] = W[r, :] . q8(x[t * x_stride ..]) for r0 <= r < r1 (multiples of 16),
// t < n, with W packed by baton_pack_q8_0. Returns 0, or -1 when out of memory.
int baton_gemm_q8_0_packed(const uint8_t *packed, int cols, const float *x, int x_stride, int n,
                           float *out, int out_stride, int r0, int r1) {
  int blocks = cols / QK;
  size_t qbytes = ((size_t) n * cols + 63) & ~(size_t) 63;
  uint8_t *buf = thread_buffer(qbytes + (size_t) n * blocks * 8);
  if (buf == NULL) return -1;
  token_quants tq = {(int8_t *) buf, (float *) (buf + qbytes),
                     (int32_t *) (buf + qbytes + (size_t) n * blocks * 4)};
  quantize_plain(x, x_stride, n, cols, tq);
  packed_rows(packed, cols, &tq, n, out, out_stride, r0, r1);
  return 0;
}

// Flash attention for long prefill chunks on the tensor cores (PrefillAttention), compiled in one
// NVRTC program after kernels.cu (it uses that file's conversions, NEG_INF and act_t).
//
// Per KV head g the chunk's queries are the rows of pack_q's Qp_g (row r = token r / group, query
// head g * group + r % group, already scaled by 1/sqrt(headDim)); K and V come from gather_kv.
// A block of 4 warps takes 64 rows; each warp keeps its 16 rows' Q, the running max and sum and
// the output in registers and walks the keys in tiles of 64 held in shared memory:
// S = Q K^T and O += P V are mma.sync m16n8k16 (f16 in, fp32 accumulate), the softmax is online
// (base 2). Scores never reach global memory: the GEMM path wrote and read ~4 ms of them for a
// 2048-token prefill of the 1B shape (docs/PERFORMANCE.md). Only for f16 activations on sm_80+;
// elsewhere the kernel traps and the runner keeps the GEMM path.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 with .f16 A/B): lane = 4 * gid + tig;
//   A (16 x 16, row): a0 = (gid, 2tig..+1), a1 = (gid + 8, 2tig..), a2 = (gid, 2tig + 8..),
//                     a3 = (gid + 8, 2tig + 8..)
//   B (16 x 8, col):  b0 = (k = 2tig..+1, n = gid), b1 = (k = 2tig + 8..+9, n = gid)
//   C (16 x 8):       c0, c1 = (gid, 2tig..+1), c2, c3 = (gid + 8, 2tig..+1)
// Two f16 in one register: the lower index in the lower 16 bits.

#define FA_ROWS 64
#define FA_KEYS 64
#define FA_THREADS 128

__device__ __forceinline__ unsigned pack_f16x2(float lo, float hi) {
  return (unsigned) f32_to_f16(lo) | ((unsigned) f32_to_f16(hi) << 16);
}

__device__ __forceinline__ void mma_f16_16816(
    float* c, const unsigned* a, unsigned b0, unsigned b1) {
#if __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  __trap();
#endif
}

template <int HD>
__device__ __forceinline__ void flash_prefill_rows(
    const f16_t* qp, const f16_t* kc, const f16_t* vc, act_t* att, int L, int ctx, int start,
    int group, int heads) {
  // Shared rows padded by 8 halves: the fragment reads of a warp then hit 32 distinct banks.
  constexpr int STR = HD + 8;
  constexpr int KCH = HD / 16;   // k-chunks of Q K^T
  constexpr int OUT = HD / 8;    // n-tiles of the output
  constexpr int ST = FA_KEYS / 8;  // n-tiles of a score tile
  __shared__ __align__(16) f16_t ks[FA_KEYS * STR];
  __shared__ __align__(16) f16_t vs[FA_KEYS * STR];
  const float LOG2E = 1.4426950408889634f;
  int kvh = blockIdx.y;
  int rows = group * L;
  int warp = threadIdx.x >> 5;
  int lane = threadIdx.x & 31;
  int gid = lane >> 2;
  int tig = lane & 3;
  // The last row blocks see the most keys: start them first so no long block runs alone at the end.
  int blockRow = (gridDim.x - 1 - blockIdx.x) * FA_ROWS;
  int r0 = blockRow + warp * 16 + gid;
  int r1 = r0 + 8;
  const f16_t* q = qp + (long long) kvh * rows * HD;
  const f16_t* k = kc + (long long) kvh * ctx * HD;
  const f16_t* v = vc + (long long) kvh * ctx * HD;

  unsigned qa[KCH][4];
#pragma unroll
  for (int c = 0; c < KCH; c++) {
    int col = c * 16 + 2 * tig;
    qa[c][0] = r0 < rows ? *(const unsigned*) (q + (long long) r0 * HD + col) : 0u;
    qa[c][1] = r1 < rows ? *(const unsigned*) (q + (long long) r1 * HD + col) : 0u;
    qa[c][2] = r0 < rows ? *(const unsigned*) (q + (long long) r0 * HD + col + 8) : 0u;
    qa[c][3] = r1 < rows ? *(const unsigned*) (q + (long long) r1 * HD + col + 8) : 0u;
  }
  // Causal: row r (token r / group) sees positions <= start + r / group.
  int lim0 = start + r0 / group;
  int lim1 = start + r1 / group;
  int lastRow = min(blockRow + FA_ROWS, rows) - 1;
  int keys = min(ctx, start + lastRow / group + 1);

  float o[OUT][4];
#pragma unroll
  for (int n = 0; n < OUT; n++) {
    o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  }
  float m0 = NEG_INF, m1 = NEG_INF;  // running max (base-2 scaled scores)
  float l0 = 0.f, l1 = 0.f;          // this thread's share of the running sum

  for (int kb = 0; kb < keys; kb += FA_KEYS) {
    __syncthreads();  // the previous tile's readers are done
    for (int i = threadIdx.x; i < FA_KEYS * HD / 8; i += FA_THREADS) {
      int key = i / (HD / 8);
      int col = (i % (HD / 8)) * 8;
      uint4 kk = {0u, 0u, 0u, 0u};
      uint4 vv = {0u, 0u, 0u, 0u};
      if (kb + key < keys) {
        kk = *(const uint4*) (k + (long long) (kb + key) * HD + col);
        vv = *(const uint4*) (v + (long long) (kb + key) * HD + col);
      }
      *(uint4*) (ks + key * STR + col) = kk;
      *(uint4*) (vs + key * STR + col) = vv;
    }
    __syncthreads();

    float s[ST][4];
#pragma unroll
    for (int n = 0; n < ST; n++) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
      const f16_t* krow = ks + (n * 8 + gid) * STR + 2 * tig;
#pragma unroll
      for (int c = 0; c < KCH; c++) {
        mma_f16_16816(
            s[n], qa[c], *(const unsigned*) (krow + c * 16), *(const unsigned*) (krow + c * 16 + 8));
      }
    }

    float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
    for (int n = 0; n < ST; n++) {
#pragma unroll
      for (int e = 0; e < 2; e++) {
        int key = kb + n * 8 + 2 * tig + e;
        s[n][e] = key <= lim0 ? s[n][e] * LOG2E : NEG_INF;
        s[n][2 + e] = key <= lim1 ? s[n][2 + e] * LOG2E : NEG_INF;
        mx0 = fmaxf(mx0, s[n][e]);
        mx1 = fmaxf(mx1, s[n][2 + e]);
      }
    }
    // The four threads of a row group hold the row's 64 scores between them.
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    float n0 = fmaxf(m0, mx0);
    float n1 = fmaxf(m1, mx1);
    // A row that has seen no key yet stays at -inf; its exponentials are taken against 0 (zeros).
    float base0 = n0 == NEG_INF ? 0.f : n0;
    float base1 = n1 == NEG_INF ? 0.f : n1;
    float alpha0 = exp2f(m0 - base0);
    float alpha1 = exp2f(m1 - base1);
    m0 = n0;
    m1 = n1;
    l0 *= alpha0;
    l1 *= alpha1;
#pragma unroll
    for (int n = 0; n < OUT; n++) {
      o[n][0] *= alpha0;
      o[n][1] *= alpha0;
      o[n][2] *= alpha1;
      o[n][3] *= alpha1;
    }
    // P as A fragments: keys 16c..16c+15 are score tiles 2c (a0, a1) and 2c + 1 (a2, a3).
    unsigned pa[FA_KEYS / 16][4];
#pragma unroll
    for (int n = 0; n < ST; n++) {
      float p0 = exp2f(s[n][0] - base0);
      float p1 = exp2f(s[n][1] - base0);
      float p2 = exp2f(s[n][2] - base1);
      float p3 = exp2f(s[n][3] - base1);
      l0 += p0 + p1;
      l1 += p2 + p3;
      pa[n >> 1][(n & 1) * 2] = pack_f16x2(p0, p1);
      pa[n >> 1][(n & 1) * 2 + 1] = pack_f16x2(p2, p3);
    }
#pragma unroll
    for (int n = 0; n < OUT; n++) {
      int col = n * 8 + gid;
#pragma unroll
      for (int c = 0; c < FA_KEYS / 16; c++) {
        const f16_t* vk = vs + (c * 16 + 2 * tig) * STR + col;
        unsigned b0 = (unsigned) vk[0] | ((unsigned) vk[STR] << 16);
        unsigned b1 = (unsigned) vk[8 * STR] | ((unsigned) vk[9 * STR] << 16);
        mma_f16_16816(o[n], pa[c], b0, b1);
      }
    }
  }

  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  float inv0 = 1.f / l0;
  float inv1 = 1.f / l1;
  // att[t][(g * group + h) * HD + d], t = r / group, h = r % group (scatter_attn's layout).
  act_t* d0 = att + ((long long) (r0 / group) * heads + kvh * group + r0 % group) * HD;
  act_t* d1 = att + ((long long) (r1 / group) * heads + kvh * group + r1 % group) * HD;
#pragma unroll
  for (int n = 0; n < OUT; n++) {
    int col = n * 8 + 2 * tig;
    if (r0 < rows) {
      d0[col] = act_store(o[n][0] * inv0);
      d0[col + 1] = act_store(o[n][1] * inv0);
    }
    if (r1 < rows) {
      d1[col] = act_store(o[n][2] * inv1);
      d1[col + 1] = act_store(o[n][3] * inv1);
    }
  }
}

// Grid: (ceil(group * L / 64), kvHeads); block: 128. qp/kc/vc as pack_q and gather_kv write them.
#if defined(ACT_F16) && __CUDA_ARCH__ >= 800
#define FLASH_BODY(HD) flash_prefill_rows<HD>(qp, kc, vc, att, L, ctx, start, group, heads)
#else
#define FLASH_BODY(HD) __trap()
#endif
extern "C" __global__ void flash_prefill_32(
    const act_t* qp, const act_t* kc, const act_t* vc, act_t* att, int L, int ctx, int start,
    int group, int heads) {
  FLASH_BODY(32);
}
extern "C" __global__ void flash_prefill_64(
    const act_t* qp, const act_t* kc, const act_t* vc, act_t* att, int L, int ctx, int start,
    int group, int heads) {
  FLASH_BODY(64);
}
extern "C" __global__ void flash_prefill_128(
    const act_t* qp, const act_t* kc, const act_t* vc, act_t* att, int L, int ctx, int start,
    int group, int heads) {
  FLASH_BODY(128);
}

// Baton's CUDA kernels, compiled at start by NVRTC (no CUDA headers needed: the number
// conversions are written out below). Switches, set as -D options by CudaKernels (Precision):
//   ACT_F32  activations fed to cuBLAS and the weights are fp32
//   ACT_F16  ... are IEEE half (neither switch: bfloat16)
//   KV_F16   the KV cache holds IEEE half (default: fp32), like KvBlockPool.Dtype
// The residual stream and every GEMM output are fp32 in both modes.
//
// KV cache layout (docs/KV_LAYOUT.md, the same bytes as the CPU's KvBlockPool): block-major,
// block b = (layer, K|V, kv_head, slot, head_dim) elements.

#define NEG_INF __int_as_float(0xff800000)

typedef unsigned short bf16_t;
typedef unsigned short f16_t;

__device__ __forceinline__ float bf16_to_f32(bf16_t h) {
  return __uint_as_float(((unsigned) h) << 16);
}

// Round to nearest even, NaN kept quiet: the same rule as GgmlQuant.f32ToBf16.
__device__ __forceinline__ bf16_t f32_to_bf16(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    return (bf16_t) ((u >> 16) | 64u);
  }
  return (bf16_t) ((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

__device__ __forceinline__ float f16_to_f32(f16_t h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}

__device__ __forceinline__ f16_t f32_to_f16(float f) {
  f16_t h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

#ifdef ACT_F32
typedef float act_t;
__device__ __forceinline__ float act_load(act_t v) { return v; }
__device__ __forceinline__ act_t act_store(float f) { return f; }
#elif defined(ACT_F16)
typedef f16_t act_t;
__device__ __forceinline__ float act_load(act_t v) { return f16_to_f32(v); }
__device__ __forceinline__ act_t act_store(float f) { return f32_to_f16(f); }
#else
typedef bf16_t act_t;
__device__ __forceinline__ float act_load(act_t v) { return bf16_to_f32(v); }
__device__ __forceinline__ act_t act_store(float f) { return f32_to_bf16(f); }
#endif

#ifdef KV_F16
typedef f16_t kv_t;
__device__ __forceinline__ float kv_load(kv_t v) { return f16_to_f32(v); }
__device__ __forceinline__ kv_t kv_store(float f) { return f32_to_f16(f); }
#else
typedef float kv_t;
__device__ __forceinline__ float kv_load(kv_t v) { return v; }
__device__ __forceinline__ kv_t kv_store(float f) { return f; }
#endif

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block; every thread gets it. `scratch` holds 32 floats.
__device__ float block_sum(float v, float* scratch) {
  v = warp_sum(v);
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  int warps = (blockDim.x + 31) >> 5;
  v = lane < warps ? scratch[lane] : 0.f;
  v = warp_sum(v);
  __syncthreads();
  return v;
}

// Max over the block; every thread gets it. `scratch` holds 32 floats.
__device__ float block_max(float v, float* scratch) {
  v = warp_max(v);
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  int warps = (blockDim.x + 31) >> 5;
  v = lane < warps ? scratch[lane] : NEG_INF;
  v = warp_max(v);
  __syncthreads();
  return v;
}

// cs[t] = (cos, sin) of pos[t] * invFreq[i] for each RoPE pair i (computed in double, as the CPU
// backend does), once per step for every layer. Grid: tokens; block: any.
extern "C" __global__ void rope_table(const int* pos, const double* invFreq, float* cs, int half) {
  int t = blockIdx.x;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    double angle = (double) pos[t] * invFreq[i];
    cs[(long long) t * 2 * half + i] = (float) cos(angle);
    cs[(long long) t * 2 * half + half + i] = (float) sin(angle);
  }
}

// x[t] = table[tokens[t]] as fp32. Grid: tokens; block: any.
extern "C" __global__ void embed(const act_t* table, const int* tokens, float* x, int dim) {
  const act_t* row = table + (long long) tokens[blockIdx.x] * dim;
  float* dst = x + (long long) blockIdx.x * dim;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = act_load(row[i]);
}

// out[r] = x[rows ? rows[r] : r] * rsqrt(mean(x^2) + eps) * weight. Grid: rows; block: 256.
extern "C" __global__ void rmsnorm(
    const float* x, const float* weight, act_t* out, int dim, float eps, const int* rows) {
  __shared__ float scratch[32];
  int src = rows ? rows[blockIdx.x] : blockIdx.x;
  const float* in = x + (long long) src * dim;
  act_t* dst = out + (long long) blockIdx.x * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += in[i] * in[i];
  ss = block_sum(ss, scratch);
  float scale = 1.0f / sqrtf(ss / dim + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) dst[i] = act_store(in[i] * scale * weight[i]);
}

// The same for rows of at most NORM_REGS * blockDim elements, each thread's share held in
// registers: every load is issued before the first is used, where the loop above waits for one
// load per iteration twice (a latency chain of ~2 * dim / blockDim loads; a decode step runs 33
// of these on one row each). Grid: rows; block: >= dim / NORM_REGS, a multiple of 32.
#define NORM_REGS 8
extern "C" __global__ void rmsnorm_regs(
    const float* x, const float* weight, act_t* out, int dim, float eps, const int* rows) {
  __shared__ float scratch[32];
  int src = rows ? rows[blockIdx.x] : blockIdx.x;
  const float* in = x + (long long) src * dim;
  act_t* dst = out + (long long) blockIdx.x * dim;
  float v[NORM_REGS];
  float w[NORM_REGS];
#pragma unroll
  for (int j = 0; j < NORM_REGS; j++) {
    int i = threadIdx.x + j * blockDim.x;
    v[j] = i < dim ? in[i] : 0.f;
    w[j] = i < dim ? weight[i] : 0.f;
  }
  float ss = 0.f;
#pragma unroll
  for (int j = 0; j < NORM_REGS; j++) ss += v[j] * v[j];
  ss = block_sum(ss, scratch);
  float scale = 1.0f / sqrtf(ss / dim + eps);
#pragma unroll
  for (int j = 0; j < NORM_REGS; j++) {
    int i = threadIdx.x + j * blockDim.x;
    if (i < dim) dst[i] = act_store(v[j] * scale * w[j]);
  }
}

// Per (token, head) of the fused QKV projection output: bias, the Q/K RMSNorm (qwen3), RoPE,
// then Q stays in place and K, V go to their KV cache slot. Grid: (tokens, heads + 2 kvHeads);
// block: 32 (one warp per head). RoPE's cos/sin come from rope_table (the host's inverse
// frequencies fold in llama3 scaling).
extern "C" __global__ void qkv_prep(
    float* qkv, int qkvStride, const float* bias, const float* qNorm, const float* kNorm,
    const float* ropeCs, const int* slotBlock, const int* slotOff, kv_t* kv,
    int layer, int layers, int heads, int kvHeads, int headDim, int blockSize, float eps,
    int neox) {
  __shared__ float v[512];
  int t = blockIdx.x;
  int h = blockIdx.y;
  int lane = threadIdx.x;
  int qDim = heads * headDim;
  int kvDim = kvHeads * headDim;
  int kind;  // 0 = Q, 1 = K, 2 = V
  int head;
  int off;
  if (h < heads) {
    kind = 0; head = h; off = h * headDim;
  } else if (h < heads + kvHeads) {
    kind = 1; head = h - heads; off = qDim + head * headDim;
  } else {
    kind = 2; head = h - heads - kvHeads; off = qDim + kvDim + head * headDim;
  }
  float* row = qkv + (long long) t * qkvStride + off;
  for (int i = lane; i < headDim; i += 32) v[i] = row[i] + (bias ? bias[off + i] : 0.f);
  __syncwarp();
  const float* norm = kind == 0 ? qNorm : (kind == 1 ? kNorm : 0);
  if (norm) {
    float ss = 0.f;
    for (int i = lane; i < headDim; i += 32) ss += v[i] * v[i];
    ss = warp_sum(ss);
    float scale = 1.0f / sqrtf(ss / headDim + eps);
    for (int i = lane; i < headDim; i += 32) v[i] = v[i] * scale * norm[i];
    __syncwarp();
  }
  if (kind < 2) {
    int half = headDim / 2;
    const float* cs = ropeCs + (long long) t * 2 * half;
    for (int i = lane; i < half; i += 32) {
      float c = cs[i];
      float s = cs[half + i];
      int ia = neox ? i : 2 * i;
      int ib = neox ? i + half : 2 * i + 1;
      float a = v[ia];
      float b = v[ib];
      v[ia] = a * c - b * s;
      v[ib] = a * s + b * c;
    }
    __syncwarp();
  }
  if (kind == 0) {
    for (int i = lane; i < headDim; i += 32) row[i] = v[i];
    return;
  }
  long long blockElems = (long long) layers * 2 * kvHeads * blockSize * headDim;
  long long dst = slotBlock[t] * blockElems
      + ((((long long) layer * 2 + (kind - 1)) * kvHeads + head) * blockSize + slotOff[t]) * headDim;
  for (int i = lane; i < headDim; i += 32) kv[dst + i] = kv_store(v[i]);
}

#define ATT_THREADS 128
#define ATT_TILE 128
#define ATT_MAX_GROUP 8
#define ATT_MAX_ACC 8

// Paged attention, decode and (chunked) prefill alike: one block per (token, kv head) attends
// the `group` query heads that share that KV head over positions 0..seqLen[t]-1 of the token's
// sequence, in tiles of ATT_TILE positions with an online softmax (flash-style), so K and V are
// read once per group. Needs group <= 8 and group * headDim <= 1024.
// Grid: (tokens, kvHeads); block: ATT_THREADS; dynamic shared memory: attentionSharedBytes().
extern "C" __global__ void attention(
    const float* qkv, int qkvStride, const kv_t* kv, act_t* out, const int* seqLen,
    const int* tableStart, const int* tables, int layer, int layers, int heads, int kvHeads,
    int headDim, int blockSize, float scale) {
  extern __shared__ long long smem[];
  long long* kOff = smem;                              // ATT_TILE
  float* qs = (float*) (kOff + ATT_TILE);              // group * headDim
  int group = heads / kvHeads;
  float* sc = qs + group * headDim;                    // group * ATT_TILE
  float* corr = sc + group * ATT_TILE;                 // group
  float* runMax = corr + group;                        // group
  float* runSum = runMax + group;                      // group

  int t = blockIdx.x;
  int g = blockIdx.y;
  int tid = threadIdx.x;
  int lane = tid & 31;
  int warp = tid >> 5;
  int len = seqLen[t];
  if (len == 0) return;  // this token's chunk runs on the GEMM path (PrefillAttention)
  const int* table = tables + tableStart[t];
  int width = group * headDim;
  long long blockElems = (long long) layers * 2 * kvHeads * blockSize * headDim;
  long long vDelta = (long long) kvHeads * blockSize * headDim;

  const float* q = qkv + (long long) t * qkvStride + g * width;
  for (int i = tid; i < width; i += ATT_THREADS) qs[i] = q[i] * scale;
  if (tid < group) {
    runMax[tid] = NEG_INF;
    runSum[tid] = 0.f;
  }
  float acc[ATT_MAX_ACC];
#pragma unroll
  for (int k = 0; k < ATT_MAX_ACC; k++) acc[k] = 0.f;

  for (int p0 = 0; p0 < len; p0 += ATT_TILE) {
    int p = p0 + tid;
    if (p < len) {
      long long blk = table[p / blockSize];
      kOff[tid] = blk * blockElems
          + ((((long long) layer * 2) * kvHeads + g) * blockSize + p % blockSize) * headDim;
    }
    __syncthreads();
    if (p < len) {
      float s[ATT_MAX_GROUP];
#pragma unroll
      for (int h = 0; h < ATT_MAX_GROUP; h++) s[h] = 0.f;
      const kv_t* krow = kv + kOff[tid];
      // Unrolled so that many loads are in flight (the row is this thread's alone).
#pragma unroll 16
      for (int d = 0; d < headDim; d++) {
        float kd = kv_load(krow[d]);
#pragma unroll
        for (int h = 0; h < ATT_MAX_GROUP; h++) {
          if (h < group) s[h] += qs[h * headDim + d] * kd;
        }
      }
#pragma unroll
      for (int h = 0; h < ATT_MAX_GROUP; h++) {
        if (h < group) sc[h * ATT_TILE + tid] = s[h];
      }
    } else {
      for (int h = 0; h < group; h++) sc[h * ATT_TILE + tid] = NEG_INF;
    }
    __syncthreads();
    for (int h = warp; h < group; h += ATT_THREADS / 32) {
      float m = NEG_INF;
      for (int j = lane; j < ATT_TILE; j += 32) m = fmaxf(m, sc[h * ATT_TILE + j]);
      m = warp_max(m);
      float newMax = fmaxf(runMax[h], m);
      float sum = 0.f;
      for (int j = lane; j < ATT_TILE; j += 32) {
        float e = expf(sc[h * ATT_TILE + j] - newMax);
        sc[h * ATT_TILE + j] = e;
        sum += e;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        float c = expf(runMax[h] - newMax);
        corr[h] = c;
        runSum[h] = runSum[h] * c + sum;
        runMax[h] = newMax;
      }
    }
    __syncthreads();
    int tileLen = min(ATT_TILE, len - p0);
#pragma unroll
    for (int k = 0; k < ATT_MAX_ACC; k++) {
      int idx = tid + k * ATT_THREADS;
      if (idx < width) {
        int h = idx / headDim;
        int d = idx - h * headDim;
        const float* w = sc + h * ATT_TILE;
        float a = acc[k] * corr[h];
#pragma unroll 8
        for (int j = 0; j < tileLen; j++) a += w[j] * kv_load(kv[kOff[j] + vDelta + d]);
        acc[k] = a;
      }
    }
    __syncthreads();
  }
  act_t* o = out + (long long) t * heads * headDim + g * width;
#pragma unroll
  for (int k = 0; k < ATT_MAX_ACC; k++) {
    int idx = tid + k * ATT_THREADS;
    if (idx < width) o[idx] = act_store(acc[k] / runSum[idx / headDim]);
  }
}

// ---- Decode-sized steps: attention split over the context (flash-decoding) ------------------
// The kernel above gives one block per (token, kv head): 8 blocks for a single sequence, each
// walking its whole context. Here the context of each token is cut into up to ATT_SPLITS slices of
// at least ATT_SPLIT_MIN positions; a block of 4 warps attends one slice (a warp per position,
// ATT_DPL head dims per lane) and leaves per head (max, sum, unnormalised output) in `part`;
// attention_combine merges the slices. The grid is fixed (ATT_SPLITS slices whatever the lengths)
// so a recorded CUDA graph stays valid as sequences grow; slices past a token's end stay empty.
// Needs headDim <= 32 * ATT_DPL and group <= ATT_MAX_GROUP.
#define ATT_SPLITS 32
#define ATT_DPL 4
// Grid: (tokens, kvHeads * ATT_SPLITS); block: 128.
extern "C" __global__ void attention_split(
    const float* qkv, int qkvStride, const kv_t* kv, float* part, const int* seqLen,
    const int* tableStart, const int* tables, int layer, int layers, int heads, int kvHeads,
    int headDim, int blockSize, float scale, int minChunk) {
  __shared__ float wm[4][ATT_MAX_GROUP];
  __shared__ float wl[4][ATT_MAX_GROUP];
  __shared__ float wacc[4][ATT_MAX_GROUP][32 * ATT_DPL];
  int t = blockIdx.x;
  int g = blockIdx.y / ATT_SPLITS;
  int s = blockIdx.y - g * ATT_SPLITS;
  int len = seqLen[t];
  if (len == 0) return;  // this token's chunk runs on the GEMM path (PrefillAttention)
  int group = heads / kvHeads;
  int rec = headDim + 2;
  float* dst = part + (((long long) t * kvHeads + g) * ATT_SPLITS + s) * group * rec;
  int chunk = max(minChunk, (len + ATT_SPLITS - 1) / ATT_SPLITS);
  int from = s * chunk;
  int to = min(len, from + chunk);
  if (from >= to) {
    if (threadIdx.x < group) dst[threadIdx.x * rec] = NEG_INF;
    return;
  }
  int warp = threadIdx.x >> 5;
  int lane = threadIdx.x & 31;
  const float* q = qkv + (long long) t * qkvStride + g * group * headDim;
  float qr[ATT_MAX_GROUP][ATT_DPL];
  float m[ATT_MAX_GROUP];
  float l[ATT_MAX_GROUP];
  float acc[ATT_MAX_GROUP][ATT_DPL];
#pragma unroll
  for (int h = 0; h < ATT_MAX_GROUP; h++) {
    m[h] = NEG_INF;
    l[h] = 0.f;
#pragma unroll
    for (int k = 0; k < ATT_DPL; k++) {
      int d = lane + 32 * k;
      qr[h][k] = h < group && d < headDim ? q[h * headDim + d] * scale : 0.f;
      acc[h][k] = 0.f;
    }
  }
  const int* table = tables + tableStart[t];
  long long blockElems = (long long) layers * 2 * kvHeads * blockSize * headDim;
  long long vDelta = (long long) kvHeads * blockSize * headDim;
#pragma unroll 2
  for (int p = from + warp; p < to; p += 4) {
    long long off = table[p / blockSize] * blockElems
        + ((((long long) layer * 2) * kvHeads + g) * blockSize + p % blockSize) * headDim;
    float kf[ATT_DPL];
    float vf[ATT_DPL];
#pragma unroll
    for (int k = 0; k < ATT_DPL; k++) {
      int d = lane + 32 * k;
      kf[k] = d < headDim ? kv_load(kv[off + d]) : 0.f;
      vf[k] = d < headDim ? kv_load(kv[off + vDelta + d]) : 0.f;
    }
#pragma unroll
    for (int h = 0; h < ATT_MAX_GROUP; h++) {
      if (h < group) {
        float sc = 0.f;
#pragma unroll
        for (int k = 0; k < ATT_DPL; k++) sc += qr[h][k] * kf[k];
        sc = warp_sum(sc);
        float nm = fmaxf(m[h], sc);
        float c = expf(m[h] - nm);
        float e = expf(sc - nm);
        l[h] = l[h] * c + e;
#pragma unroll
        for (int k = 0; k < ATT_DPL; k++) acc[h][k] = acc[h][k] * c + e * vf[k];
        m[h] = nm;
      }
    }
  }
#pragma unroll
  for (int h = 0; h < ATT_MAX_GROUP; h++) {
    if (h < group) {
      if (lane == 0) {
        wm[warp][h] = m[h];
        wl[warp][h] = l[h];
      }
#pragma unroll
      for (int k = 0; k < ATT_DPL; k++) wacc[warp][h][lane + 32 * k] = acc[h][k];
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < group * headDim; idx += blockDim.x) {
    int h = idx / headDim;
    int d = idx - h * headDim;
    float mx = NEG_INF;
    for (int w = 0; w < 4; w++) mx = fmaxf(mx, wm[w][h]);
    float sum = 0.f;
    float a = 0.f;
    for (int w = 0; w < 4; w++) {
      if (wm[w][h] != NEG_INF) {
        float f = expf(wm[w][h] - mx);
        sum += wl[w][h] * f;
        a += wacc[w][h][d] * f;
      }
    }
    dst[h * rec + 2 + d] = a;
    if (d == 0) {
      dst[h * rec] = mx;
      dst[h * rec + 1] = sum;
    }
  }
}

// out[t][head * headDim + d] = the slices of attention_split merged. Grid: (tokens, heads);
// block: headDim (<= 1024).
extern "C" __global__ void attention_combine(
    const float* part, act_t* out, const int* seqLen, int heads, int kvHeads, int headDim) {
  int t = blockIdx.x;
  int head = blockIdx.y;
  if (seqLen[t] == 0) return;
  int group = heads / kvHeads;
  int g = head / group;
  int rec = headDim + 2;
  long long stride = (long long) group * rec;
  const float* base = part + ((long long) t * kvHeads + g) * ATT_SPLITS * stride
      + (long long) (head - g * group) * rec;
  float mx = NEG_INF;
  for (int s = 0; s < ATT_SPLITS; s++) mx = fmaxf(mx, base[s * stride]);
  int d = threadIdx.x;
  float sum = 0.f;
  float a = 0.f;
  for (int s = 0; s < ATT_SPLITS; s++) {
    float ms = base[s * stride];
    if (ms != NEG_INF) {
      float f = expf(ms - mx);
      sum += base[s * stride + 1] * f;
      if (d < headDim) a += base[s * stride + 2 + d] * f;
    }
  }
  if (d < headDim) out[((long long) t * heads + head) * headDim + d] = act_store(a / sum);
}

// ---- Long prefill chunks: attention as two cuBLAS GEMMs (PrefillAttention) -------------------
// For one chunk of L tokens at positions start..start+L-1 of a sequence with C = start + L
// positions, per KV head g: S = Qp_g K_g^T (rows t*group + h, scaled), causal softmax, O = P V_g.

// kc/vc[g][p][d] = the sequence's K/V at position p < C, gathered from its KV blocks.
// Grid: (C, kvHeads); block: any.
extern "C" __global__ void gather_kv(
    const kv_t* kv, act_t* kc, act_t* vc, const int* table, int ctx, int layer, int layers,
    int kvHeads, int headDim, int blockSize) {
  int p = blockIdx.x;
  int g = blockIdx.y;
  long long blockElems = (long long) layers * 2 * kvHeads * blockSize * headDim;
  long long k = table[p / blockSize] * blockElems
      + ((((long long) layer * 2) * kvHeads + g) * blockSize + p % blockSize) * headDim;
  long long v = k + (long long) kvHeads * blockSize * headDim;
  long long dst = ((long long) g * ctx + p) * headDim;
  for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
    kc[dst + d] = act_store(kv_load(kv[k + d]));
    vc[dst + d] = act_store(kv_load(kv[v + d]));
  }
}

// qp[g][t * group + h][d] = q[t][(g * group + h) * headDim + d] * scale. One thread per element.
extern "C" __global__ void pack_q(
    const float* qkv, int qkvStride, act_t* qp, int L, int heads, int kvHeads, int headDim,
    float scale) {
  int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= L * heads * headDim) return;
  int d = idx % headDim;
  int h = (idx / headDim) % heads;
  int t = idx / (headDim * heads);
  int group = heads / kvHeads;
  int g = h / group;
  qp[(((long long) g * L + t) * group + (h - g * group)) * headDim + d] =
      act_store(qkv[(long long) t * qkvStride + h * headDim + d] * scale);
}

// p[r][c] = softmax over c <= start + t of s[r][c] (0 beyond), t = (r % (group * L)) / group.
// One warp per row, no block barriers: an online max/sum in one read, then a second read (from L2)
// that writes. Measured on an H200 (ncu, 2048-token prefill): a block of 256 per row with the row
// in shared memory and two block reductions moved 0.95 TB/s.
// Scores fp32 (causal_softmax) or IEEE half (causal_softmax_h).
// Grid: ceil(rows / 8); block: 256.
__device__ __forceinline__ float score_load(float v) { return v; }
__device__ __forceinline__ float score_load(f16_t v) { return f16_to_f32(v); }
template <typename S>
__device__ __forceinline__ void causal_softmax_rows(
    const S* s, act_t* p, int ctx, int group, int L, int start, int rows) {
  int lane = threadIdx.x & 31;
  long long r = (long long) blockIdx.x * 8 + (threadIdx.x >> 5);
  if (r >= rows) return;
  int t = (int) ((r % ((long long) group * L)) / group);
  int valid = start + t + 1;
  const S* row = s + r * ctx;
  act_t* out = p + r * ctx;
  float m = NEG_INF;
  float sum = 0.f;
  for (int c = lane; c < valid; c += 32) {
    float v = score_load(row[c]);
    if (v > m) {
      sum = sum * expf(m - v) + 1.f;
      m = v;
    } else {
      sum += expf(v - m);
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float om = __shfl_xor_sync(0xffffffffu, m, o);
    float os = __shfl_xor_sync(0xffffffffu, sum, o);
    float nm = fmaxf(m, om);
    sum = (m == NEG_INF ? 0.f : sum * expf(m - nm)) + (om == NEG_INF ? 0.f : os * expf(om - nm));
    m = nm;
  }
  float inv = 1.0f / sum;
  for (int c = lane; c < ctx; c += 32) {
    out[c] = act_store(c < valid ? expf(score_load(row[c]) - m) * inv : 0.f);
  }
}

extern "C" __global__ void causal_softmax(
    const float* s, act_t* p, int ctx, int group, int L, int start, int rows) {
  causal_softmax_rows(s, p, ctx, group, L, start, rows);
}
extern "C" __global__ void causal_softmax_h(
    const f16_t* s, act_t* p, int ctx, int group, int L, int start, int rows) {
  causal_softmax_rows(s, p, ctx, group, L, start, rows);
}

// att[t][(g * group + h) * headDim + d] = o[g][t * group + h][d]. One thread per element.
extern "C" __global__ void scatter_attn(
    const float* o, act_t* att, int L, int heads, int kvHeads, int headDim) {
  int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= L * heads * headDim) return;
  int d = idx % headDim;
  int h = (idx / headDim) % heads;
  int t = idx / (headDim * heads);
  int group = heads / kvHeads;
  int g = h / group;
  att[idx] = act_store(o[(((long long) g * L + t) * group + (h - g * group)) * headDim + d]);
}

// ---- Decode-sized linear layers: y (n x out, fp32) (+)= x (n x in) . W^T, W (out x in) ---------
// 16-byte loads of W, all n <= GEMV_MAX_N inputs at once, so W is read once (cuBLAS's GEMM
// kernels read it once per tile of inputs). Needs in to be a multiple of ACT_VEC.
#define GEMV_MAX_N 8
#ifdef ACT_F32
#define ACT_VEC 4
__device__ __forceinline__ void unpack(uint4 v, float* f) {
  f[0] = __uint_as_float(v.x); f[1] = __uint_as_float(v.y);
  f[2] = __uint_as_float(v.z); f[3] = __uint_as_float(v.w);
}
#else
#define ACT_VEC 8
__device__ __forceinline__ void unpack(uint4 v, float* f) {
  f[0] = act_load((act_t) (v.x & 0xffffu)); f[1] = act_load((act_t) (v.x >> 16));
  f[2] = act_load((act_t) (v.y & 0xffffu)); f[3] = act_load((act_t) (v.y >> 16));
  f[4] = act_load((act_t) (v.z & 0xffffu)); f[5] = act_load((act_t) (v.z >> 16));
  f[6] = act_load((act_t) (v.w & 0xffffu)); f[7] = act_load((act_t) (v.w >> 16));
}
#endif

// One warp per output row; each lane issues U independent 16-byte weight loads before using them
// (weights are read once, so they bypass L1). Grid: ceil(out / 8); block: 256.
// Measured on an H200 by GemvProbe (f16, one row): cuBLAS reads the 1B model's projections at
// 1.4-4.2 TB/s, this kernel at 1.2-2.3 TB/s (U = 8 and a block per row were slower still), so the
// runner uses cuBLAS; the kernel stays for the side-by-side (GpuBench decode_1_gemv).
template <int U, int STRIDE>
__device__ __forceinline__ void gemv_part(
    const uint4* wr, const act_t* x, int n, int in, int chunks, int first, float* acc) {
  for (int c0 = first; c0 < chunks; c0 += STRIDE * U) {
    uint4 wv[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      int c = c0 + STRIDE * u;
      if (c < chunks) wv[u] = __ldg(wr + c);
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      int c = c0 + STRIDE * u;
      if (c < chunks) {
        float wf[ACT_VEC];
        unpack(wv[u], wf);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) {
          if (t < n) {
            float xf[ACT_VEC];
            unpack(__ldg((const uint4*) (x + (long long) t * in) + c), xf);
#pragma unroll
            for (int e = 0; e < ACT_VEC; e++) acc[t] += wf[e] * xf[e];
          }
        }
      }
    }
  }
}
template <int U>
__device__ __forceinline__ void gemv_warp(
    const act_t* w, const act_t* x, float* y, int n, int out, int in, int ldy, int accumulate) {
  int row = (int) ((blockIdx.x * (long long) blockDim.x + threadIdx.x) >> 5);
  int lane = threadIdx.x & 31;
  if (row >= out) return;
  float acc[GEMV_MAX_N];
#pragma unroll
  for (int t = 0; t < GEMV_MAX_N; t++) acc[t] = 0.f;
  gemv_part<U, 32>(
      (const uint4*) (w + (long long) row * in), x, n, in, in / ACT_VEC, lane, acc);
#pragma unroll
  for (int t = 0; t < GEMV_MAX_N; t++) {
    if (t < n) {
      float v = warp_sum(acc[t]);
      if (lane == 0) {
        float* dst = y + (long long) t * ldy + row;
        *dst = accumulate ? *dst + v : v;
      }
    }
  }
}
extern "C" __global__ void gemv(
    const act_t* w, const act_t* x, float* y, int n, int out, int in, int ldy, int accumulate) {
  gemv_warp<4>(w, x, y, n, out, in, ldy, accumulate);
}

// b[i] = a[i] for n float4s: the device's copy bandwidth, the ceiling GemvProbe compares with.
extern "C" __global__ void copy_f4(const uint4* a, uint4* b, long long n) {
  for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n;
       i += (long long) gridDim.x * blockDim.x) {
    b[i] = __ldg(a + i);
  }
}

// out[t][i] = silu(gate) * up, from the fused gate/up projection row [gate(ffn), up(ffn)].
// Grid: (ceil(ffn / 256), tokens); block: 256.
extern "C" __global__ void silu_mul(const float* gateUp, act_t* out, int ffn) {
  int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= ffn) return;
  long long t = blockIdx.y;
  float g = gateUp[t * 2 * ffn + c];
  float u = gateUp[t * 2 * ffn + ffn + c];
  out[t * ffn + c] = act_store(g / (1.0f + expf(-g)) * u);
}

// Argmax in two passes, so that a row of 128k logits is read by many SMs, not one block:
// argmax_partial: the best (value, lowest index) of each of ARGMAX_SPLITS slices of row r, into
// part[r][s]; argmax_final: the best of those, ties to the lowest index (as the CPU sampler).
// Grids: (ARGMAX_SPLITS, rows) x 256 threads, then rows x 32 threads.
#define ARGMAX_SPLITS 64
__device__ __forceinline__ void better(float& v, int& i, float ov, int oi) {
  if (ov > v || (ov == v && oi < i)) {
    v = ov;
    i = oi;
  }
}
__device__ __forceinline__ void warp_argmax(float& v, int& i) {
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, v, o);
    int oi = __shfl_xor_sync(0xffffffffu, i, o);
    better(v, i, ov, oi);
  }
}
extern "C" __global__ void argmax_partial(
    const float* logits, int vocab, float* partV, int* partI) {
  __shared__ float wv[8];
  __shared__ int wi[8];
  int r = blockIdx.y;
  int slice = (vocab + ARGMAX_SPLITS - 1) / ARGMAX_SPLITS;
  int from = blockIdx.x * slice;
  int to = min(vocab, from + slice);
  const float* row = logits + (long long) r * vocab;
  float v = NEG_INF;
  int idx = 0x7fffffff;
  for (int i = from + threadIdx.x; i < to; i += blockDim.x) better(v, idx, row[i], i);
  warp_argmax(v, idx);
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x >> 5;
  if (lane == 0) {
    wv[warp] = v;
    wi[warp] = idx;
  }
  __syncthreads();
  if (warp == 0) {
    v = lane < (blockDim.x >> 5) ? wv[lane] : NEG_INF;
    idx = lane < (blockDim.x >> 5) ? wi[lane] : 0x7fffffff;
    warp_argmax(v, idx);
    if (lane == 0) {
      partV[r * ARGMAX_SPLITS + blockIdx.x] = v;
      partI[r * ARGMAX_SPLITS + blockIdx.x] = idx;
    }
  }
}
extern "C" __global__ void argmax_final(const float* partV, const int* partI, int* out) {
  int r = blockIdx.x;
  float v = NEG_INF;
  int idx = 0x7fffffff;
  for (int s = threadIdx.x; s < ARGMAX_SPLITS; s += 32) {
    better(v, idx, partV[r * ARGMAX_SPLITS + s], partI[r * ARGMAX_SPLITS + s]);
  }
  warp_argmax(v, idx);
  if (threadIdx.x == 0) out[r] = idx == 0x7fffffff ? 0 : idx;
}

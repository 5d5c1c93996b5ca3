// Fused LayerNorm CPU row kernels (see layer_norm_cpu.h).
//
// Compiled on its own with -O3, -ffp-contract=fast and the build machine's vector ISA; the loops
// are written lane-wise (kLanes independent accumulators) so the compiler vectorises them
// without reassociating floating-point sums. Nothing here depends on TensorFlow.
#include "layer_norm_cpu.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace tfmodels_ln {
namespace {

constexpr int kLanes = 32;
// A block must hold at least this many elements before it is worth a thread hand-off.
constexpr int64_t kMinBlockElems = int64_t{1} << 15;

inline float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
inline uint32_t FloatToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

// IEEE binary16 <-> binary32, round to nearest even (software path, any CPU).
inline float HalfToFloatSoft(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float mag = static_cast<float>(mant) * 5.9604644775390625e-08f;  // mant * 2^-24
    return BitsToFloat(sign | FloatToBits(mag));
  }
  if (exp == 31) return BitsToFloat(sign | 0x7f800000u | (mant << 13));
  return BitsToFloat(sign | ((exp + 112u) << 23) | (mant << 13));
}

inline uint16_t FloatToHalfSoft(float value) {
  uint32_t f = FloatToBits(value);
  const uint32_t sign = (f >> 16) & 0x8000u;
  f &= 0x7fffffffu;
  if (f >= 0x47800000u) {  // |value| >= 65536: inf, nan, or overflow
    return static_cast<uint16_t>(sign | (f > 0x7f800000u ? 0x7e00u : 0x7c00u));
  }
  if (f < 0x38800000u) {  // below the smallest normal half: let the FPU round at 2^-24
    const float v = BitsToFloat(f) + 0.5f;
    return static_cast<uint16_t>(sign | (FloatToBits(v) - 0x3f000000u));
  }
  const uint32_t odd = (f >> 13) & 1u;
  f += 0xc8000fffu + odd;  // re-bias the exponent by -112 and round the 13 dropped bits
  return static_cast<uint16_t>(sign | (f >> 13));
}

void HalfToFloat(const uint16_t* src, float* dst, int64_t count) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= count; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < count; ++i) dst[i] = HalfToFloatSoft(src[i]);
}

void FloatToHalf(const float* src, uint16_t* dst, int64_t count) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= count; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
#endif
  for (; i < count; ++i) dst[i] = FloatToHalfSoft(src[i]);
}

void BfloatToFloat(const uint16_t* __restrict src, float* __restrict dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) dst[i] = BitsToFloat(static_cast<uint32_t>(src[i]) << 16);
}

void FloatToBfloat(const float* __restrict src, uint16_t* __restrict dst, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t bits = FloatToBits(src[i]);
    const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    const uint32_t quiet_nan = (bits >> 16) | 0x40u;
    dst[i] = static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
  }
}

// 8 float lanes (GCC/Clang vector extension: one AVX register, or two SSE/NEON registers).
typedef float Vec8 __attribute__((vector_size(32)));
constexpr int kVecs = kLanes / 8;

inline Vec8 LoadVec(const float* p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// One pass over the row: kLanes Welford accumulators (all with the same count, so the update
// uses one reciprocal per step), merged pairwise with Chan et al.'s formula; the tail
// (n % kLanes elements) continues the Welford recurrence on the merged result.
inline void RowMoments(const float* __restrict x, int64_t n, float* mean_out, float* m2_out) {
  Vec8 m[kVecs] = {};
  Vec8 s[kVecs] = {};
  const int64_t steps = n / kLanes;
  for (int64_t k = 0; k < steps; ++k) {
    const float inv = 1.0f / static_cast<float>(k + 1);
    const float* xp = x + k * kLanes;
    for (int j = 0; j < kVecs; ++j) {
      const Vec8 v = LoadVec(xp + 8 * j);
      const Vec8 d = v - m[j];
      m[j] += d * inv;
      s[j] += d * (v - m[j]);
    }
  }
  float mu = 0.0f;
  float m2 = 0.0f;
  float count = 0.0f;
  if (steps > 0) {
    float lm[kLanes], ls[kLanes];
    std::memcpy(lm, m, sizeof(lm));
    std::memcpy(ls, s, sizeof(ls));
    float c = static_cast<float>(steps);
    for (int w = kLanes / 2; w >= 1; w /= 2) {
      for (int j = 0; j < w; ++j) {
        const float d = lm[j + w] - lm[j];
        lm[j] += 0.5f * d;
        ls[j] += ls[j + w] + d * d * (0.5f * c);
      }
      c *= 2.0f;
    }
    mu = lm[0];
    m2 = ls[0];
    count = c;
  }
  for (int64_t i = steps * kLanes; i < n; ++i) {
    count += 1.0f;
    const float d = x[i] - mu;
    mu += d / count;
    m2 += d * (x[i] - mu);
  }
  *mean_out = mu;
  *m2_out = m2;
}

inline void RowForward(const float* __restrict x, const float* __restrict gamma,
                       const float* __restrict beta, int64_t n, float epsilon,
                       float* __restrict y, float* mean_out, float* rstd_out) {
  float mu, m2;
  RowMoments(x, n, &mu, &m2);
  const float r = 1.0f / std::sqrt(m2 / static_cast<float>(n) + epsilon);
  const float shift = -mu * r;
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * r + shift) * gamma[i] + beta[i];
  *mean_out = mu;
  *rstd_out = r;
}

// Backward over a group of K consecutive rows (row stride n):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma,  xhat = (x - mean) * rstd,
// plus dmean / n - drstd * rstd^2 * xhat / n for gradients reaching the mean / rstd outputs
// (d mean / dx = 1/n, d rstd / dx = -rstd^3 (x - mean) / n): per-row constants a and b below.
// Pass 1 (per row) sums g and g * xhat; pass 2 (rows in L1) writes dx and adds the group's
// dy * xhat and dy to dgamma / dbeta once per column, so the partial sums are read and
// written once per K rows rather than once per row.
constexpr int kRowGroup = 4;

template <int K>
inline void RowGroupBackward(const float* __restrict dy, const float* __restrict x,
                             const float* mean, const float* rstd, const float* dmean,
                             const float* drstd, const float* __restrict gamma, int64_t n,
                             float* __restrict dx, float* __restrict dgamma,
                             float* __restrict dbeta) {
  float mu[K], r[K], a[K], b[K];
  const int64_t full = n / kLanes * kLanes;
  const float inv_n = 1.0f / static_cast<float>(n);
  for (int q = 0; q < K; ++q) {
    const float* xq = x + q * n;
    const float* dyq = dy + q * n;
    mu[q] = mean[q];
    r[q] = rstd[q];
    Vec8 sg[kVecs] = {};
    Vec8 sgx[kVecs] = {};
    const Vec8 muv = Vec8{} + mu[q];
    for (int64_t i = 0; i < full; i += kLanes) {
      for (int j = 0; j < kVecs; ++j) {
        const Vec8 xh = (LoadVec(xq + i + 8 * j) - muv) * r[q];
        const Vec8 g = LoadVec(dyq + i + 8 * j) * LoadVec(gamma + i + 8 * j);
        sg[j] += g;
        sgx[j] += g * xh;
      }
    }
    float lg[kLanes], lgx[kLanes];
    std::memcpy(lg, sg, sizeof(lg));
    std::memcpy(lgx, sgx, sizeof(lgx));
    for (int64_t i = full; i < n; ++i) {
      const float g = dyq[i] * gamma[i];
      lg[0] += g;
      lgx[0] += g * (xq[i] - mu[q]) * r[q];
    }
    for (int w = kLanes / 2; w >= 1; w /= 2) {
      for (int j = 0; j < w; ++j) {
        lg[j] += lg[j + w];
        lgx[j] += lgx[j + w];
      }
    }
    const float dm = dmean ? dmean[q] : 0.0f;
    const float dr = drstd ? drstd[q] : 0.0f;
    a[q] = r[q] * lg[0] * inv_n - dm * inv_n;
    b[q] = r[q] * lgx[0] * inv_n + dr * r[q] * r[q] * inv_n;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float g = gamma[i];
    float dgs = 0.0f;
    float dbs = 0.0f;
    for (int q = 0; q < K; ++q) {
      const float d = dy[q * n + i];
      const float xh = (x[q * n + i] - mu[q]) * r[q];
      dx[q * n + i] = r[q] * d * g - a[q] - xh * b[q];
      dgs += d * xh;
      dbs += d;
    }
    dgamma[i] += dgs;
    dbeta[i] += dbs;
  }
}

// Rows [0, count) of a float block, in groups of kRowGroup.
inline void RowsBackward(const float* dy, const float* x, const float* mean, const float* rstd,
                         const float* dmean, const float* drstd, const float* gamma,
                         int64_t count, int64_t n, float* dx, float* dgamma, float* dbeta) {
  int64_t row = 0;
  for (; row + kRowGroup <= count; row += kRowGroup) {
    RowGroupBackward<kRowGroup>(dy + row * n, x + row * n, mean + row, rstd + row,
                                dmean ? dmean + row : nullptr, drstd ? drstd + row : nullptr,
                                gamma, n, dx + row * n, dgamma, dbeta);
  }
  for (; row < count; ++row) {
    RowGroupBackward<1>(dy + row * n, x + row * n, mean + row, rstd + row,
                        dmean ? dmean + row : nullptr, drstd ? drstd + row : nullptr, gamma, n,
                        dx + row * n, dgamma, dbeta);
  }
}

int64_t NumBlocks(int64_t rows, int64_t n, int num_threads) {
  if (rows <= 0) return 0;
  const int64_t by_size = std::max<int64_t>(1, rows * n / kMinBlockElems);
  const int64_t by_threads = std::max(1, num_threads);
  return std::max<int64_t>(1, std::min({rows, by_size, by_threads}));
}

inline int64_t BlockStart(int64_t block, int64_t num_blocks, int64_t rows) {
  return rows * block / num_blocks;
}

size_t ElementSize(DType t) { return t == DType::kF32 ? 4 : 2; }

}  // namespace

void ToFloat(DType t, const void* src, float* dst, int64_t count) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, sizeof(float) * count);
      break;
    case DType::kF16:
      HalfToFloat(static_cast<const uint16_t*>(src), dst, count);
      break;
    case DType::kBF16:
      BfloatToFloat(static_cast<const uint16_t*>(src), dst, count);
      break;
  }
}

void FromFloat(DType t, const float* src, void* dst, int64_t count) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, sizeof(float) * count);
      break;
    case DType::kF16:
      FloatToHalf(src, static_cast<uint16_t*>(dst), count);
      break;
    case DType::kBF16:
      FloatToBfloat(src, static_cast<uint16_t*>(dst), count);
      break;
  }
}

void Forward(DType t, const void* x, const float* gamma, const float* beta, float epsilon,
             int64_t rows, int64_t n, void* y, float* mean, float* rstd, int num_threads,
             const ParallelFn& parallel) {
  const int64_t num_blocks = NumBlocks(rows, n, num_threads);
  if (num_blocks == 0 || n <= 0) return;
  const size_t esize = ElementSize(t);
  auto run_block = [&](int64_t block) {
    const int64_t begin = BlockStart(block, num_blocks, rows);
    const int64_t end = BlockStart(block + 1, num_blocks, rows);
    if (t == DType::kF32) {
      const float* xf = static_cast<const float*>(x);
      float* yf = static_cast<float*>(y);
      for (int64_t row = begin; row < end; ++row) {
        RowForward(xf + row * n, gamma, beta, n, epsilon, yf + row * n, mean + row, rstd + row);
      }
      return;
    }
    std::vector<float> scratch(2 * n);
    float* xs = scratch.data();
    float* ys = xs + n;
    for (int64_t row = begin; row < end; ++row) {
      ToFloat(t, static_cast<const char*>(x) + row * n * esize, xs, n);
      RowForward(xs, gamma, beta, n, epsilon, ys, mean + row, rstd + row);
      FromFloat(t, ys, static_cast<char*>(y) + row * n * esize, n);
    }
  };
  if (num_blocks == 1) {
    run_block(0);
  } else {
    parallel(num_blocks, run_block);
  }
}

void Backward(DType t, const void* dy, const void* x, const float* mean, const float* rstd,
              const float* dmean, const float* drstd, const float* gamma, int64_t rows,
              int64_t n, void* dx, float* dgamma, float* dbeta, int num_threads,
              const ParallelFn& parallel) {
  if (n <= 0) return;
  const int64_t num_blocks = NumBlocks(rows, n, num_threads);
  std::fill(dgamma, dgamma + n, 0.0f);
  std::fill(dbeta, dbeta + n, 0.0f);
  if (num_blocks == 0) return;
  const size_t esize = ElementSize(t);
  // Per-block partial sums of dgamma and dbeta; block 0 writes straight into the outputs.
  std::vector<float> partial(static_cast<size_t>(num_blocks - 1) * 2 * n, 0.0f);
  auto run_block = [&](int64_t block) {
    const int64_t begin = BlockStart(block, num_blocks, rows);
    const int64_t end = BlockStart(block + 1, num_blocks, rows);
    float* dg = block == 0 ? dgamma : partial.data() + (block - 1) * 2 * n;
    float* db = block == 0 ? dbeta : dg + n;
    const float* dm = dmean ? dmean + begin : nullptr;
    const float* dr = drstd ? drstd + begin : nullptr;
    if (t == DType::kF32) {
      RowsBackward(static_cast<const float*>(dy) + begin * n,
                   static_cast<const float*>(x) + begin * n, mean + begin, rstd + begin, dm, dr,
                   gamma, end - begin, n, static_cast<float*>(dx) + begin * n, dg, db);
      return;
    }
    // 16-bit storage: convert kRowGroup rows at a time to float scratch.
    std::vector<float> scratch(3 * kRowGroup * n);
    float* dys = scratch.data();
    float* xs = dys + kRowGroup * n;
    float* dxs = xs + kRowGroup * n;
    for (int64_t row = begin; row < end; row += kRowGroup) {
      const int64_t count = std::min<int64_t>(kRowGroup, end - row);
      ToFloat(t, static_cast<const char*>(dy) + row * n * esize, dys, count * n);
      ToFloat(t, static_cast<const char*>(x) + row * n * esize, xs, count * n);
      RowsBackward(dys, xs, mean + row, rstd + row, dm ? dm + (row - begin) : nullptr,
                   dr ? dr + (row - begin) : nullptr, gamma, count, n, dxs, dg, db);
      FromFloat(t, dxs, static_cast<char*>(dx) + row * n * esize, count * n);
    }
  };
  if (num_blocks == 1) {
    run_block(0);
    return;
  }
  parallel(num_blocks, run_block);
  for (int64_t block = 1; block < num_blocks; ++block) {
    const float* dg = partial.data() + (block - 1) * 2 * n;
    const float* db = dg + n;
    for (int64_t i = 0; i < n; ++i) {
      dgamma[i] += dg[i];
      dbeta[i] += db[i];
    }
  }
}

const char* CompiledIsa() {
#if defined(__AVX512F__)
  return "avx512f";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2+fma";
#elif defined(__AVX__)
  return "avx";
#elif defined(__SSE4_2__)
  return "sse4.2";
#elif defined(__ARM_NEON)
  return "neon";
#else
  return "generic";
#endif
}

}  // namespace tfmodels_ln

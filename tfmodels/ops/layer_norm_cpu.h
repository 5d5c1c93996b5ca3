// Fused LayerNorm CPU row kernels shared by the TensorFlow kernels and the XLA FFI handler.
//
// This header is free of TensorFlow and XLA headers: layer_norm_cpu.cc is compiled on its own
// with the build machine's vector ISA (-O3 -march=native), the callers with TensorFlow's flags.
//
// Semantics (Ba et al. 2016, "Layer Normalization"; the original BERT `layer_norm` over the last
// axis):  y = (x - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + epsilon), var the biased
// (population) variance of the row. Statistics are float32 for every storage type.
#ifndef TFMODELS_OPS_LAYER_NORM_CPU_H_
#define TFMODELS_OPS_LAYER_NORM_CPU_H_

#include <cstdint>
#include <functional>

namespace tfmodels_ln {

// Storage type of x / y / dy / dx (and of gamma / beta, which are converted to float first).
enum class DType { kF32 = 0, kF16 = 1, kBF16 = 2 };

// Runs fn(block) for block in [0, num_blocks), possibly concurrently, and returns when all
// blocks are done. The TF kernels run it on the TF intra-op pool, the FFI handler on XLA's.
using ParallelFn =
    std::function<void(int64_t num_blocks, const std::function<void(int64_t block)>& fn)>;

// Converts `count` elements between a storage type and float.
void ToFloat(DType t, const void* src, float* dst, int64_t count);
void FromFloat(DType t, const float* src, void* dst, int64_t count);

// Forward over a [rows, n] row-major x: y (storage type t), mean and rstd (float, [rows]).
// gamma and beta are float [n]. Statistics are computed in one pass over x (lane-wise Welford
// merged with Chan's formula), then the row (now in L1) is normalised.
void Forward(DType t, const void* x, const float* gamma, const float* beta, float epsilon,
             int64_t rows, int64_t n, void* y, float* mean, float* rstd, int num_threads,
             const ParallelFn& parallel);

// Backward: dx (storage type t, [rows, n]) and float dgamma, dbeta ([n]) from dy, x, and the
// forward's mean and rstd; dmean / drstd (float [rows], may be null) are gradients flowing
// into the mean / rstd outputs. dgamma/dbeta are reduced over fixed row blocks in a fixed
// order, so results are deterministic for a given thread count.
void Backward(DType t, const void* dy, const void* x, const float* mean, const float* rstd,
              const float* dmean, const float* drstd, const float* gamma, int64_t rows,
              int64_t n, void* dx, float* dgamma, float* dbeta, int num_threads,
              const ParallelFn& parallel);

// Human-readable summary of the vector ISA this translation unit was compiled for.
const char* CompiledIsa();

}  // namespace tfmodels_ln

#endif  // TFMODELS_OPS_LAYER_NORM_CPU_H_

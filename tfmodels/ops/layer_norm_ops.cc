// TensorFlow custom ops TfmLayerNorm / TfmLayerNormGrad and their CPU kernels.
//
// Forward:  y, mean, rstd = TfmLayerNorm(x, gamma, beta)   over the last axis of x.
// Backward: dx, dgamma, dbeta = TfmLayerNormGrad(dy, x, mean, rstd, gamma, dmean, drstd), where
// dmean / drstd are the (usually zero) gradients reaching the mean / rstd outputs.
// x / y / dy / dx have type T; gamma / beta / dgamma / dbeta type U (so float16 activations can
// keep float32 weights, as keras.layers.LayerNormalization does under mixed precision); mean and
// rstd are always float32. The `lowering` attr only matters under XLA (layer_norm_xla.cc).
#include <vector>

#include "layer_norm_cpu.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"

namespace tensorflow {
namespace {

using shape_inference::DimensionHandle;
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

// x: [..., n]; gamma (and beta when given): [n]. Sets *n to the (possibly unknown) feature dim.
absl::Status CheckFeatureShapes(InferenceContext* c, int x_index,
                                std::initializer_list<int> vec_inputs, ShapeHandle* x,
                                DimensionHandle* n) {
  TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(x_index), 1, x));
  *n = c->Dim(*x, -1);
  if (c->ValueKnown(*n) && c->Value(*n) == 0) {
    return absl::InvalidArgumentError("TfmLayerNorm: the last dimension of x must be non-empty");
  }
  for (int index : vec_inputs) {
    ShapeHandle v;
    TF_RETURN_IF_ERROR(c->WithRank(c->input(index), 1, &v));
    TF_RETURN_IF_ERROR(c->Merge(*n, c->Dim(v, 0), n));
  }
  return absl::OkStatus();
}

REGISTER_OP("TfmLayerNorm")
    .Input("x: T")
    .Input("gamma: U")
    .Input("beta: U")
    .Output("y: T")
    .Output("mean: float")
    .Output("rstd: float")
    .Attr("T: {float, half, bfloat16}")
    .Attr("U: {float, half, bfloat16}")
    .Attr("epsilon: float = 1e-12")
    .Attr("lowering: {'auto', 'ffi', 'builder'} = 'auto'")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x;
      DimensionHandle n;
      TF_RETURN_IF_ERROR(CheckFeatureShapes(c, 0, {1, 2}, &x, &n));
      ShapeHandle lead;
      TF_RETURN_IF_ERROR(c->Subshape(x, 0, -1, &lead));
      ShapeHandle y;
      TF_RETURN_IF_ERROR(c->ReplaceDim(x, -1, n, &y));
      c->set_output(0, y);
      c->set_output(1, lead);
      c->set_output(2, lead);
      return absl::OkStatus();
    })
    .Doc("Fused layer normalization over the last axis (one-pass float32 statistics).");

REGISTER_OP("TfmLayerNormGrad")
    .Input("dy: T")
    .Input("x: T")
    .Input("mean: float")
    .Input("rstd: float")
    .Input("gamma: U")
    .Input("dmean: float")
    .Input("drstd: float")
    .Output("dx: T")
    .Output("dgamma: U")
    .Output("dbeta: U")
    .Attr("T: {float, half, bfloat16}")
    .Attr("U: {float, half, bfloat16}")
    .Attr("lowering: {'auto', 'ffi', 'builder'} = 'auto'")
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle x;
      DimensionHandle n;
      TF_RETURN_IF_ERROR(CheckFeatureShapes(c, 1, {4}, &x, &n));
      ShapeHandle dy;
      TF_RETURN_IF_ERROR(c->Merge(c->input(0), x, &dy));
      ShapeHandle lead;
      TF_RETURN_IF_ERROR(c->Subshape(dy, 0, -1, &lead));
      ShapeHandle stats;
      TF_RETURN_IF_ERROR(c->Merge(c->input(2), lead, &stats));
      for (int index : {3, 5, 6}) TF_RETURN_IF_ERROR(c->Merge(c->input(index), stats, &stats));
      c->set_output(0, dy);
      c->set_output(1, c->Vector(n));
      c->set_output(2, c->Vector(n));
      return absl::OkStatus();
    })
    .Doc("Gradient of TfmLayerNorm: dx, dgamma, dbeta in one fused pass over dy and x.");

template <typename T>
constexpr tfmodels_ln::DType DTypeOf();
template <>
constexpr tfmodels_ln::DType DTypeOf<float>() {
  return tfmodels_ln::DType::kF32;
}
template <>
constexpr tfmodels_ln::DType DTypeOf<Eigen::half>() {
  return tfmodels_ln::DType::kF16;
}
template <>
constexpr tfmodels_ln::DType DTypeOf<Eigen::bfloat16>() {
  return tfmodels_ln::DType::kBF16;
}

tfmodels_ln::ParallelFn TfPool(OpKernelContext* ctx, int* num_threads) {
  thread::ThreadPool* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  *num_threads = pool->NumThreads();
  return [pool](int64_t num_blocks, const std::function<void(int64_t)>& fn) {
    pool->ParallelFor(num_blocks, thread::ThreadPool::SchedulingParams::Fixed(1),
                      [&fn](int64_t begin, int64_t end) {
                        for (int64_t b = begin; b < end; ++b) fn(b);
                      });
  };
}

// gamma / beta of type U as a float vector (a copy only when U is not float).
template <typename U>
const float* AsFloat(const Tensor& t, std::vector<float>* storage) {
  if (std::is_same<U, float>::value) return reinterpret_cast<const float*>(t.flat<U>().data());
  storage->resize(t.NumElements());
  tfmodels_ln::ToFloat(DTypeOf<U>(), t.flat<U>().data(), storage->data(), t.NumElements());
  return storage->data();
}

absl::Status CheckVector(const Tensor& v, const char* name, int64_t n) {
  if (v.dims() != 1 || v.dim_size(0) != n) {
    return absl::InvalidArgumentError(absl::StrCat("TfmLayerNorm: ", name, " must have shape [",
                                                   n, "] (the last dim of x), got ",
                                                   v.shape().DebugString()));
  }
  return absl::OkStatus();
}

template <typename T, typename U>
class LayerNormOp : public OpKernel {
 public:
  explicit LayerNormOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES(ctx, epsilon_ >= 0.0f,
                absl::InvalidArgumentError("TfmLayerNorm: epsilon must be >= 0"));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& gamma = ctx->input(1);
    const Tensor& beta = ctx->input(2);
    OP_REQUIRES(ctx, x.dims() >= 1,
                absl::InvalidArgumentError("TfmLayerNorm: x must have rank >= 1"));
    const int64_t n = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, n > 0,
                absl::InvalidArgumentError("TfmLayerNorm: the last dim of x must be > 0"));
    OP_REQUIRES_OK(ctx, CheckVector(gamma, "gamma", n));
    OP_REQUIRES_OK(ctx, CheckVector(beta, "beta", n));
    const int64_t rows = x.NumElements() / n;
    TensorShape stats_shape = x.shape();
    stats_shape.RemoveLastDims(1);
    Tensor *y, *mean, *rstd;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, stats_shape, &mean));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, stats_shape, &rstd));
    std::vector<float> g_store, b_store;
    const float* g = AsFloat<U>(gamma, &g_store);
    const float* b = AsFloat<U>(beta, &b_store);
    int num_threads = 1;
    const tfmodels_ln::ParallelFn parallel = TfPool(ctx, &num_threads);
    tfmodels_ln::Forward(DTypeOf<T>(), x.flat<T>().data(), g, b, epsilon_, rows, n,
                         y->flat<T>().data(), mean->flat<float>().data(),
                         rstd->flat<float>().data(), num_threads, parallel);
  }

 private:
  float epsilon_;
};

template <typename T, typename U>
class LayerNormGradOp : public OpKernel {
 public:
  explicit LayerNormGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const Tensor& dy = ctx->input(0);
    const Tensor& x = ctx->input(1);
    const Tensor& mean = ctx->input(2);
    const Tensor& rstd = ctx->input(3);
    const Tensor& gamma = ctx->input(4);
    const Tensor& dmean = ctx->input(5);
    const Tensor& drstd = ctx->input(6);
    OP_REQUIRES(ctx, x.dims() >= 1,
                absl::InvalidArgumentError("TfmLayerNormGrad: x must have rank >= 1"));
    OP_REQUIRES(ctx, dy.shape() == x.shape(),
                absl::InvalidArgumentError("TfmLayerNormGrad: dy and x shapes differ"));
    const int64_t n = x.dim_size(x.dims() - 1);
    OP_REQUIRES(ctx, n > 0,
                absl::InvalidArgumentError("TfmLayerNormGrad: the last dim of x must be > 0"));
    OP_REQUIRES_OK(ctx, CheckVector(gamma, "gamma", n));
    const int64_t rows = x.NumElements() / n;
    OP_REQUIRES(ctx,
                mean.NumElements() == rows && rstd.NumElements() == rows &&
                    dmean.NumElements() == rows && drstd.NumElements() == rows,
                absl::InvalidArgumentError("TfmLayerNormGrad: mean/rstd/dmean/drstd must have "
                                           "one value per row of x"));
    Tensor *dx, *dgamma, *dbeta;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, gamma.shape(), &dgamma));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, gamma.shape(), &dbeta));
    std::vector<float> g_store;
    const float* g = AsFloat<U>(gamma, &g_store);
    // dgamma / dbeta are accumulated in float32 and rounded to U once at the end.
    std::vector<float> dg_store, db_store;
    float* dg;
    float* db;
    if (std::is_same<U, float>::value) {
      dg = reinterpret_cast<float*>(dgamma->flat<U>().data());
      db = reinterpret_cast<float*>(dbeta->flat<U>().data());
    } else {
      dg_store.resize(n);
      db_store.resize(n);
      dg = dg_store.data();
      db = db_store.data();
    }
    int num_threads = 1;
    const tfmodels_ln::ParallelFn parallel = TfPool(ctx, &num_threads);
    tfmodels_ln::Backward(DTypeOf<T>(), dy.flat<T>().data(), x.flat<T>().data(),
                          mean.flat<float>().data(), rstd.flat<float>().data(),
                          dmean.flat<float>().data(), drstd.flat<float>().data(), g, rows, n,
                          dx->flat<T>().data(), dg, db, num_threads, parallel);
    if (!std::is_same<U, float>::value) {
      tfmodels_ln::FromFloat(DTypeOf<U>(), dg, dgamma->flat<U>().data(), n);
      tfmodels_ln::FromFloat(DTypeOf<U>(), db, dbeta->flat<U>().data(), n);
    }
  }
};

#define TFM_REGISTER_LN(T, U)                                                           \
  REGISTER_KERNEL_BUILDER(                                                              \
      Name("TfmLayerNorm").Device(DEVICE_CPU).TypeConstraint<T>("T").TypeConstraint<U>( \
          "U"),                                                                         \
      LayerNormOp<T, U>);                                                               \
  REGISTER_KERNEL_BUILDER(Name("TfmLayerNormGrad")                                      \
                              .Device(DEVICE_CPU)                                       \
                              .TypeConstraint<T>("T")                                   \
                              .TypeConstraint<U>("U"),                                  \
                          LayerNormGradOp<T, U>);
#define TFM_REGISTER_LN_ALL_U(T) \
  TFM_REGISTER_LN(T, float)      \
  TFM_REGISTER_LN(T, Eigen::half) \
  TFM_REGISTER_LN(T, Eigen::bfloat16)

TFM_REGISTER_LN_ALL_U(float)
TFM_REGISTER_LN_ALL_U(Eigen::half)
TFM_REGISTER_LN_ALL_U(Eigen::bfloat16)

#undef TFM_REGISTER_LN_ALL_U
#undef TFM_REGISTER_LN

}  // namespace
}  // namespace tensorflow

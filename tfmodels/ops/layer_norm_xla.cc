// XLA lowerings of TfmLayerNorm / TfmLayerNormGrad (REGISTER_XLA_OP), used under
// tf.function(jit_compile=True).
//
// Two lowerings, chosen by the op's `lowering` attr:
//   'builder' - XLA builder ops in float32; runs on every XLA backend and fuses with neighbours.
//   'ffi'     - a typed-FFI custom call (API_VERSION_TYPED_FFI) into the multi-threaded row
//               kernels of layer_norm_cpu.cc, registered for the "Host" platform
//               (layer_norm_ffi.cc); XLA CPU only.
//   'auto'    - 'ffi' when compiling for XLA CPU, 'builder' elsewhere.
//
// The registration is static: it only reaches XLA if this library is loaded before the first
// jit-compiled function of the process runs (tfmodels loads it on import).
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "layer_norm_xla_names.h"
#include "tensorflow/compiler/tf2xla/xla_op_kernel.h"
#include "tensorflow/compiler/tf2xla/xla_op_registry.h"
#include "xla/hlo/builder/lib/arithmetic.h"
#include "xla/hlo/builder/xla_builder.h"
#include "xla/shape_util.h"

namespace tensorflow {
namespace {

absl::Status ChooseFfi(const std::string& lowering, bool on_host, bool* use_ffi) {
  if (lowering == "ffi" && !on_host) {
    return absl::InvalidArgumentError(
        "TfmLayerNorm: lowering='ffi' needs the XLA CPU backend; use lowering='builder' (or "
        "'auto') on other devices");
  }
  *use_ffi = lowering == "ffi" || (lowering == "auto" && on_host);
  return absl::OkStatus();
}

// Validates x: [..., n] and the [n] vectors at `vec_inputs`; returns n and the leading dims.
absl::Status CheckShapes(XlaOpKernelContext* ctx, int x_index, std::initializer_list<int> vecs,
                         int64_t* n, std::vector<int64_t>* lead) {
  const TensorShape x = ctx->InputShape(x_index);
  if (x.dims() < 1) return absl::InvalidArgumentError("TfmLayerNorm: x must have rank >= 1");
  *n = x.dim_size(x.dims() - 1);
  if (*n <= 0) return absl::InvalidArgumentError("TfmLayerNorm: the last dim of x must be > 0");
  for (int index : vecs) {
    const TensorShape v = ctx->InputShape(index);
    if (v.dims() != 1 || v.dim_size(0) != *n) {
      return absl::InvalidArgumentError(
          absl::StrCat("TfmLayerNorm: gamma/beta must have shape [", *n, "], got ",
                       v.DebugString()));
    }
  }
  const auto dims = x.dim_sizes();
  lead->assign(dims.begin(), dims.end() - 1);
  return absl::OkStatus();
}

std::vector<int64_t> Iota(int64_t count) {
  std::vector<int64_t> v(count);
  for (int64_t i = 0; i < count; ++i) v[i] = i;
  return v;
}

xla::XlaOp ToF32(xla::XlaOp v, xla::PrimitiveType t) {
  return t == xla::F32 ? v : xla::ConvertElementType(v, xla::F32);
}
xla::XlaOp FromF32(xla::XlaOp v, xla::PrimitiveType t) {
  return t == xla::F32 ? v : xla::ConvertElementType(v, t);
}

int64_t Product(const std::vector<int64_t>& dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= d;
  return p;
}

class LayerNormXlaOp : public XlaOpKernel {
 public:
  explicit LayerNormXlaOp(OpKernelConstruction* ctx) : XlaOpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("epsilon", &epsilon_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("lowering", &lowering_));
    OP_REQUIRES(ctx, epsilon_ >= 0.0f,
                absl::InvalidArgumentError("TfmLayerNorm: epsilon must be >= 0"));
    on_host_ = ctx->device_type() == DeviceType(DEVICE_CPU_XLA_JIT);
  }

  void Compile(XlaOpKernelContext* ctx) override {
    int64_t n;
    std::vector<int64_t> lead;
    OP_REQUIRES_OK(ctx, CheckShapes(ctx, 0, {1, 2}, &n, &lead));
    bool use_ffi;
    OP_REQUIRES_OK(ctx, ChooseFfi(lowering_, on_host_, &use_ffi));
    const xla::PrimitiveType xt = ctx->input_xla_type(0);
    const xla::PrimitiveType ut = ctx->input_xla_type(1);
    std::vector<int64_t> x_dims = lead;
    x_dims.push_back(n);
    if (use_ffi) {
      const int64_t rows = Product(lead);
      xla::XlaBuilder* b = ctx->builder();
      const xla::Shape x2 = xla::ShapeUtil::MakeShapeWithDescendingLayout(xt, {rows, n});
      const xla::Shape vec = xla::ShapeUtil::MakeShapeWithDescendingLayout(ut, {n});
      const xla::Shape stats = xla::ShapeUtil::MakeShapeWithDescendingLayout(xla::F32, {rows});
      const xla::Shape out = xla::ShapeUtil::MakeTupleShape({x2, stats, stats});
      // Typed-FFI attributes travel as an MLIR dictionary in the backend config.
      const std::string attrs = absl::StrFormat("{epsilon = %.9e : f32}", epsilon_);
      xla::XlaOp call = xla::CustomCallWithLayout(
          b, tfmodels_ln::kFfiForwardTarget,
          {xla::Reshape(ctx->Input(0), {rows, n}), ctx->Input(1), ctx->Input(2)}, out,
          {x2, vec, vec}, attrs, /*has_side_effect=*/false, /*output_operand_aliasing=*/{},
          /*literal=*/nullptr, xla::CustomCallSchedule::SCHEDULE_NONE,
          xla::CustomCallApiVersion::API_VERSION_TYPED_FFI);
      ctx->SetOutput(0, xla::Reshape(xla::GetTupleElement(call, 0), x_dims));
      ctx->SetOutput(1, xla::Reshape(xla::GetTupleElement(call, 1), lead));
      ctx->SetOutput(2, xla::Reshape(xla::GetTupleElement(call, 2), lead));
      return;
    }
    // Builder lowering, statistics in float32.
    xla::XlaBuilder* b = ctx->builder();
    const int64_t rank = static_cast<int64_t>(x_dims.size());
    const std::vector<int64_t> lead_axes = Iota(rank - 1);
    const xla::XlaComputation add = xla::CreateScalarAddComputation(xla::F32, b);
    const xla::XlaOp zero = xla::ConstantR0<float>(b, 0.0f);
    const xla::XlaOp inv_n = xla::ConstantR0<float>(b, 1.0f / static_cast<float>(n));
    const xla::XlaOp x = ToF32(ctx->Input(0), xt);
    const xla::XlaOp mean = xla::Mul(xla::Reduce(x, zero, add, {rank - 1}), inv_n);
    const xla::XlaOp xc = xla::Sub(x, mean, lead_axes);
    const xla::XlaOp var = xla::Mul(xla::Reduce(xla::Mul(xc, xc), zero, add, {rank - 1}), inv_n);
    const xla::XlaOp rstd = xla::Rsqrt(xla::Add(var, xla::ConstantR0<float>(b, epsilon_)));
    const xla::XlaOp xhat = xla::Mul(xc, rstd, lead_axes);
    const xla::XlaOp y = xla::Add(xla::Mul(xhat, ToF32(ctx->Input(1), ut), {rank - 1}),
                                  ToF32(ctx->Input(2), ut), {rank - 1});
    ctx->SetOutput(0, FromF32(y, xt));
    ctx->SetOutput(1, mean);
    ctx->SetOutput(2, rstd);
  }

 private:
  float epsilon_;
  std::string lowering_;
  bool on_host_;
};

class LayerNormGradXlaOp : public XlaOpKernel {
 public:
  explicit LayerNormGradXlaOp(OpKernelConstruction* ctx) : XlaOpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("lowering", &lowering_));
    on_host_ = ctx->device_type() == DeviceType(DEVICE_CPU_XLA_JIT);
  }

  void Compile(XlaOpKernelContext* ctx) override {
    int64_t n;
    std::vector<int64_t> lead;
    OP_REQUIRES_OK(ctx, CheckShapes(ctx, 1, {4}, &n, &lead));
    OP_REQUIRES(ctx, ctx->InputShape(0) == ctx->InputShape(1),
                absl::InvalidArgumentError("TfmLayerNormGrad: dy and x shapes differ"));
    bool use_ffi;
    OP_REQUIRES_OK(ctx, ChooseFfi(lowering_, on_host_, &use_ffi));
    const xla::PrimitiveType xt = ctx->input_xla_type(1);
    const xla::PrimitiveType ut = ctx->input_xla_type(4);
    std::vector<int64_t> x_dims = lead;
    x_dims.push_back(n);
    xla::XlaBuilder* b = ctx->builder();
    if (use_ffi) {
      const int64_t rows = Product(lead);
      const xla::Shape x2 = xla::ShapeUtil::MakeShapeWithDescendingLayout(xt, {rows, n});
      const xla::Shape vec = xla::ShapeUtil::MakeShapeWithDescendingLayout(ut, {n});
      const xla::Shape stats = xla::ShapeUtil::MakeShapeWithDescendingLayout(xla::F32, {rows});
      const xla::Shape out = xla::ShapeUtil::MakeTupleShape({x2, vec, vec});
      xla::XlaOp call = xla::CustomCallWithLayout(
          b, tfmodels_ln::kFfiBackwardTarget,
          {xla::Reshape(ctx->Input(0), {rows, n}), xla::Reshape(ctx->Input(1), {rows, n}),
           xla::Reshape(ctx->Input(2), {rows}), xla::Reshape(ctx->Input(3), {rows}),
           ctx->Input(4), xla::Reshape(ctx->Input(5), {rows}),
           xla::Reshape(ctx->Input(6), {rows})},
          out, {x2, x2, stats, stats, vec, stats, stats}, /*opaque=*/"{}", /*has_side_effect=*/false,
          /*output_operand_aliasing=*/{}, /*literal=*/nullptr,
          xla::CustomCallSchedule::SCHEDULE_NONE,
          xla::CustomCallApiVersion::API_VERSION_TYPED_FFI);
      ctx->SetOutput(0, xla::Reshape(xla::GetTupleElement(call, 0), x_dims));
      ctx->SetOutput(1, xla::GetTupleElement(call, 1));
      ctx->SetOutput(2, xla::GetTupleElement(call, 2));
      return;
    }
    // Builder lowering: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma,
    // + dmean / n - drstd * rstd^2 * xhat / n (gradients reaching the mean / rstd outputs).
    const int64_t rank = static_cast<int64_t>(x_dims.size());
    const std::vector<int64_t> lead_axes = Iota(rank - 1);
    const xla::XlaComputation add = xla::CreateScalarAddComputation(xla::F32, b);
    const xla::XlaOp zero = xla::ConstantR0<float>(b, 0.0f);
    const xla::XlaOp inv_n = xla::ConstantR0<float>(b, 1.0f / static_cast<float>(n));
    const xla::XlaOp dy = ToF32(ctx->Input(0), xt);
    const xla::XlaOp x = ToF32(ctx->Input(1), xt);
    const xla::XlaOp mean = ctx->Input(2);
    const xla::XlaOp rstd = ctx->Input(3);
    const xla::XlaOp gamma = ToF32(ctx->Input(4), ut);
    const xla::XlaOp xhat = xla::Mul(xla::Sub(x, mean, lead_axes), rstd, lead_axes);
    const xla::XlaOp g = xla::Mul(dy, gamma, {rank - 1});
    const xla::XlaOp c1 = xla::Mul(xla::Reduce(g, zero, add, {rank - 1}), inv_n);
    const xla::XlaOp c2 = xla::Mul(xla::Reduce(xla::Mul(g, xhat), zero, add, {rank - 1}), inv_n);
    const xla::XlaOp inner = xla::Sub(xla::Sub(g, c1, lead_axes), xla::Mul(xhat, c2, lead_axes));
    const xla::XlaOp row_const = xla::Mul(ctx->Input(5), inv_n);
    const xla::XlaOp row_slope = xla::Mul(xla::Mul(ctx->Input(6), xla::Mul(rstd, rstd)), inv_n);
    const xla::XlaOp dx = xla::Sub(xla::Add(xla::Mul(inner, rstd, lead_axes), row_const, lead_axes),
                                   xla::Mul(xhat, row_slope, lead_axes));
    const xla::XlaOp dgamma = xla::Reduce(xla::Mul(dy, xhat), zero, add, lead_axes);
    const xla::XlaOp dbeta = xla::Reduce(dy, zero, add, lead_axes);
    ctx->SetOutput(0, FromF32(dx, xt));
    ctx->SetOutput(1, FromF32(dgamma, ut));
    ctx->SetOutput(2, FromF32(dbeta, ut));
  }

 private:
  std::string lowering_;
  bool on_host_;
};

REGISTER_XLA_OP(Name("TfmLayerNorm"), LayerNormXlaOp);
REGISTER_XLA_OP(Name("TfmLayerNormGrad"), LayerNormGradXlaOp);

}  // namespace
}  // namespace tensorflow

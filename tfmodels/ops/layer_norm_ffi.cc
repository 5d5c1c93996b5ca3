// XLA typed-FFI handlers (API_VERSION_TYPED_FFI, "Host" platform) that run the fused LayerNorm
// row kernels inside an XLA CPU executable. The lowering in layer_norm_xla.cc emits custom
// calls to them with x reshaped to [rows, n] and row-major layouts.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "layer_norm_cpu.h"
#include "layer_norm_xla_names.h"
#include "xla/ffi/api/c_api.h"
#include "xla/ffi/api/ffi.h"

namespace tfmodels_ln {
namespace {

namespace ffi = ::xla::ffi;

bool ToDType(ffi::DataType t, DType* out) {
  switch (t) {
    case ffi::DataType::F32:
      *out = DType::kF32;
      return true;
    case ffi::DataType::F16:
      *out = DType::kF16;
      return true;
    case ffi::DataType::BF16:
      *out = DType::kBF16;
      return true;
    default:
      return false;
  }
}

// Runs fn over num_blocks blocks on XLA's intra-op pool. The calling thread claims blocks as
// well, so completion never waits on a pool thread that has not started (no deadlock when
// the caller is itself a pool thread); it then waits for blocks claimed by helpers.
struct BlockRun {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  int64_t total = 0;
  const std::function<void(int64_t)>* fn = nullptr;
  std::mutex mu;
  std::condition_variable cv;

  void Work() {
    for (;;) {
      const int64_t block = next.fetch_add(1);
      if (block >= total) return;
      (*fn)(block);
      if (done.fetch_add(1) + 1 == total) {
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_all();
      }
    }
  }
};

ParallelFn FfiPool(ffi::ThreadPool* pool) {
  return [pool](int64_t num_blocks, const std::function<void(int64_t)>& fn) {
    auto run = std::make_shared<BlockRun>();
    run->total = num_blocks;
    run->fn = &fn;
    const int64_t helpers = std::min<int64_t>(num_blocks - 1, pool->num_threads());
    for (int64_t i = 0; i < helpers; ++i) pool->Schedule([run] { run->Work(); });
    run->Work();
    std::unique_lock<std::mutex> lock(run->mu);
    run->cv.wait(lock, [&run] { return run->done.load() == run->total; });
  };
}

// gamma / beta (any supported float type) as float32.
bool VectorAsFloat(const ffi::AnyBuffer& v, int64_t n, std::vector<float>* out) {
  DType t;
  if (!ToDType(v.element_type(), &t) || static_cast<int64_t>(v.element_count()) != n) {
    return false;
  }
  out->resize(n);
  ToFloat(t, v.untyped_data(), out->data(), n);
  return true;
}

bool Matrix(const ffi::AnyBuffer& x, int64_t* rows, int64_t* n, DType* t) {
  const auto dims = x.dimensions();
  if (dims.size() != 2 || !ToDType(x.element_type(), t)) return false;
  *rows = dims[0];
  *n = dims[1];
  return true;
}

ffi::Error ForwardImpl(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer gamma,
                       ffi::AnyBuffer beta, ffi::Result<ffi::AnyBuffer> y,
                       ffi::Result<ffi::AnyBuffer> mean, ffi::Result<ffi::AnyBuffer> rstd,
                       float epsilon) {
  int64_t rows, n;
  DType t;
  if (!Matrix(x, &rows, &n, &t) || y->element_type() != x.element_type() ||
      mean->element_type() != ffi::DataType::F32 || rstd->element_type() != ffi::DataType::F32) {
    return ffi::Error::InvalidArgument("tfmodels_layer_norm_fwd: bad operand types or ranks");
  }
  std::vector<float> g, b;
  if (!VectorAsFloat(gamma, n, &g) || !VectorAsFloat(beta, n, &b)) {
    return ffi::Error::InvalidArgument("tfmodels_layer_norm_fwd: gamma/beta must be [n]");
  }
  Forward(t, x.untyped_data(), g.data(), b.data(), epsilon, rows, n, y->untyped_data(),
          static_cast<float*>(mean->untyped_data()), static_cast<float*>(rstd->untyped_data()),
          static_cast<int>(std::max<int64_t>(1, pool.num_threads())), FfiPool(&pool));
  return ffi::Error::Success();
}

ffi::Error BackwardImpl(ffi::ThreadPool pool, ffi::AnyBuffer dy, ffi::AnyBuffer x,
                        ffi::AnyBuffer mean, ffi::AnyBuffer rstd, ffi::AnyBuffer gamma,
                        ffi::AnyBuffer dmean, ffi::AnyBuffer drstd, ffi::Result<ffi::AnyBuffer> dx, ffi::Result<ffi::AnyBuffer> dgamma,
                        ffi::Result<ffi::AnyBuffer> dbeta) {
  int64_t rows, n;
  DType t, u;
  if (!Matrix(x, &rows, &n, &t) || dy.element_type() != x.element_type() ||
      dx->element_type() != x.element_type() || mean.element_type() != ffi::DataType::F32 ||
      rstd.element_type() != ffi::DataType::F32 ||
      static_cast<int64_t>(mean.element_count()) != rows ||
      static_cast<int64_t>(rstd.element_count()) != rows ||
      dmean.element_type() != ffi::DataType::F32 || drstd.element_type() != ffi::DataType::F32 ||
      static_cast<int64_t>(dmean.element_count()) != rows ||
      static_cast<int64_t>(drstd.element_count()) != rows ||
      !ToDType(dgamma->element_type(), &u) || dbeta->element_type() != dgamma->element_type()) {
    return ffi::Error::InvalidArgument("tfmodels_layer_norm_bwd: bad operand types or shapes");
  }
  std::vector<float> g;
  if (!VectorAsFloat(gamma, n, &g)) {
    return ffi::Error::InvalidArgument("tfmodels_layer_norm_bwd: gamma must be [n]");
  }
  std::vector<float> dg(n), db(n);
  Backward(t, dy.untyped_data(), x.untyped_data(), static_cast<const float*>(mean.untyped_data()),
           static_cast<const float*>(rstd.untyped_data()),
           static_cast<const float*>(dmean.untyped_data()),
           static_cast<const float*>(drstd.untyped_data()), g.data(), rows, n,
           dx->untyped_data(), dg.data(), db.data(),
           static_cast<int>(std::max<int64_t>(1, pool.num_threads())), FfiPool(&pool));
  FromFloat(u, dg.data(), dgamma->untyped_data(), n);
  FromFloat(u, db.data(), dbeta->untyped_data(), n);
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER(kLayerNormForwardHandler, ForwardImpl,
                       ffi::Ffi::Bind()
                           .Ctx<ffi::ThreadPool>()
                           .Arg<ffi::AnyBuffer>()  // x [rows, n]
                           .Arg<ffi::AnyBuffer>()  // gamma [n]
                           .Arg<ffi::AnyBuffer>()  // beta [n]
                           .Ret<ffi::AnyBuffer>()  // y [rows, n]
                           .Ret<ffi::AnyBuffer>()  // mean [rows] f32
                           .Ret<ffi::AnyBuffer>()  // rstd [rows] f32
                           .Attr<float>("epsilon"));

XLA_FFI_DEFINE_HANDLER(kLayerNormBackwardHandler, BackwardImpl,
                       ffi::Ffi::Bind()
                           .Ctx<ffi::ThreadPool>()
                           .Arg<ffi::AnyBuffer>()  // dy [rows, n]
                           .Arg<ffi::AnyBuffer>()  // x [rows, n]
                           .Arg<ffi::AnyBuffer>()  // mean [rows] f32
                           .Arg<ffi::AnyBuffer>()  // rstd [rows] f32
                           .Arg<ffi::AnyBuffer>()  // gamma [n]
                           .Arg<ffi::AnyBuffer>()  // dmean [rows] f32
                           .Arg<ffi::AnyBuffer>()  // drstd [rows] f32
                           .Ret<ffi::AnyBuffer>()  // dx [rows, n]
                           .Ret<ffi::AnyBuffer>()  // dgamma [n]
                           .Ret<ffi::AnyBuffer>());  // dbeta [n]

XLA_FFI_REGISTER_HANDLER(XLA_FFI_GetApi(), kFfiForwardTarget, "Host", kLayerNormForwardHandler);
XLA_FFI_REGISTER_HANDLER(XLA_FFI_GetApi(), kFfiBackwardTarget, "Host",
                         kLayerNormBackwardHandler);

}  // namespace tfmodels_ln

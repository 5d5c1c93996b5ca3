// Names shared by the XLA lowering (layer_norm_xla.cc) and the FFI handlers (layer_norm_ffi.cc).
#ifndef TFMODELS_OPS_LAYER_NORM_XLA_NAMES_H_
#define TFMODELS_OPS_LAYER_NORM_XLA_NAMES_H_

namespace tfmodels_ln {

// Custom-call targets of the typed-FFI lowering, registered for the "Host" platform.
inline constexpr char kFfiForwardTarget[] = "tfmodels_layer_norm_fwd";
inline constexpr char kFfiBackwardTarget[] = "tfmodels_layer_norm_bwd";

}  // namespace tfmodels_ln

#endif  // TFMODELS_OPS_LAYER_NORM_XLA_NAMES_H_

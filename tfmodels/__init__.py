"""tfmodels: TensorFlow 2 / Keras 3 reference implementations on shared layers."""

# Load the fused LayerNorm op library (building it on first use) before anything else can run
# a jit_compile function: TF ignores XLA lowerings registered after its first XLA compilation.
from tfmodels.ops.loader import load_library as _load_ops_library

_load_ops_library()

# Binds ``tfmodels.io`` also when pipelines.fileio loaded it before the package.
from tfmodels import io  # noqa: E402,F401

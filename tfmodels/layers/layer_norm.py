"""LayerNorm: a drop-in for keras.layers.LayerNormalization over the last axis, on the fused op.

Same weights (``gamma``, ``beta``) and the same maths as Keras and the original BERT
``modeling.layer_norm`` (biased variance, epsilon inside the square root), but the default
epsilon is BERT's 1e-12 rather than Keras' 1e-3. It runs the fused C++ op (tfmodels.ops) in
eager, tf.function and jit_compile graphs; ``lowering`` picks the XLA lowering
("auto" | "ffi" | "builder", default from $TFMODELS_LAYER_NORM_LOWERING, else "auto").

Mixed precision follows Keras: the weights stay float32 (never autocast), statistics are
float32, and the output has the layer's compute dtype. Only the last axis is supported.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.ops.layer_norm_op import LOWERINGS, check_epsilon, layer_norm


@keras.saving.register_keras_serializable(package="tfmodels")
class LayerNorm(keras.layers.Layer):
    """Layer normalization over the last axis (Ba et al. 2016) with the fused custom op.

    Args:
      epsilon: added to the variance (BERT 1e-12, ViT 1e-6, DETR 1e-5).
      lowering: XLA lowering of the op under jit_compile; None reads the environment.
      axis: must be -1 (or the index of the last axis); kept for drop-in compatibility.
      center, scale, *_initializer, *_regularizer, *_constraint: as in Keras.
    """

    def __init__(self, epsilon=1e-12, lowering=None, axis=-1, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.epsilon = check_epsilon(epsilon)
        if lowering is not None and str(lowering).lower() not in LOWERINGS:
            raise ValueError(f"lowering must be None or one of {', '.join(LOWERINGS)}; "
                             f"got {lowering!r}")
        self.lowering = None if lowering is None else str(lowering).lower()
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"LayerNorm normalises the last axis only; got axis={axis}")
            axis = axis[0]
        if not isinstance(axis, int):
            raise ValueError(f"axis must be an int (the last axis); got {axis!r}")
        self.axis = axis
        self.center = center
        self.scale = scale
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.supports_masking = True
        self.autocast = False  # float32 weights under mixed precision, as Keras does

    def build(self, input_shape):
        rank = len(input_shape)
        if rank == 0:
            raise ValueError("LayerNorm input must have rank >= 1; got a scalar")
        if self.axis not in (-1, rank - 1):
            raise ValueError(f"LayerNorm normalises the last axis only; got axis={self.axis} "
                             f"for input shape {tuple(input_shape)}")
        n = input_shape[-1]
        if n is None or n <= 0:
            raise ValueError(f"LayerNorm needs a known, non-empty last dimension; got input "
                             f"shape {tuple(input_shape)}")
        self.gamma = None
        self.beta = None
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=(n,),
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint, autocast=False)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=(n,),
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint, autocast=False)
        self._features = n

    def call(self, inputs):
        x = tf.convert_to_tensor(inputs)
        if x.shape.rank == 0:
            raise ValueError("LayerNorm input must have rank >= 1; got a scalar")
        if x.shape.rank is not None and x.shape[-1] not in (None, self._features):
            raise ValueError(f"LayerNorm was built for last dim {self._features}; got input "
                             f"shape {x.shape}")
        wdtype = self.variable_dtype
        gamma = self.gamma if self.scale else tf.ones((self._features,), wdtype)
        beta = self.beta if self.center else tf.zeros((self._features,), wdtype)
        y = layer_norm(x, gamma, beta, epsilon=self.epsilon, lowering=self.lowering)
        return tf.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "epsilon": self.epsilon,
            "lowering": self.lowering,
            "axis": self.axis,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": keras.initializers.serialize(self.beta_initializer),
            "gamma_initializer": keras.initializers.serialize(self.gamma_initializer),
            "beta_regularizer": keras.regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": keras.regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": keras.constraints.serialize(self.beta_constraint),
            "gamma_constraint": keras.constraints.serialize(self.gamma_constraint),
        })
        return config

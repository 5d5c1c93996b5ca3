"""ResNet backbone in torchvision's layout with frozen batch norm (DETR ``models/backbone.py``).

Mirrors ``Backbone``/``BackboneBase`` of facebookresearch/detr on torchvision's ``resnet50``:
a 7×7/2 stem, a 3×3/2 max pool and four stages of bottleneck blocks (stride in the 3×3
convolution, "ResNet v1.5"), every ``BatchNorm2d`` replaced by :class:`FrozenBatchNorm`
(epsilon 1e-5, statistics and affine parameters never trained). Like the original, the stem
and ``layer1`` are frozen while the backbone trains (``train_backbone``), and ``dilation``
replaces the stride of the last stage by a dilation of 2 (DC5). Channels last (NHWC).

Padding is explicit (``tf.pad`` then a "valid" convolution), so strided convolutions pad
symmetrically as PyTorch does (Keras "same" pads the bottom/right more).
"""

from __future__ import annotations

import keras
import tensorflow as tf

# depth -> blocks per stage (torchvision resnet50/101/152).
RESNET_LAYERS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
FEATURE_NAMES = ("res2", "res3", "res4", "res5")


@keras.saving.register_keras_serializable(package="tfmodels")
class FrozenBatchNorm(keras.layers.Layer):
    """BatchNorm with fixed statistics and affine parameters (DETR ``FrozenBatchNorm2d``).

    ``y = x · γ / sqrt(var + ε) + (β − mean · γ / sqrt(var + ε))`` over the last axis. All
    four weights are non-trainable, as the original keeps them as buffers. ε defaults to
    torchvision's 1e-5 (Keras' BatchNormalization uses 1e-3).
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        c = int(input_shape[-1])
        add = lambda name, init: self.add_weight(  # noqa: E731
            name=name, shape=(c,), initializer=init, trainable=False)
        self.gamma = add("gamma", "ones")
        self.beta = add("beta", "zeros")
        self.moving_mean = add("moving_mean", "zeros")
        self.moving_variance = add("moving_variance", "ones")
        self.built = True

    def call(self, x):
        scale = self.gamma * tf.math.rsqrt(self.moving_variance + self.epsilon)
        shift = self.beta - self.moving_mean * scale
        return x * tf.cast(scale, x.dtype) + tf.cast(shift, x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon)
        return config


def _conv(filters, kernel, stride=1, dilation=1, name=None):
    # torchvision's ResNet init: kaiming_normal_(mode="fan_out", nonlinearity="relu").
    init = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
    return keras.layers.Conv2D(filters, kernel, strides=stride, dilation_rate=dilation,
                               padding="valid", use_bias=False, kernel_initializer=init,
                               name=name)


def _norm(kind, epsilon, name):
    """Frozen batch norm (the original), or a trainable one for training from scratch."""
    if kind == "frozen":
        return FrozenBatchNorm(epsilon, name=name)
    if kind == "batch":  # PyTorch's BatchNorm2d defaults: momentum 0.1 (Keras 0.9)
        return keras.layers.BatchNormalization(epsilon=epsilon, momentum=0.9, name=name)
    raise ValueError(f"norm must be 'frozen' or 'batch'; got {kind!r}")


def _padded(conv, x, pad):
    if pad:
        x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    return conv(x)


@keras.saving.register_keras_serializable(package="tfmodels")
class Bottleneck(keras.layers.Layer):
    """torchvision ``Bottleneck``: 1×1 → 3×3 (stride, dilation) → 1×1 (×4), residual, ReLU.

    ``downsample`` (a 1×1 strided convolution + frozen batch norm) projects the shortcut when
    the stride or the width changes, as torchvision's ``downsample.0``/``downsample.1``.
    """

    def __init__(self, planes, stride=1, dilation=1, downsample=False, epsilon=1e-5,
                 norm="frozen", **kwargs):
        super().__init__(**kwargs)
        self.planes = int(planes)
        self.stride = int(stride)
        self.dilation = int(dilation)
        self.downsample = bool(downsample)
        self.epsilon = float(epsilon)
        self.norm = norm
        self.conv1 = _conv(planes, 1, name="conv1")
        self.bn1 = _norm(norm, epsilon, "bn1")
        self.conv2 = _conv(planes, 3, stride, dilation, name="conv2")
        self.bn2 = _norm(norm, epsilon, "bn2")
        self.conv3 = _conv(planes * 4, 1, name="conv3")
        self.bn3 = _norm(norm, epsilon, "bn3")
        if self.downsample:
            self.downsample_conv = _conv(planes * 4, 1, stride, name="downsample_conv")
            self.downsample_bn = _norm(norm, epsilon, "downsample_bn")

    def build(self, input_shape):
        shape = tuple(input_shape)
        mid = shape[:-1] + (self.planes,)
        self.conv1.build(shape)
        self.bn1.build(mid)
        self.conv2.build(mid)
        self.bn2.build(mid)
        self.conv3.build(mid)
        self.bn3.build(shape[:-1] + (self.planes * 4,))
        if self.downsample:
            self.downsample_conv.build(shape)
            self.downsample_bn.build(shape[:-1] + (self.planes * 4,))
        self.built = True

    def call(self, x, training=None):
        identity = x
        out = tf.nn.relu(self.bn1(self.conv1(x), training=training))
        out = tf.nn.relu(self.bn2(_padded(self.conv2, out, self.dilation), training=training))
        out = self.bn3(self.conv3(out), training=training)
        if self.downsample:
            identity = self.downsample_bn(self.downsample_conv(x), training=training)
        return tf.nn.relu(out + identity)

    def get_config(self):
        config = super().get_config()
        config.update(planes=self.planes, stride=self.stride, dilation=self.dilation,
                      downsample=self.downsample, epsilon=self.epsilon, norm=self.norm)
        return config


@keras.saving.register_keras_serializable(package="tfmodels")
class ResNetBackbone(keras.layers.Layer):
    """torchvision ResNet body returning the requested stage outputs (NHWC).

    Args:
      depth: 50, 101 or 152 (the block counts of torchvision's models), unless ``layers``.
      layers: blocks per stage, overriding ``depth`` (small test/demo models).
      width: channels of the stem (64 in torchvision); stage ``i`` has ``width·2^i`` planes
        and ``4·width·2^i`` output channels.
      dilation: DC5, stride of the last stage replaced by dilation 2.
      train_backbone: if False every weight is frozen (DETR ``lr_backbone = 0``); if True the
        stem and the first ``frozen_stages`` stages stay frozen.
      frozen_stages: stages frozen with the stem while the backbone trains (mmdetection's
        name): 1 = stem + ``layer1``, DETR's rule for an ImageNet-initialised backbone;
        0 = the stem only; −1 = nothing (training from scratch).
      norm: ``"frozen"`` (the original: :class:`FrozenBatchNorm`) or ``"batch"`` (an
        addition: trainable batch norm, for a backbone trained from scratch where no
        ImageNet weights are available; frozen statistics only make sense for pretrained
        ones).
      out_features: which of ``res2``..``res5`` (``layer1``..``layer4``) ``call`` returns.
      epsilon: frozen batch-norm epsilon (1e-5).

    ``call(x)`` returns a dict ``{name: [B, h, w, C]}``; ``strides`` and ``channels`` give
    each feature's stride and width (DETR's ``num_channels`` is ``channels["res5"]``).
    """

    def __init__(self, depth=50, layers=None, width=64, dilation=False, train_backbone=True,
                 out_features=("res5",), epsilon=1e-5, frozen_stages=1, norm="frozen",
                 **kwargs):
        super().__init__(**kwargs)
        if layers is None:
            if int(depth) not in RESNET_LAYERS:
                raise ValueError(f"depth must be one of {sorted(RESNET_LAYERS)}; got {depth}")
            layers = RESNET_LAYERS[int(depth)]
        layers = tuple(int(n) for n in layers)
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers must be four positive block counts; got {layers}")
        out_features = tuple(out_features)
        unknown = [f for f in out_features if f not in FEATURE_NAMES]
        if unknown or not out_features:
            raise ValueError(f"out_features must be a non-empty subset of {FEATURE_NAMES}; "
                             f"got {out_features}")
        self.depth = int(depth)
        self.layers_per_stage = layers
        self.width = int(width)
        self.dilation = bool(dilation)
        self.train_backbone = bool(train_backbone)
        self.frozen_stages = int(frozen_stages)
        self.norm = norm
        if not -1 <= self.frozen_stages <= 4:
            raise ValueError(f"frozen_stages must be in [-1, 4]; got {frozen_stages}")
        self.out_features = out_features
        self.epsilon = float(epsilon)
        self.conv1 = _conv(self.width, 7, 2, name="conv1")
        self.bn1 = _norm(norm, epsilon, "bn1")
        self.stages = []
        stride_now, dilation_now = 4, 1
        self.strides, self.channels = {}, {}
        in_channels = self.width
        for i, blocks in enumerate(layers):
            planes = self.width * 2 ** i
            stride = 1 if i == 0 else 2
            previous_dilation = dilation_now
            if i == 3 and self.dilation:
                dilation_now *= stride
                stride = 1
            stride_now *= stride
            stage = []
            for b in range(blocks):
                stage.append(Bottleneck(
                    planes,
                    stride=stride if b == 0 else 1,
                    dilation=previous_dilation if b == 0 else dilation_now,
                    downsample=b == 0 and (stride != 1 or in_channels != planes * 4),
                    epsilon=epsilon,
                    norm=norm,
                    name=f"layer{i + 1}_{b}",
                ))
                in_channels = planes * 4
            self.stages.append(stage)
            self.strides[FEATURE_NAMES[i]] = stride_now
            self.channels[FEATURE_NAMES[i]] = in_channels
        stages = 4 if not self.train_backbone else self.frozen_stages
        frozen = [] if stages < 0 else [self.conv1]
        frozen += [b for s in self.stages[:max(stages, 0)] for b in s]
        for layer in frozen:
            layer.trainable = False

    @property
    def num_channels(self):
        return self.channels[self.out_features[-1]]

    def build(self, input_shape):
        shape = tuple(input_shape)
        self.conv1.build(shape)
        self.bn1.build(shape[:-1] + (self.width,))
        channels = self.width
        for stage in self.stages:
            for block in stage:
                block.build((None, None, None, channels))
                channels = block.planes * 4
        self.built = True

    def call(self, x, training=None):
        x = tf.nn.relu(self.bn1(_padded(self.conv1, x, 3), training=training))
        # Max pool 3×3/2 with padding 1; padded cells never win (inputs are >= 0 after ReLU,
        # and PyTorch pads with −inf).
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=float("-inf"))
        x = tf.nn.max_pool2d(x, 3, 2, "VALID")
        out = {}
        for name, stage in zip(FEATURE_NAMES, self.stages):
            for block in stage:
                x = block(x, training=training)
            if name in self.out_features:
                out[name] = x
            if all(f in out for f in self.out_features):
                break
        return out

    def get_config(self):
        config = super().get_config()
        config.update(depth=self.depth, layers=list(self.layers_per_stage), width=self.width,
                      dilation=self.dilation, train_backbone=self.train_backbone,
                      out_features=list(self.out_features), epsilon=self.epsilon,
                      frozen_stages=self.frozen_stages, norm=self.norm)
        return config


def downsample_mask(mask, size):
    """Nearest down-sampling of a [B, H, W] mask to ``size`` = (h, w), as PyTorch does.

    DETR (``BackboneBase.forward``) calls ``F.interpolate(m[None].float(), size=...)``,
    whose "nearest" mode reads source index ``floor(i · (H / h))`` (float32 scale), clamped
    to H − 1. ``tf.image.resize(method="nearest")`` picks different pixels (FACTS), so the
    indices are computed here explicitly. Returns the mask's dtype.
    """
    mask = tf.convert_to_tensor(mask)

    def indices(n_in, n_out):
        scale = tf.cast(n_in, tf.float32) / tf.cast(n_out, tf.float32)
        idx = tf.cast(tf.floor(tf.cast(tf.range(n_out), tf.float32) * scale), tf.int32)
        return tf.minimum(idx, n_in - 1)

    shape = tf.shape(mask)
    rows = indices(shape[1], size[0])
    cols = indices(shape[2], size[1])
    return tf.gather(tf.gather(mask, rows, axis=1), cols, axis=2)

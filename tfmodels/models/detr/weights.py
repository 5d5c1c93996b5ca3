"""Name tables for DETR checkpoints: the original state dict, HF ``transformers``, mmdetection.

Each table maps a source name to ``[(variable, transform), ...]``: most names feed one
variable; PyTorch's fused ``in_proj_weight``/``in_proj_bias`` ([3·D, D] = q; k; v) feed three.
Transforms turn PyTorch layouts into Keras ones (linear ``[out, in]`` → ``[in, out]``,
convolution ``[out, in, kh, kw]`` → ``[kh, kw, in, out]``).

- ``original_table``: facebookresearch/detr (``backbone.0.body.layer1.0.conv1.weight``,
  ``transformer.encoder.layers.0.self_attn.in_proj_weight``, ``class_embed``,
  ``bbox_embed.layers.N``, ``query_embed``, ``input_proj``); the published ``.pth`` files hold
  it under ``"model"``.
- ``hf_table``: ``DetrForObjectDetection`` (``model.encoder.layers.0.self_attn.q_proj``, ...),
  with HF's own ResNet (``use_timm_backbone=False``: ``model.backbone.model.encoder.stages``)
  or the timm backbone of the published HF checkpoints (``model.backbone.conv_encoder.model``,
  torchvision names); transformers 4 names (``out_proj``, ``fc1``) are accepted as well.
- ``mmdet_table``: mmdetection 3.x ``DETR`` (``backbone.layer1.0.conv1``,
  ``encoder.layers.0.self_attn.attn.in_proj_weight``, ``encoder.layers.0.ffn.layers.0.0``,
  ``norms.N``, ``decoder.post_norm``, ``bbox_head.fc_cls``, ``bbox_head.reg_ffn``,
  ``bbox_head.fc_reg``); the 2.x layout
  (``bbox_head.transformer.encoder.layers.0.attentions.0.attn``) with ``mmdet_version=2``.
"""

from __future__ import annotations

from tfmodels import weights as W


class _Table(dict):
    """A :mod:`tfmodels.weights` name table with helpers for PyTorch module kinds."""

    def dense(self, name, dense, weight="weight", bias="bias"):
        self[f"{name}.{weight}"] = W.Target(dense.kernel, W.transpose)
        if dense.use_bias:
            self[f"{name}.{bias}"] = dense.bias

    def conv(self, name, conv):
        self[f"{name}.weight"] = W.Target(conv.kernel, W.conv_oihw_to_hwio)
        if conv.use_bias:
            self[f"{name}.bias"] = conv.bias

    def norm(self, name, norm):
        self[f"{name}.weight"] = norm.gamma
        self[f"{name}.bias"] = norm.beta

    def frozen_bn(self, name, bn):
        self.norm(name, bn)
        self[f"{name}.running_mean"] = bn.moving_mean
        self[f"{name}.running_var"] = bn.moving_variance

    def fused_attention(self, name, mha):
        """``nn.MultiheadAttention``: ``in_proj_weight``/``in_proj_bias`` + ``out_proj``."""
        parts = (mha.query, mha.key, mha.value)
        self[f"{name}.in_proj_weight"] = [W.Target(p.kernel, W.split(i, 3), W.transpose)
                                          for i, p in enumerate(parts)]
        self[f"{name}.in_proj_bias"] = [W.Target(p.bias, W.split(i, 3))
                                        for i, p in enumerate(parts)]
        self.dense(f"{name}.out_proj", mha.output_dense)

    def split_attention(self, name, mha, out="o_proj"):
        self.dense(f"{name}.q_proj", mha.query)
        self.dense(f"{name}.k_proj", mha.key)
        self.dense(f"{name}.v_proj", mha.value)
        self.dense(f"{name}.{out}", mha.output_dense)


def _ffn(block):
    return block.feed_forward


def _self_attention(block):
    return block.self_attention


def _norms(block):
    """(self-attention norm, [cross-attention norm], output norm) of an encoder/decoder block."""
    if hasattr(block, "cross_attention"):
        return (block.self_attention_layer_norm, block.cross_attention_layer_norm,
                block.output_layer_norm)
    return block.self_attention_layer_norm, block.output_layer_norm


def torchvision_backbone(table, prefix, backbone):
    """torchvision ResNet names (``conv1``, ``bn1``, ``layerI.B.convJ``, ``downsample.0/1``)."""
    table.conv(f"{prefix}conv1", backbone.conv1)
    table.frozen_bn(f"{prefix}bn1", backbone.bn1)
    for i, stage in enumerate(backbone.stages):
        for b, block in enumerate(stage):
            p = f"{prefix}layer{i + 1}.{b}."
            for j in (1, 2, 3):
                table.conv(f"{p}conv{j}", getattr(block, f"conv{j}"))
                table.frozen_bn(f"{p}bn{j}", getattr(block, f"bn{j}"))
            if block.downsample:
                table.conv(f"{p}downsample.0", block.downsample_conv)
                table.frozen_bn(f"{p}downsample.1", block.downsample_bn)


def hf_resnet_backbone(table, prefix, backbone):
    """HF ``ResNetBackbone`` names (``embedder.embedder``, ``encoder.stages.S.layers.B``)."""
    table.conv(f"{prefix}embedder.embedder.convolution", backbone.conv1)
    table.frozen_bn(f"{prefix}embedder.embedder.normalization", backbone.bn1)
    for i, stage in enumerate(backbone.stages):
        for b, block in enumerate(stage):
            p = f"{prefix}encoder.stages.{i}.layers.{b}."
            for j in (1, 2, 3):
                table.conv(f"{p}layer.{j - 1}.convolution", getattr(block, f"conv{j}"))
                table.frozen_bn(f"{p}layer.{j - 1}.normalization", getattr(block, f"bn{j}"))
            if block.downsample:
                table.conv(f"{p}shortcut.convolution", block.downsample_conv)
                table.frozen_bn(f"{p}shortcut.normalization", block.downsample_bn)


def _torch_transformer(table, prefix, transformer):
    """``nn.TransformerEncoderLayer``-style names of the original ``transformer.py``."""
    for n, block in enumerate(transformer.encoder_layers):
        p = f"{prefix}encoder.layers.{n}."
        table.fused_attention(f"{p}self_attn", _self_attention(block))
        table.dense(f"{p}linear1", _ffn(block).intermediate)
        table.dense(f"{p}linear2", _ffn(block).output_dense)
        norm1, norm2 = _norms(block)
        table.norm(f"{p}norm1", norm1)
        table.norm(f"{p}norm2", norm2)
    if transformer.encoder_norm is not None:
        table.norm(f"{prefix}encoder.norm", transformer.encoder_norm)
    for n, block in enumerate(transformer.decoder_layers):
        p = f"{prefix}decoder.layers.{n}."
        table.fused_attention(f"{p}self_attn", block.self_attention)
        table.fused_attention(f"{p}multihead_attn", block.cross_attention)
        table.dense(f"{p}linear1", _ffn(block).intermediate)
        table.dense(f"{p}linear2", _ffn(block).output_dense)
        for j, norm in enumerate(_norms(block)):
            table.norm(f"{p}norm{j + 1}", norm)
    table.norm(f"{prefix}decoder.norm", transformer.decoder_norm)


def original_table(model):
    """facebookresearch/detr ``DETR.state_dict()`` names for a built :class:`DETR`."""
    t = _Table()
    torchvision_backbone(t, "backbone.0.body.", model.backbone)
    _torch_transformer(t, "transformer.", model.transformer)
    t.conv("input_proj", model.input_proj)
    t["query_embed.weight"] = model.query_embed.embeddings
    t.dense("class_embed", model.class_embed)
    for i, dense in enumerate(model.bbox_embed.dense_layers):
        t.dense(f"bbox_embed.layers.{i}", dense)
    if hasattr(model.position_encoding, "row_embed"):
        t["backbone.1.row_embed.weight"] = model.position_encoding.row_embed
        t["backbone.1.col_embed.weight"] = model.position_encoding.col_embed
    return t


def hf_table(model, timm_backbone=False, out_proj="o_proj", mlp_prefix="mlp."):
    """HF ``DetrForObjectDetection`` names (transformers 5; see :func:`hf_aliases` for 4)."""
    t = _Table()
    if timm_backbone:
        torchvision_backbone(t, "model.backbone.conv_encoder.model.", model.backbone)
    else:
        hf_resnet_backbone(t, "model.backbone.model.", model.backbone)
    t.conv("model.input_projection", model.input_proj)
    t["model.query_position_embeddings.weight"] = model.query_embed.embeddings
    tr = model.transformer
    for n, block in enumerate(tr.encoder_layers):
        p = f"model.encoder.layers.{n}."
        t.split_attention(f"{p}self_attn", _self_attention(block), out_proj)
        t.dense(f"{p}{mlp_prefix}fc1", _ffn(block).intermediate)
        t.dense(f"{p}{mlp_prefix}fc2", _ffn(block).output_dense)
        norm1, norm2 = _norms(block)
        t.norm(f"{p}self_attn_layer_norm", norm1)
        t.norm(f"{p}final_layer_norm", norm2)
    for n, block in enumerate(tr.decoder_layers):
        p = f"model.decoder.layers.{n}."
        t.split_attention(f"{p}self_attn", block.self_attention, out_proj)
        t.split_attention(f"{p}encoder_attn", block.cross_attention, out_proj)
        t.dense(f"{p}{mlp_prefix}fc1", _ffn(block).intermediate)
        t.dense(f"{p}{mlp_prefix}fc2", _ffn(block).output_dense)
        for name, norm in zip(("self_attn_layer_norm", "encoder_attn_layer_norm",
                               "final_layer_norm"), _norms(block)):
            t.norm(f"{p}{name}", norm)
    t.norm("model.decoder.layernorm", tr.decoder_norm)
    t.dense("class_labels_classifier", model.class_embed)
    for i, dense in enumerate(model.bbox_embed.dense_layers):
        t.dense(f"bbox_predictor.layers.{i}", dense)
    return t


def hf_table_for(model, names):
    """The HF table whose conventions match the checkpoint ``names`` (4.x or 5.x, timm or not)."""
    names = set(names)
    timm = any(n.startswith("model.backbone.conv_encoder.") for n in names)
    v4 = any(".self_attn.out_proj." in n for n in names)
    return hf_table(model, timm_backbone=timm, out_proj="out_proj" if v4 else "o_proj",
                    mlp_prefix="" if v4 else "mlp.")


def _mmcv_ffn(table, name, ffn):
    """mmcv ``FFN``: ``layers.0.0`` (Linear in Sequential(Linear, act, drop)), ``layers.1``."""
    table.dense(f"{name}.layers.0.0", ffn.intermediate)
    table.dense(f"{name}.layers.1", ffn.output_dense)


def mmdet_table(model, mmdet_version=3):
    """mmdetection DETR-R50 names (``configs/detr/detr_r50_8xb2-150e_coco.py``).

    mmdetection's ResNet keeps torchvision's names under ``backbone.``; its heads are
    ``fc_cls`` (num_classes + 1 logits, background last, as the original) and a box branch
    ``reg_ffn`` (two Linear + ReLU) followed by ``fc_reg``: the same three linear layers as the
    original ``bbox_embed``. mmdetection's COCO models have 80 contiguous classes.
    """
    t = _Table()
    torchvision_backbone(t, "backbone.", model.backbone)
    tr = model.transformer
    if mmdet_version == 3:
        t.conv("input_proj", model.input_proj)
        t["query_embedding.weight"] = model.query_embed.embeddings
        enc, dec = "encoder.layers.", "decoder.layers."
        self_attn = lambda p: f"{p}self_attn.attn"  # noqa: E731
        cross_attn = lambda p: f"{p}cross_attn.attn"  # noqa: E731
        ffn = lambda p: f"{p}ffn"  # noqa: E731
        post_norm = "decoder.post_norm"
    elif mmdet_version == 2:
        t.conv("bbox_head.input_proj", model.input_proj)
        t["bbox_head.query_embedding.weight"] = model.query_embed.embeddings
        enc = "bbox_head.transformer.encoder.layers."
        dec = "bbox_head.transformer.decoder.layers."
        self_attn = lambda p: f"{p}attentions.0.attn"  # noqa: E731
        cross_attn = lambda p: f"{p}attentions.1.attn"  # noqa: E731
        ffn = lambda p: f"{p}ffns.0"  # noqa: E731
        post_norm = "bbox_head.transformer.decoder.post_norm"
    else:
        raise ValueError(f"mmdet_version must be 2 or 3; got {mmdet_version}")
    for n, block in enumerate(tr.encoder_layers):
        p = f"{enc}{n}."
        t.fused_attention(self_attn(p), _self_attention(block))
        _mmcv_ffn(t, ffn(p), _ffn(block))
        for j, norm in enumerate(_norms(block)):
            t.norm(f"{p}norms.{j}", norm)
    for n, block in enumerate(tr.decoder_layers):
        p = f"{dec}{n}."
        t.fused_attention(self_attn(p), block.self_attention)
        t.fused_attention(cross_attn(p), block.cross_attention)
        _mmcv_ffn(t, ffn(p), _ffn(block))
        for j, norm in enumerate(_norms(block)):
            t.norm(f"{p}norms.{j}", norm)
    t.norm(post_norm, tr.decoder_norm)
    t.dense("bbox_head.fc_cls", model.class_embed)
    dense = model.bbox_embed.dense_layers
    t.dense("bbox_head.reg_ffn.layers.0.0", dense[0])
    t.dense("bbox_head.reg_ffn.layers.1", dense[1])
    t.dense("bbox_head.fc_reg", dense[2])
    return t

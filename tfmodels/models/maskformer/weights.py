"""Name tables and loading for MaskFormer checkpoints: HF ``transformers`` and detectron2.

- ``hf_table``: ``MaskFormerForInstanceSegmentation`` (``model.pixel_level_module.encoder``
  = ``MaskFormerSwinBackbone`` or HF ``ResNetBackbone``, ``...decoder.fpn.stem/layers.N``,
  ``...decoder.mask_projection``, ``model.transformer_module.{queries_embedder,
  input_projection, decoder.layers.N}``, ``class_predictor``, ``mask_embedder.N.0``).
- ``original_table``: the detectron2 state dict of facebookresearch/MaskFormer
  (``backbone.stem.conv1``, ``backbone.res2.0.conv1`` + ``.norm``, ``backbone.layers.I.
  blocks.J.attn.qkv`` for Swin, ``sem_seg_head.pixel_decoder.{adapter_i,layer_i,
  mask_features,input_proj,transformer.encoder}``, ``sem_seg_head.predictor.{query_embed,
  input_proj,transformer.decoder,class_embed,mask_embed.layers.N}``).

``load_maskformer(path)`` takes an HF directory (``config.json`` + ``model.safetensors``), a
detectron2 ``.pkl`` (read through :mod:`tfmodels.torch_pickle`'s restricted unpickler, never
plain ``pickle.load``) or a ``.pth``/``.safetensors`` state dict with detectron2 names, builds
the model from the configuration (HF) or the shapes (detectron2) and reports missing and
unexpected names.
"""

from __future__ import annotations

import io as _pyio
import json
import re

import numpy as np

from tfmodels import io
from tfmodels import weights as W
from tfmodels.models.detr.weights import _Table, _torch_transformer, hf_resnet_backbone
from tfmodels.models.maskformer.config import MaskFormerConfig
from tfmodels.models.maskformer.model import MaskFormer

# Buffers and unused heads that carry no weight of the model.
IGNORE = (r"(^|\.)num_batches_tracked$", r"relative_position_index$", r"^criterion\.",
          r"encoder\.model\.layernorm\.", r"^pixel_mean$", r"^pixel_std$")


class _MaskFormerTable(_Table):
    def group_norm(self, name, norm):
        self[f"{name}.weight"] = norm.gamma
        self[f"{name}.bias"] = norm.beta

    def qkv(self, name, attn):
        """A fused ``qkv`` linear ([3C, C]: q; k; v) onto the three projections."""
        parts = (attn.query, attn.key, attn.value)
        self[f"{name}.weight"] = [W.Target(p.kernel, W.split(i, 3), W.transpose)
                                  for i, p in enumerate(parts)]
        if attn.qkv_bias:
            self[f"{name}.bias"] = [W.Target(p.bias, W.split(i, 3)) for i, p in enumerate(parts)]


def _swin(t, prefix, swin, hf):
    """Swin names: HF ``MaskFormerSwinBackbone`` (``hf``) or the original ``D2SwinTransformer``."""
    if hf:
        t.conv(f"{prefix}model.embeddings.patch_embeddings.projection", swin.patch_embed)
        t.norm(f"{prefix}model.embeddings.norm", swin.patch_norm)
    else:
        t.conv(f"{prefix}patch_embed.proj", swin.patch_embed)
        t.norm(f"{prefix}patch_embed.norm", swin.patch_norm)
    for i, blocks in enumerate(swin.stages):
        stage = f"{prefix}model.encoder.layers.{i}." if hf else f"{prefix}layers.{i}."
        for j, block in enumerate(blocks):
            p = f"{stage}blocks.{j}."
            a = block.attn
            if hf:
                t.norm(f"{p}layernorm_before", block.norm1)
                t.dense(f"{p}attention.self.query", a.query)
                t.dense(f"{p}attention.self.key", a.key)
                t.dense(f"{p}attention.self.value", a.value)
                t[f"{p}attention.self.relative_position_bias_table"] = \
                    a.relative_position_bias_table
                t.dense(f"{p}attention.output.dense", a.proj)
                t.norm(f"{p}layernorm_after", block.norm2)
                t.dense(f"{p}intermediate.dense", block.fc1)
                t.dense(f"{p}output.dense", block.fc2)
            else:
                t.norm(f"{p}norm1", block.norm1)
                t.qkv(f"{p}attn.qkv", a)
                t[f"{p}attn.relative_position_bias_table"] = a.relative_position_bias_table
                t.dense(f"{p}attn.proj", a.proj)
                t.norm(f"{p}norm2", block.norm2)
                t.dense(f"{p}mlp.fc1", block.fc1)
                t.dense(f"{p}mlp.fc2", block.fc2)
        down = swin.downsamples[i]
        if down is not None:
            t.dense(f"{stage}downsample.reduction", down.reduction)
            t.norm(f"{stage}downsample.norm", down.norm)
        t.norm(f"{prefix}hidden_states_norms.{i}" if hf else f"{prefix}norm{i}", swin.norms[i])


def _d2_resnet(t, prefix, resnet):
    """detectron2 ResNet names (``stem.conv1``, ``resN.B.convJ``, ``shortcut``, ``.norm``)."""
    def conv_norm(name, conv, norm):
        t.conv(name, conv)
        t.frozen_bn(f"{name}.norm", norm)

    conv_norm(f"{prefix}stem.conv1", resnet.conv1, resnet.bn1)
    for i, stage in enumerate(resnet.stages):
        for b, block in enumerate(stage):
            p = f"{prefix}res{i + 2}.{b}."
            for j in (1, 2, 3):
                conv_norm(f"{p}conv{j}", getattr(block, f"conv{j}"), getattr(block, f"bn{j}"))
            if block.downsample:
                conv_norm(f"{p}shortcut", block.downsample_conv, block.downsample_bn)


def hf_table(model, names=()):
    """HF ``MaskFormerForInstanceSegmentation`` names for a built model: transformers 5
    (``o_proj``, ``mlp.fc1``), or the 4.x names that ``save_pretrained`` writes
    (``out_proj``, ``fc1``) when ``names`` (the checkpoint's) use them."""
    v4 = any(".self_attn.out_proj." in n for n in names)
    out_proj, mlp = ("out_proj", "") if v4 else ("o_proj", "mlp.")
    t = _MaskFormerTable()
    enc = "model.pixel_level_module.encoder."
    if model.config.backbone == "swin":
        _swin(t, enc, model.backbone, hf=True)
    else:
        hf_resnet_backbone(t, enc, model.backbone)
    pd = model.pixel_decoder
    fpn = "model.pixel_level_module.decoder.fpn."
    t.conv(f"{fpn}stem.0", pd.layers_[3])
    t.group_norm(f"{fpn}stem.1", pd.layer_norms[3])
    for j, i in enumerate((2, 1, 0)):
        t.conv(f"{fpn}layers.{j}.proj.0", pd.adapters[i])
        t.group_norm(f"{fpn}layers.{j}.proj.1", pd.adapter_norms[i])
        t.conv(f"{fpn}layers.{j}.block.0", pd.layers_[i])
        t.group_norm(f"{fpn}layers.{j}.block.1", pd.layer_norms[i])
    t.conv("model.pixel_level_module.decoder.mask_projection", pd.mask_features)
    pr = model.predictor
    tm = "model.transformer_module."
    t[f"{tm}queries_embedder.weight"] = pr.query_embed.embeddings
    if pr.input_proj is not None:
        t.conv(f"{tm}input_projection", pr.input_proj)
    for n, block in enumerate(pr.transformer.decoder_layers):
        p = f"{tm}decoder.layers.{n}."
        t.split_attention(f"{p}self_attn", block.self_attention, out_proj)
        t.split_attention(f"{p}encoder_attn", block.cross_attention, out_proj)
        t.dense(f"{p}{mlp}fc1", block.feed_forward.intermediate)
        t.dense(f"{p}{mlp}fc2", block.feed_forward.output_dense)
        t.norm(f"{p}self_attn_layer_norm", block.self_attention_layer_norm)
        t.norm(f"{p}encoder_attn_layer_norm", block.cross_attention_layer_norm)
        t.norm(f"{p}final_layer_norm", block.output_layer_norm)
    t.norm(f"{tm}decoder.layernorm", pr.transformer.decoder_norm)
    t.dense("class_predictor", pr.class_embed)
    for i, dense in enumerate(pr.mask_embed.dense_layers):
        t.dense(f"mask_embedder.{i}.0", dense)
    return t


def original_table(model):
    """facebookresearch/MaskFormer (detectron2) state-dict names for a built model."""
    t = _MaskFormerTable()
    if model.config.backbone == "swin":
        _swin(t, "backbone.", model.backbone, hf=False)
    else:
        _d2_resnet(t, "backbone.", model.backbone)
    pd = model.pixel_decoder
    p = "sem_seg_head.pixel_decoder."
    for i in range(3):
        t.conv(f"{p}adapter_{i + 1}", pd.adapters[i])
        t.group_norm(f"{p}adapter_{i + 1}.norm", pd.adapter_norms[i])
    for i in range(4):
        t.conv(f"{p}layer_{i + 1}", pd.layers_[i])
        t.group_norm(f"{p}layer_{i + 1}.norm", pd.layer_norms[i])
    t.conv(f"{p}mask_features", pd.mask_features)
    if hasattr(pd, "encoder_layers"):
        t.conv(f"{p}input_proj", pd.input_proj)
        for n, block in enumerate(pd.encoder_layers):
            q = f"{p}transformer.encoder.layers.{n}."
            t.fused_attention(f"{q}self_attn", block.self_attention)
            t.dense(f"{q}linear1", block.feed_forward.intermediate)
            t.dense(f"{q}linear2", block.feed_forward.output_dense)
            t.norm(f"{q}norm1", block.self_attention_layer_norm)
            t.norm(f"{q}norm2", block.output_layer_norm)
        if pd.encoder_norm is not None:
            t.norm(f"{p}transformer.encoder.norm", pd.encoder_norm)
    pr = model.predictor
    p = "sem_seg_head.predictor."
    _torch_transformer(t, f"{p}transformer.", pr.transformer)
    t[f"{p}query_embed.weight"] = pr.query_embed.embeddings
    if pr.input_proj is not None:
        t.conv(f"{p}input_proj", pr.input_proj)
    t.dense(f"{p}class_embed", pr.class_embed)
    for i, dense in enumerate(pr.mask_embed.dense_layers):
        t.dense(f"{p}mask_embed.layers.{i}", dense)
    return t


# ------------------------------------------------------------------------ configurations


def config_from_hf(hf, **overrides):
    """A :class:`MaskFormerConfig` from an HF ``MaskFormerConfig`` dict (``config.json``)."""
    bc = hf.get("backbone_config") or {}
    dc = hf.get("decoder_config") or {}
    labels = hf.get("id2label") or {}
    fields = dict(
        num_classes=int(hf.get("num_labels", len(labels) or 150)),
        conv_dim=int(hf.get("fpn_feature_size", 256)),
        mask_dim=int(hf.get("mask_feature_size", 256)),
        hidden_dim=int(dc.get("d_model", 256)),
        num_queries=int(dc.get("num_queries", 100)),
        nheads=int(dc.get("decoder_attention_heads", 8)),
        dim_feedforward=int(dc.get("decoder_ffn_dim", 2048)),
        dec_layers=int(dc.get("decoder_layers", 6)),
        dropout=float(dc.get("dropout", 0.1)),
        deep_supervision=bool(hf.get("use_auxiliary_loss", False)),
    )
    if labels and "num_labels" not in hf:
        fields["num_classes"] = len(labels)
    kind = bc.get("model_type", "swin")
    if kind in ("swin", "maskformer-swin"):
        fields.update(backbone="swin", swin_embed_dim=int(bc.get("embed_dim", 96)),
                      swin_depths=tuple(bc.get("depths", (2, 2, 6, 2))),
                      swin_num_heads=tuple(bc.get("num_heads", (3, 6, 12, 24))),
                      swin_window_size=int(bc.get("window_size", 7)),
                      swin_patch_size=int(bc.get("patch_size", 4)),
                      swin_mlp_ratio=float(bc.get("mlp_ratio", 4.0)),
                      swin_drop_path_rate=float(bc.get("drop_path_rate", 0.1)))
    elif kind == "resnet":
        if bc.get("layer_type", "bottleneck") != "bottleneck":
            raise ValueError("config.json: only bottleneck ResNets are supported; got "
                             f"layer_type={bc.get('layer_type')!r}")
        width = int(bc.get("embedding_size", 64))
        hidden = [int(h) for h in bc.get("hidden_sizes", (256, 512, 1024, 2048))]
        if hidden != [4 * width * 2 ** i for i in range(4)]:
            raise ValueError(f"config.json: hidden_sizes {hidden} do not follow "
                             f"embedding_size {width} (expected 4·{width}·2^i)")
        depths = tuple(int(d) for d in bc.get("depths", (3, 4, 6, 3)))
        fields.update(backbone="resnet50", backbone_layers=depths, backbone_width=width,
                      backbone_norm="batch", frozen_stages=-1)
    else:
        raise ValueError(f"config.json: backbone model_type {kind!r} is not supported "
                         "(swin, maskformer-swin, resnet)")
    fields.update(overrides)
    return MaskFormerConfig(**fields)


def _count(names, pattern):
    found = {int(m.group(1)) for n in names for m in [re.match(pattern, n)] if m}
    return max(found) + 1 if found else 0


def config_from_state_dict(state, **overrides):
    """A :class:`MaskFormerConfig` read off a detectron2 state dict's shapes.

    Not recoverable from shapes (defaults unless overridden): ``nheads``, Swin's heads and
    window size (read from the bias table when present), ``dropout``.
    """
    names = list(state)
    p = "sem_seg_head.predictor."
    query = state[f"{p}query_embed.weight"]
    fields = dict(
        num_classes=int(state[f"{p}class_embed.weight"].shape[0]) - 1,
        hidden_dim=int(query.shape[1]), num_queries=int(query.shape[0]),
        dec_layers=_count(names, rf"{p}transformer\.decoder\.layers\.(\d+)\."),
        enc_layers=_count(names, rf"{p}transformer\.encoder\.layers\.(\d+)\."),
        dim_feedforward=int(state[f"{p}transformer.decoder.layers.0.linear1.weight"].shape[0]),
        mask_dim=int(state["sem_seg_head.pixel_decoder.mask_features.weight"].shape[0]),
        conv_dim=int(state["sem_seg_head.pixel_decoder.layer_1.weight"].shape[0]),
        enforce_input_proj=f"{p}input_proj.weight" in state,
    )
    enc = _count(names, r"sem_seg_head\.pixel_decoder\.transformer\.encoder\.layers\.(\d+)\.")
    if enc:
        fields.update(pixel_decoder="TransformerEncoderPixelDecoder", transformer_enc_layers=enc,
                      pre_norm="sem_seg_head.pixel_decoder.transformer.encoder.norm.weight"
                      in state)
    if "backbone.patch_embed.proj.weight" in state:
        proj = state["backbone.patch_embed.proj.weight"]
        depths = tuple(_count(names, rf"backbone\.layers\.{i}\.blocks\.(\d+)\.") for i in range(4))
        table = state["backbone.layers.0.blocks.0.attn.relative_position_bias_table"]
        window = (int(round(np.sqrt(table.shape[0]))) + 1) // 2
        heads = tuple(int(state[f"backbone.layers.{i}.blocks.0.attn.relative_position_bias_table"]
                          .shape[1]) for i in range(4))
        fields.update(backbone="swin", swin_embed_dim=int(proj.shape[0]), swin_depths=depths,
                      swin_num_heads=heads, swin_window_size=window,
                      swin_patch_size=int(proj.shape[2]))
    else:
        res4 = _count(names, r"backbone\.res4\.(\d+)\.")
        layers = tuple(_count(names, rf"backbone\.res{i}\.(\d+)\.") for i in (2, 3, 4, 5))
        fields.update(backbone="resnet101" if res4 == 23 else "resnet50",
                      backbone_width=int(state["backbone.stem.conv1.weight"].shape[0]))
        if layers not in ((3, 4, 6, 3), (3, 4, 23, 3)):
            fields["backbone_layers"] = layers
    fields.update(overrides)
    return MaskFormerConfig(**fields)


def read_pkl(path):
    """``{name: array}`` of a detectron2 ``.pkl`` (``{"model": {...}}``), read through the
    restricted unpickler (arrays and plain containers only; Caffe2-era files are latin-1)."""
    from tfmodels.torch_pickle import RestrictedUnpickler, state_dict_of

    if not io.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    with io.open_file(path, "rb") as f:
        data = f.read()
    obj = RestrictedUnpickler(_pyio.BytesIO(data), None, path, encoding="latin1").load()
    if isinstance(obj, dict) and isinstance(obj.get("blobs"), dict):
        obj = obj["blobs"]
    state = state_dict_of(obj, path)
    return {k: np.asarray(v) for k, v in state.items()}


def read_state_dict(path):
    if str(path).endswith(".pkl"):
        return read_pkl(path)
    reader = W.open_reader(path)
    return {name: reader.read(name) for name in reader.names()}


def build(model):
    if not model.built:
        model.build()
    return model


def load_maskformer(path, config=None, strict=True, return_report=False, **overrides):
    """A :class:`MaskFormer` with the weights at ``path``.

    ``path``: an HF directory (``config.json`` + ``model.safetensors``), a detectron2
    ``model_final_*.pkl``, or a ``.pth``/``.safetensors`` file with detectron2 names.
    ``config`` overrides the configuration read from ``config.json`` or the shapes.
    With ``return_report`` returns ``(model, LoadReport)``; ``strict`` raises on missing or
    unexpected names.
    """
    if io.isdir(path):
        config_file, weights_file = io.join(path, "config.json"), io.join(path,
                                                                          "model.safetensors")
        for f in (config_file, weights_file):
            if not io.exists(f):
                raise FileNotFoundError(f"{path}: no {io.basename(f)} (not an HF MaskFormer "
                                        "directory)")
        if config is None:
            config = config_from_hf(json.loads(io.read_text(config_file)), **overrides)
        model = build(MaskFormer(config))
        reader = W.open_reader(weights_file)
        report = W.load_weights(reader, hf_table(model, reader.names()), strict=strict,
                                ignore=IGNORE)
    else:
        state = read_state_dict(path)
        if not any(n.startswith("sem_seg_head.") for n in state):
            raise ValueError(f"{path}: names match no MaskFormer layout (expected "
                             f"sem_seg_head.*); first names: {list(state)[:5]}")
        if config is None:
            config = config_from_state_dict(state, **overrides)
        model = build(MaskFormer(config))
        report = W.load_weights(state, original_table(model), strict=strict, ignore=IGNORE)
    return (model, report) if return_report else model


CONFIG_FILE = "maskformer_config.json"


def restore_maskformer(path, **overrides):
    """A MaskFormer from a training directory (``maskformer_config.json`` + the latest
    ``model.ckpt-<step>`` of the shared trainer), else :func:`load_maskformer` (an HF
    directory, a detectron2 ``.pkl``, a state dict)."""
    config_file = io.join(path, CONFIG_FILE)
    if not (io.isdir(path) and io.exists(config_file)):
        return load_maskformer(path, **overrides)
    import keras

    from tfmodels.models.maskformer.training import make_checkpoint

    model = build(MaskFormer(MaskFormerConfig.from_json_file(config_file)))
    optimizer = keras.optimizers.AdamW()
    optimizer.build(model.trainable_variables)
    if make_checkpoint(model, optimizer)(path).restore() is None:
        raise FileNotFoundError(f"{path}: no checkpoint listed in its state file")
    return model

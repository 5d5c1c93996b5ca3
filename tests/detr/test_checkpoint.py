"""Original / mmdetection state dicts (torch.save, safetensors, npz) load into DETR as HF's weights.

The original-layout state dict is written from HF's by the renaming rules of DETR's source
(fused ``in_proj`` = concat(q, k, v); torchvision ResNet names), stated here independently of
the library's tables; the loaded model must reproduce HF's outputs.
"""

import pickle
import re
import zipfile

import numpy as np
import pytest

from tfmodels import torch_pickle
from tfmodels.models.detr import load_detr

pytestmark = pytest.mark.parity

_BACKBONE_RULES = [
    (r"model\.backbone\.model\.embedder\.embedder\.convolution", "backbone.0.body.conv1"),
    (r"model\.backbone\.model\.embedder\.embedder\.normalization", "backbone.0.body.bn1"),
]


def _backbone(name):
    for pat, rep in _BACKBONE_RULES:
        if re.match(pat, name):
            return re.sub(pat, rep, name)
    m = re.match(r"model\.backbone\.model\.encoder\.stages\.(\d)\.layers\.(\d+)\.(.*)", name)
    s, b, rest = int(m.group(1)), m.group(2), m.group(3)
    rest = re.sub(r"layer\.(\d)\.convolution", lambda g: f"conv{int(g.group(1)) + 1}", rest)
    rest = re.sub(r"layer\.(\d)\.normalization", lambda g: f"bn{int(g.group(1)) + 1}", rest)
    rest = rest.replace("shortcut.convolution", "downsample.0")
    rest = rest.replace("shortcut.normalization", "downsample.1")
    return f"backbone.0.body.layer{s + 1}.{b}.{rest}"


def original_from_hf(hf):
    out = {}
    for name, v in hf.items():
        if name.startswith("model.backbone."):
            out[_backbone(name)] = v
            continue
        m = re.match(r"model\.(encoder|decoder)\.layers\.(\d+)\.(self_attn|encoder_attn)\.(q|k|v|o)"
                     r"_proj\.(weight|bias)", name)
        if m:
            part, n, attn, qkvo, kind = m.groups()
            attn = "self_attn" if attn == "self_attn" else "multihead_attn"
            p = f"transformer.{part}.layers.{n}.{attn}."
            if qkvo == "o":
                out[f"{p}out_proj.{kind}"] = v
            elif qkvo == "q":
                base = f"model.{part}.layers.{n}.{m.group(3)}."
                out[f"{p}in_proj_{kind}"] = np.concatenate(
                    [hf[f"{base}{x}_proj.{kind}"] for x in "qkv"], 0)
            continue
        name2 = name
        for pat, rep in [(r"model\.(encoder|decoder)\.layers", r"transformer.\1.layers"),
                         (r"mlp\.fc1", "linear1"), (r"mlp\.fc2", "linear2"),
                         (r"self_attn_layer_norm", "norm1"), (r"encoder_attn_layer_norm", "norm2"),
                         (r"model\.decoder\.layernorm", "transformer.decoder.norm"),
                         (r"model\.input_projection", "input_proj"),
                         (r"model\.query_position_embeddings", "query_embed"),
                         (r"class_labels_classifier", "class_embed"),
                         (r"bbox_predictor", "bbox_embed")]:
            name2 = re.sub(pat, rep, name2)
        if "final_layer_norm" in name2:
            name2 = name2.replace("final_layer_norm", "norm3" if ".decoder." in name2 else "norm2")
        out[name2] = v
    return out


def mmdet_from_original(orig):
    out = {}
    for name, v in orig.items():
        n = name.replace("backbone.0.body.", "backbone.")
        n = n.replace("transformer.encoder.", "encoder.")
        n = n.replace("transformer.decoder.", "decoder.")
        n = re.sub(r"self_attn\.", "self_attn.attn.", n)
        n = re.sub(r"multihead_attn\.", "cross_attn.attn.", n)
        n = n.replace("linear1", "ffn.layers.0.0").replace("linear2", "ffn.layers.1")
        n = re.sub(r"norm(\d)", lambda g: f"norms.{int(g.group(1)) - 1}", n)
        n = n.replace("decoder.norm.", "decoder.post_norm.")
        n = n.replace("query_embed.", "query_embedding.")
        n = n.replace("class_embed.", "bbox_head.fc_cls.")
        n = n.replace("bbox_embed.layers.0.", "bbox_head.reg_ffn.layers.0.0.")
        n = n.replace("bbox_embed.layers.1.", "bbox_head.reg_ffn.layers.1.")
        n = n.replace("bbox_embed.layers.2.", "bbox_head.fc_reg.")
        out[n] = v
    return out


@pytest.fixture(scope="module")
def reference():
    import torch

    from tests.detr.test_parity import _batch, _hf_model

    hf = _hf_model(torch, small_backbone=True)
    pixels, mask = _batch(np.random.default_rng(1))
    with torch.no_grad():
        ref = hf(pixel_values=torch.from_numpy(pixels.transpose(0, 3, 1, 2).copy()),
                 pixel_mask=torch.from_numpy(mask).long())
    state = {k: v.detach().numpy() for k, v in hf.state_dict().items()}
    return original_from_hf(state), (pixels, mask), ref.logits.numpy(), ref.pred_boxes.numpy()


def _check(model, reference):
    _, (pixels, mask), logits, boxes = reference
    out = model({"pixel_values": pixels, "pixel_mask": mask})
    np.testing.assert_allclose(out["pred_logits"].numpy(), logits, atol=1e-4)
    np.testing.assert_allclose(out["pred_boxes"].numpy(), boxes, atol=1e-4)


def test_original_pth_written_by_torch(reference, tmp_path):
    import torch

    state = reference[0]
    path = str(tmp_path / "detr.pth")
    torch.save({"model": {k: torch.from_numpy(v) for k, v in state.items()}, "epoch": 3}, path)
    model, report = load_detr(path, num_classes=7, nheads=4, return_report=True)
    assert not report.missing and not report.unexpected
    assert model.config.enc_layers == 1 and model.config.dec_layers == 2
    assert model.config.num_queries == 6 and model.config.backbone_layers == (1, 1, 1, 1)
    assert model.config.backbone_width == 16
    _check(model, reference)
    # The same file read by torch and by the restricted reader: identical arrays.
    ours = torch_pickle.load_state_dict(path)
    theirs = torch.load(path, weights_only=True)["model"]
    assert set(ours) == set(theirs)
    for k in theirs:
        np.testing.assert_array_equal(ours[k], theirs[k].numpy())


def test_safetensors_npz_and_mmdet(reference, tmp_path):
    from safetensors.numpy import save_file

    state = reference[0]
    path = str(tmp_path / "detr.safetensors")
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, path)
    _check(load_detr(path, num_classes=7, nheads=4), reference)
    npz = str(tmp_path / "detr.npz")
    np.savez(npz, **state)
    model = load_detr(npz, num_classes=7, nheads=4)
    mm = mmdet_from_original(state)
    from tfmodels.models.detr.checkpoint import load_state_dict
    from tfmodels.models.detr.weights import mmdet_table

    for v in model.weights:
        v.assign(np.zeros(v.shape, v.dtype))
    report = load_state_dict(model, mm, mmdet_table(model), strict=True)
    assert not report.unexpected and not report.missing
    _check(model, reference)
    with pytest.raises(ValueError, match="num_classes=91"):
        load_detr(npz)  # 7 classes in the file
    del state["class_embed.bias"]
    with pytest.raises(ValueError, match="missing: class_embed.bias"):
        load_detr(state, num_classes=7, nheads=4)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo owned",))


def test_malicious_pickle_is_refused(tmp_path):
    payload = pickle.dumps({"model": _Evil()}, protocol=2)
    with pytest.raises(torch_pickle.UnsafePickleError, match="posix.system|nt.system"):
        torch_pickle.loads(payload)
    path = str(tmp_path / "evil.pth")  # the same inside torch's zip layout
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    with pytest.raises(torch_pickle.UnsafePickleError, match="refusing to load global"):
        torch_pickle.load(path)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        torch_pickle.load(str(tmp_path / "missing.pth"))

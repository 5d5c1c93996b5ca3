"""Swin backbone against HF ``transformers``' own ``SwinBackbone`` (torch) on random weights,
on the full-size chelsea photograph (300 x 451: not a multiple of the patch nor the window;
every stage larger than the window, where HF's Swin and the original agree)."""

import numpy as np
import pytest

from tfmodels import weights as W
from tfmodels.models.maskformer.swin import SwinBackbone
from tfmodels.models.maskformer.weights import _MaskFormerTable, _swin

pytestmark = pytest.mark.parity


def test_swin_matches_hf_swin_backbone():
    import torch
    from skimage import data
    from transformers import SwinBackbone as HFSwinBackbone
    from transformers import SwinConfig

    torch.manual_seed(0)
    config = SwinConfig(embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                        window_size=7, out_features=["stage1", "stage2", "stage3", "stage4"])
    hf = HFSwinBackbone(config).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, t in hf.state_dict().items():
            if t.is_floating_point() and not name.endswith("relative_position_index"):
                t.add_(torch.randn(t.shape, generator=g) * 0.1)
    ours = SwinBackbone(16, (1, 2, 1, 1), (1, 2, 2, 4), 7, drop_path_rate=0.0)
    ours.build((None, None, None, 3))
    table = _MaskFormerTable()
    _swin(table, "", ours, hf=True)
    renamed = {}
    for name, entry in table.items():
        # MaskFormer-Swin names -> transformers 5 Swin names
        name = name.replace("model.", "swin.", 1)
        for old, new in (("attention.self.query", "attention.q_proj"),
                         ("attention.self.key", "attention.k_proj"),
                         ("attention.self.value", "attention.v_proj"),
                         ("attention.output.dense", "attention.o_proj"),
                         ("attention.self.relative_position_bias_table",
                          "attention.relative_position_bias.relative_position_bias_table"),
                         ("intermediate.dense", "mlp.fc1"), ("output.dense", "mlp.fc2")):
            name = name.replace(old, new)
        name = name.replace("swin.hidden_states_norms", "hidden_states_norms")
        for i in range(4):
            name = name.replace(f"hidden_states_norms.{i}.", f"hidden_states_norms.stage{i + 1}.")
        renamed[name] = entry
    state = {k: v.numpy() for k, v in hf.state_dict().items()}
    report = W.load_weights(state, renamed, strict=True,
                            ignore=(r"relative_position_index$", r"^swin\.layernorm\."))
    assert report.ok

    img = data.chelsea().astype(np.float32) / 255.0  # 300 x 451
    x = ((img - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).astype(np.float32)[None]
    with torch.no_grad():
        ref = hf(torch.from_numpy(x.transpose(0, 3, 1, 2))).feature_maps
    got = ours(x)
    for i, name in enumerate(("res2", "res3", "res4", "res5")):
        want = ref[i].numpy().transpose(0, 2, 3, 1)
        assert got[name].shape == want.shape, name
        scale = max(1.0, float(np.abs(want).max()))
        assert np.abs(got[name].numpy() - want).max() <= 1e-4 * scale, name

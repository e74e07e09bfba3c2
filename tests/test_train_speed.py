"""The training-step speed-ups change no numbers beyond float rounding (benchmarks/train_step.py times them).

* the window of MSSA is *gathered* by integer index instead of sampled with ``nearest``
  ``grid_sample``; LIIF's (unfolded) feature likewise. Reference: the official-style sampling,
  written out here as it was in the package before.
* the positional bias is computed per axis (``SinusoidalPositionalBias.grid``);
* the first decoder layer takes ``[x | extra]`` in two parts (``SplitLinear``);
* the model runs channels-last on the CPU during training (``training.step``).
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import msit_lite.models  # noqa: F401  (registers the modules)
from msit_lite.coords import make_coord
from msit_lite.errors import MsitError
from msit_lite.models.base import nearest_pixel, sample
from msit_lite.models.liif import LIIF
from msit_lite.models.mlp import MLP, SplitLinear
from msit_lite.models.msit import MSIT
from msit_lite.models.mssa import SinusoidalPositionalBias, WindowAttention

ENC = {"name": "edsr-baseline", "args": {"n_resblocks": 1, "n_feats": 8}}


def reference_attend(att: WindowAttention, feats: dict, coord: torch.Tensor) -> torch.Tensor:
    """The attention of the official code, op for op: nearest ``grid_sample`` of the window centres."""
    q_map, v_map = feats["q"], feats["v"]
    k_map = feats.get("k", q_map)
    b, n_q = coord.shape[:2]
    h, w = q_map.shape[-2:]
    u, d, p = att.heads, att.dim // att.heads, att.window
    c = coord.unsqueeze(2)
    lr_grid = make_coord((h, w), flatten=False).permute(2, 0, 1).unsqueeze(0).expand(b, 2, h, w)
    centre = sample(lr_grid, c, "nearest")
    centres = centre.permute(0, 2, 3, 1) + att.window_offsets(h, w, coord.device)
    q = sample(q_map, c, "bilinear").permute(0, 2, 3, 1).reshape(b, n_q, 1, u, d).permute(0, 1, 3, 2, 4)
    k = sample(k_map, centres, "nearest").permute(0, 2, 3, 1).reshape(b, n_q, p, u, d).permute(0, 1, 3, 4, 2)
    v = sample(v_map, centres, "nearest").permute(0, 2, 3, 1)
    rel = (c - centres) * torch.tensor([float(h), float(w)])
    logits = torch.matmul(q, k).reshape(b, n_q, u, p).permute(0, 1, 3, 2) / math.sqrt(d)
    arg = torch.matmul(rel, att.pos_bias.b_vals.t())
    enc = torch.cat([att.pos_bias.a_vals * torch.sin(arg), att.pos_bias.a_vals * torch.cos(arg)], dim=-1)
    attn = F.softmax(logits + att.pos_bias.proj(enc), dim=-2)
    return (v.reshape(b, n_q, p, u, d) * attn.reshape(b, n_q, p, u, 1)).reshape(b, n_q, p * att.dim)


def test_nearest_pixel_is_grid_sample_nearest_including_ties() -> None:
    h, w = 7, 10
    edges_y = torch.tensor([-1 + 2 * i / h for i in range(h)])  # -1 and the inner edges (+1 may round outside)
    edges_x = torch.tensor([-1 + 2 * i / w for i in range(w)])
    coords = torch.cat([
        torch.stack(torch.meshgrid(edges_y, edges_x, indexing="ij"), -1).view(-1, 2),  # exactly on pixel edges
        torch.rand(500, 2) * 2 - 1,
        make_coord((h, w)),
    ]).unsqueeze(0)
    row, col = nearest_pixel(coords, h, w)
    lr_grid = make_coord((h, w), flatten=False).permute(2, 0, 1).unsqueeze(0)
    ref = sample(lr_grid, coords.unsqueeze(2), "nearest")[0, :, :, 0].T  # [q, 2] centre coordinates
    mine = torch.stack([make_coord((h,))[row[0], 0], make_coord((w,))[col[0], 0]], -1)
    assert torch.equal(mine, ref)


def test_nearest_pixel_refuses_queries_outside_the_image() -> None:
    with pytest.raises(MsitError, match=r"inside the image"):
        nearest_pixel(torch.tensor([[[0.0, 1.5]]]), 4, 4)


@pytest.mark.parametrize("attention", ["mssa", "sa"])
def test_gathered_attention_equals_sampled_attention_values_and_gradients(attention: str) -> None:
    torch.manual_seed(0)
    model = MSIT(ENC, dim=16, heads=4, radius=2, conv="plain", msno={"name": "msno", "args": {"branches": 2}},
                 attention={"name": attention}, decoder={"name": "mlp", "args": {"hidden_list": [16]}})
    lr = torch.rand(2, 3, 9, 11)
    coord = (torch.rand(2, 40, 2) * 2 - 1).clamp(-0.999, 0.999)
    feats = model.encode(lr)
    ref_feats = {k: v.detach().clone().requires_grad_() for k, v in feats.items() if k != "inp"}
    new_feats = {k: v.detach().clone().requires_grad_() for k, v in feats.items() if k != "inp"}
    ref = reference_attend(model.attention, ref_feats, coord)
    new = model.attention.attend(new_feats, coord)
    assert (new - ref).abs().max() <= 1e-6 * ref.abs().max()
    g = torch.randn_like(ref)
    ref.backward(g)
    new.backward(g)
    for k in ref_feats:
        a, b = new_feats[k].grad, ref_feats[k].grad
        assert (a - b).norm() <= 1e-5 * b.norm(), k


def test_positional_bias_grid_equals_the_full_window() -> None:
    torch.manual_seed(0)
    pb = SinusoidalPositionalBias(heads=4)
    rel_y, rel_x = torch.randn(3, 5) * 4, torch.randn(3, 6) * 4
    rel = torch.stack(torch.broadcast_tensors(rel_y.unsqueeze(-1), rel_x.unsqueeze(-2)), -1)  # [3, 5, 6, 2]
    _, full = pb(rel)
    grid = pb(rel_y, rel_x)
    assert grid.shape == (3, 5, 6, 4)
    assert torch.allclose(grid, full, atol=1e-5, rtol=1e-5)


def test_split_linear_equals_linear_on_the_concatenation() -> None:
    torch.manual_seed(0)
    mlp = MLP(in_dim=10, out_dim=3, hidden_list=[8], act="gelu")
    assert isinstance(mlp.layers[0], SplitLinear) and isinstance(mlp.layers[0], torch.nn.Linear)
    x, extra = torch.randn(4, 6, 8), torch.randn(4, 6, 2)
    assert torch.allclose(mlp(x, extra), mlp(torch.cat([x, extra], -1)), atol=1e-6)
    assert list(mlp.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    no_hidden = MLP(in_dim=5, out_dim=3, hidden_list=[])
    assert torch.allclose(no_hidden(x[..., :3], extra), no_hidden(torch.cat([x[..., :3], extra], -1)), atol=1e-6)
    with pytest.raises(MsitError, match="do not match"):
        mlp(x, extra[..., :1])


def reference_liif_query(model: LIIF, feats: dict, coord: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """LIIF's query as in the official code: nearest ``grid_sample`` of the unfolded feature per shift."""
    feat = feats["feat"]
    b, n_q = coord.shape[:2]
    h, w = feat.shape[-2:]
    cell = cell.unsqueeze(1).expand(b, n_q, 2)
    lr_grid = make_coord((h, w), flatten=False).permute(2, 0, 1).unsqueeze(0).expand(b, 2, h, w)
    preds, areas = [], []
    for vx in (-1, 1):
        for vy in (-1, 1):
            c = coord.clone()
            c[:, :, 0] += vx / h + 1e-6
            c[:, :, 1] += vy / w + 1e-6
            c.clamp_(-1 + 1e-6, 1 - 1e-6)
            q_feat = sample(feat, c.unsqueeze(1), "nearest")[:, :, 0, :].permute(0, 2, 1)
            q_coord = sample(lr_grid, c.unsqueeze(1), "nearest")[:, :, 0, :].permute(0, 2, 1)
            rel = (coord - q_coord) * torch.tensor([float(h), float(w)])
            inp = torch.cat([q_feat, rel, cell * torch.tensor([float(h), float(w)])], -1)
            preds.append(model.decoder(inp))
            areas.append(torch.abs(rel[..., 0] * rel[..., 1]) + 1e-9)
    total = sum(areas)
    return sum(p * (a / total).unsqueeze(-1) for p, a in zip(preds, areas[::-1]))  # diagonally opposite area


def test_gathered_liif_equals_sampled_liif_values_and_gradients() -> None:
    torch.manual_seed(0)
    model = LIIF(ENC, {"name": "mlp", "args": {"hidden_list": [16, 16], "act": "relu"}})
    lr = torch.rand(2, 3, 8, 9)
    coord, cell = torch.rand(2, 30, 2) * 2 - 1, torch.full((2, 2), 2 / 20)
    feat = model.encode(lr)["feat"].detach()
    f_ref, f_new = feat.clone().requires_grad_(), feat.clone().requires_grad_()
    ref = reference_liif_query(model, {"feat": f_ref}, coord, cell)
    new = model.query({"feat": f_new}, coord, cell)
    assert (new - ref).abs().max() <= 1e-6
    g = torch.randn_like(ref)
    ref.backward(g)
    new.backward(g)
    assert (f_new.grad - f_ref.grad).norm() <= 1e-5 * f_ref.grad.norm()


def test_liif_long_skip_adds_msit_skip_and_the_fast_path_follows() -> None:
    from msit_lite.inference import predict

    torch.manual_seed(0)
    plain = LIIF(ENC, {"name": "mlp", "args": {"hidden_list": [16], "act": "relu"}}).eval()
    skip = LIIF(ENC, {"name": "mlp", "args": {"hidden_list": [16], "act": "relu"}}, long_skip=True).eval()
    skip.load_state_dict(plain.state_dict())
    lr = torch.rand(1, 3, 6, 7)
    coord, cell = make_coord((15, 17)).unsqueeze(0), torch.tensor([[2 / 15, 2 / 17]])
    with torch.no_grad():
        bilinear = F.grid_sample(lr, coord.flip(-1).unsqueeze(2), mode="bilinear", padding_mode="border",
                                 align_corners=False)[:, :, :, 0].permute(0, 2, 1)
        assert torch.allclose(skip(lr, coord, cell), plain(lr, coord, cell) + bilinear, atol=1e-6)
        # the full-grid route (what predict/upscale/eval/validation use) adds the skip too, fast or reference
        full = skip(lr, coord, cell).view(1, 15, 17, 3).permute(0, 3, 1, 2)
        for fast in (True, False):
            assert torch.allclose(predict(skip, lr, (15, 17), fast=fast), full, atol=1e-5), fast


def test_channels_last_training_step_matches_the_plain_step() -> None:
    from msit_lite.training.config import parse_train_config
    from msit_lite.training.step import ChannelsLast, largest_kernel, prepare_for_training

    torch.manual_seed(0)
    spec = dict(encoder=ENC, dim=16, heads=4, radius=2, conv="rim", msno={"name": "msno", "args": {"branches": 2}},
                decoder={"name": "mlp", "args": {"hidden_list": [16]}})
    plain, other = MSIT(**spec), MSIT(**spec)
    other.load_state_dict(plain.state_dict())
    net = prepare_for_training(other, parse_train_config({}), torch.device("cpu"))
    assert isinstance(net, ChannelsLast)
    assert prepare_for_training(other, parse_train_config({"channels_last": False}), torch.device("cpu")) is other
    big = MSIT(**{**spec, "msno": {"name": "msno", "args": {"branches": 8}}})  # a 17x17 branch: NHWC would be slow
    assert largest_kernel(big) == 17
    assert prepare_for_training(big, parse_train_config({}), torch.device("cpu")) is big
    lr, coord, cell = torch.rand(2, 3, 10, 10), torch.rand(2, 20, 2) * 2 - 1, torch.full((2, 2), 0.1)
    plain(lr, coord, cell).abs().mean().backward()
    net(lr, coord, cell).abs().mean().backward()
    for (name, a), b in zip(plain.named_parameters(), other.parameters()):
        if a.grad is None:
            continue
        assert (a.grad - b.grad).norm() <= 1e-5 * max(a.grad.norm(), 1e-3), name

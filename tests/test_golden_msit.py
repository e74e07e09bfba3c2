"""MSIT against the official code's golden tensors (golden README §2, §5).

The official weights are loaded THROUGH the converter (:mod:`msit_lite.official`). Forward
tensors: max abs error <= 1e-5 (bit-exact except where this CPU's BLAS sums a dot product in a
different order, ~1e-6). Gradients: max|g - g_ref| <= 1e-5 max|g_ref|, except the eleven that
are zero in exact arithmetic (absolute 1e-7). BatchNorm running stats after the train step.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from msit_lite.config import build_model, load_config
from msit_lite.models import Trace
from msit_lite.models.rim import rim_modules
from msit_lite.official import _rename, load_official
from msit_lite.paths import repo_dir

ATOL = 1e-5
CASES = {"msit_small_rim": "msit-small-rim.yaml", "msit_small_plain": "msit-small-plain.yaml"}
ZERO_GRADS = {
    *(f"amsno.Ms_conv_{i}.bias" for i in range(1, 5)),
    "amsno.sim0.bias",
    *(f"multi_conv_qs.0.local_conv_{i}.bias" for i in range(1, 5)),
    "multi_conv_qs.0.proj1.bias",
    "pb_encoder.proj.bias",
}


def build(case: str, golden: Path) -> torch.nn.Module:
    model = build_model(load_config(repo_dir() / "configs" / "golden" / CASES[case]))
    return load_official(golden / f"{case}.weights.safetensors", model)


def err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a.double() - b.double()).abs().max().item()


@pytest.fixture(params=list(CASES))
def case(request, golden):
    torch.set_num_threads(1)
    io = load_file(str(golden / f"{request.param}.io.safetensors"))
    return request.param, build(request.param, golden).eval(), io


def test_features_and_full_prediction(case):
    name, model, io = case
    t = Trace()
    with torch.no_grad():
        feats = model.encode(io["inp"], t)
        pred = model.query(feats, io["coord_hr"].reshape(1, -1, 2), io["cell"])
    pairs = {
        "encoder": "feat_encoder", "channel_proj": "feat_conv_ch", "msno": "feat_msno",
        "attention.q": "feat_q", "attention.v": "feat_v",
        "msno.v": "msno.v", "msno.s": "msno.s", "msno.fem": "msno.lem", "msno.modulated": "msno.modulated",
        "msno.merge.expand": "msno.sim0", "msno.merge.bn": "msno.bn", "msno.merge.reduce": "msno.sim1",
        "attention.q_proj.proj_in": "mssa_q.proj0", "attention.q_proj.expand": "mssa_q.proj1",
        "attention.q_proj.bn": "mssa_q.bn",
    }
    pairs.update({f"msno.msc.{i}": f"msno.ms_conv_{i + 1}" for i in range(4)})
    pairs.update({f"attention.q_proj.convs.{i}": f"mssa_q.local_conv_{i + 1}" for i in range(4)})
    for ours, ref in pairs.items():
        assert err(t[ours], io[ref]) <= ATOL, ours
    assert err(pred, io["pred_full"]) <= ATOL
    sr = (pred * 0.5 + 0.5).clamp(0, 1).view(1, 52, 62, 3).permute(0, 3, 1, 2)
    assert err(sr, io["sr_image"]) <= ATOL
    # Chunked queries give the same prediction (the interface tiled inference relies on).
    coord = io["coord_hr"].reshape(1, -1, 2)
    with torch.no_grad():
        chunks = torch.cat([model.query(feats, coord[:, i : i + 777], io["cell"]) for i in range(0, coord.shape[1], 777)], 1)
    assert err(chunks, io["pred_full"]) <= ATOL


def test_rim_effective_kernels(case):
    name, model, io = case
    rims = rim_modules(model)
    if name.endswith("plain"):
        assert not rims
        return
    ours = {
        **{f"amsno.Ms_conv_{i + 1}": f"msno.msc.convs.{i}" for i in range(4)},
        **{f"multi_conv_qs.0.local_conv_{i + 1}": f"attention.q_proj.convs.{i}" for i in range(4)},
        "conv_vs.0": "attention.v_proj",
    }
    with torch.no_grad():
        for official, mine in ours.items():
            assert err(rims[mine].effective_weight(), io[f"rim_kernel.{official}"]) <= 1e-6, official


def test_subset_intermediates(case):
    name, model, io = case
    t = Trace()
    with torch.no_grad():
        pred = model(io["inp"], io["sample_coord"], io["cell"], trace=t)
    assert err(pred, io["pred_subset"]) <= ATOL
    # Coordinates are bit-exact (README tolerance section: check these first).
    for key in ("gs_coord_k", "rel_coord", "pos_enc", "gs_q", "gs_k", "gs_v", "gs_skip"):
        assert torch.equal(t[key], io[f"subset.{key}"]), key
    for key in ("pos_bias", "attn_softmax", "imnet_in", "imnet_out"):
        assert err(t[key], io[f"subset.{key}"]) <= ATOL, key
    # The official visualisation layout: window as 7x7 (row = vertical offset).
    assert err(t["attn_softmax"][0].reshape(37, 7, 7, 8), io["subset.attn"]) <= ATOL
    assert err(pred[0], io["pred_full"][0, io["sample_idx"]]) <= ATOL


def test_scale4_and_batch2(case):
    name, model, io = case
    t = Trace()
    with torch.no_grad():
        feats = model.encode(io["x4.inp"], t)
        pred = model.query(feats, io["x4.coord_hr"].reshape(1, -1, 2), io["x4.cell"])
        b2 = model(io["b2.inp"], io["b2.sample_coord"], io["b2.cell"])
    assert err(pred, io["x4.pred_full"]) <= ATOL
    for ours, ref in (("msno", "x4.feat_msno"), ("attention.q", "x4.feat_q"), ("attention.v", "x4.feat_v")):
        assert err(t[ours], io[ref]) <= ATOL
    assert err(b2, io["b2.pred_subset"]) <= ATOL


def test_train_step_gradients_and_bn_stats(case, golden):
    name, model, io = case
    grads_ref = load_file(str(golden / f"{name}.grads.safetensors"))
    model.train()
    t = Trace()
    pred = model(io["inp"], io["sample_coord"], io["cell"], trace=t)
    loss = F.l1_loss(pred, io["target_subset"])
    loss.backward()
    assert err(pred, io["train.pred_subset"]) <= ATOL
    assert err(t["msno"], io["train.feat_msno"]) <= ATOL
    assert err(t["attention.q"], io["train.feat_q"]) <= ATOL
    assert err(loss, io["train.loss_l1"]) <= ATOL

    params = dict(model.named_parameters())
    seen = set()
    for key, ref in grads_ref.items():
        if key.startswith("grad."):
            official = key[len("grad."):]
            ours = _rename(official)
            g = params[ours].grad
            assert g is not None, official
            tol = 1e-7 if official in ZERO_GRADS else 1e-5 * ref.abs().max().item()
            assert err(g, ref) <= tol, (official, err(g, ref), tol)
            seen.add(ours)
        else:  # after_train_step.<module>.<buffer>
            official = key[len("after_train_step."):]
            buf = model.state_dict()[_rename(official)]
            if official.endswith("num_batches_tracked"):
                assert int(buf) == int(ref) == 124
            else:
                assert err(buf, ref) <= 1e-6, official
    # Every trainable parameter got its gradient compared; nothing else has one.
    trainable = {k for k, p in params.items() if p.requires_grad}
    assert seen == trainable

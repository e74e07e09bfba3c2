"""The ASSR training sampler: shapes, ranges, determinism, and that gt really is the HR pixels."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from msit_lite.coords import to_grid
from msit_lite.data.folders import ImageFolder
from msit_lite.data.resize import resize_torch
from msit_lite.data.sampler import (
    ASSRPatches,
    SampleKey,
    ScaleBatchSampler,
    augment,
    full_image_item,
    make_loader,
)
from msit_lite.errors import MsitError


class Images(Dataset):
    """Images whose R channel is the row index and G the column index (B random)."""

    def __init__(self, n: int = 4, h: int = 200, w: int = 210) -> None:
        rng = np.random.default_rng(0)
        self.items = []
        for _ in range(n):
            yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
            b = rng.integers(0, 256, (h, w))
            self.items.append(np.stack([yy, xx, b], axis=2).astype(np.uint8))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.items[i]


@pytest.fixture(scope="module")
def images() -> Images:
    return Images()


def full_crop(patches: ASSRPatches, key: SampleKey) -> torch.Tensor:
    """The augmented HR crop behind ``key``: the same item with every pixel as a query."""
    full = ASSRPatches(patches.images, sample_q=None, seed=patches.seed,
                       scale_min=patches.scale_min, scale_max=patches.scale_max)
    item = full[key]
    w = round(48 * key.scale)
    return item["gt"].view(w, w, 3).permute(2, 0, 1)


def test_item_shapes_and_ranges(images):
    item = ASSRPatches(images, seed=1)[SampleKey(0, 2.5, 0)]
    assert item["inp"].shape == (3, 48, 48) and item["inp"].dtype == torch.float32
    assert item["coord"].shape == (48 * 48, 2) and item["gt"].shape == (48 * 48, 3)
    assert item["scale"] == 120 / 48
    assert torch.allclose(item["cell"], torch.tensor([2 / 120, 2 / 120]))
    for k in ("inp", "gt"):
        assert 0 <= float(item[k].min()) and float(item[k].max()) <= 1
    assert float(item["coord"].abs().max()) < 1
    # sampled without replacement
    assert torch.unique(item["coord"], dim=0).shape[0] == 48 * 48


def test_gt_is_hr_pixels_at_coords(images):
    patches = ASSRPatches(images, seed=3)
    key = SampleKey(1, 3.3, 0)
    item = patches[key]
    hr = full_crop(patches, key)
    sampled = F.grid_sample(
        hr[None], to_grid(item["coord"])[None, None], mode="nearest", align_corners=False
    )[0, :, 0].T
    torch.testing.assert_close(sampled, item["gt"], rtol=0, atol=0)


def test_crop_is_a_real_block_of_the_image_and_lr_matches(images):
    patches = ASSRPatches(images, seed=5)
    found_flips = set()
    for i in range(6):
        key = SampleKey(i % 4, 1.1 + 0.3 * i, epoch=i)
        hr = full_crop(patches, key)
        w = hr.shape[-1]
        # undo the augmentation: exactly one of the 8 symmetries puts rows (R) and columns (G) in order
        matches = []
        for flips in [(h, v, t) for h in (0, 1) for v in (0, 1) for t in (0, 1)]:
            # augment = hflip, vflip, transpose; inverse = transpose, vflip, hflip
            x = hr.transpose(-2, -1) if flips[2] else hr
            x = x.flip(-2) if flips[1] else x
            x = x.flip(-1) if flips[0] else x
            rows, cols = (x[0] * 255).round(), (x[1] * 255).round()
            down = torch.equal(rows[1:] - rows[:-1], torch.ones(w - 1, w))
            right = torch.equal(cols[:, 1:] - cols[:, :-1], torch.ones(w, w - 1))
            if down and right:
                matches.append((flips, x))
        assert len(matches) == 1
        flips, x = matches[0]
        found_flips.add(flips)
        y0, x0 = int(round(float(x[0, 0, 0]) * 255)), int(round(float(x[1, 0, 0]) * 255))
        orig = torch.from_numpy(images[key.index]).permute(2, 0, 1).float() / 255
        torch.testing.assert_close(x, orig[:, y0 : y0 + w, x0 : x0 + w], rtol=0, atol=0)
        # the LR is the bicubic downsampling of the same (augmented) HR crop
        lr = patches[key]["inp"]
        torch.testing.assert_close(lr, resize_torch(hr, (48, 48)).clamp(0, 1), rtol=0, atol=1e-5)
    assert len(found_flips) > 2  # augmentation actually varies


def test_augment_is_consistent():
    x = torch.arange(2 * 3 * 4.0).view(2, 3, 4)
    y = augment(x, True, True, True)
    assert y.shape == (2, 4, 3)
    assert torch.equal(y, x.flip(-1).flip(-2).transpose(-2, -1))
    assert torch.equal(augment(x, False, False, False), x)


def batches(patches, n_batches=3, epoch=0, num_workers=0):
    loader = make_loader(patches, batch_size=2, num_workers=num_workers)
    loader.batch_sampler.set_epoch(epoch)
    out = []
    for b in loader:
        out.append(b)
        if len(out) == n_batches:
            break
    return out


def test_same_seed_same_batches_any_workers(images):
    a = batches(ASSRPatches(images, seed=7))
    b = batches(ASSRPatches(images, seed=7), num_workers=2)
    assert len(a) == len(b) == 2  # 4 images, batch 2, drop_last
    for x, y in zip(a, b):
        for k in x:
            assert torch.equal(x[k], y[k])


def test_different_seed_or_epoch_differs(images):
    a = batches(ASSRPatches(images, seed=7))
    b = batches(ASSRPatches(images, seed=8))
    c = batches(ASSRPatches(images, seed=7), epoch=1)
    assert not torch.equal(a[0]["gt"], b[0]["gt"])
    assert not torch.equal(a[0]["gt"], c[0]["gt"])


def test_scale_shared_per_batch_and_in_range(images):
    patches = ASSRPatches(images, scale_min=2.0, scale_max=3.0, seed=0)
    sampler = ScaleBatchSampler(patches, 2)
    seen = []
    for epoch in range(10):
        sampler.set_epoch(epoch)
        for keys in sampler:
            assert len({k.scale for k in keys}) == 1
            assert 2.0 <= keys[0].scale <= 3.0
            seen.append(keys[0].scale)
            assert sorted(k.index for k in keys) != []
    assert len(set(seen)) == len(seen) == 20
    assert min(seen) < 2.3 and max(seen) > 2.7  # spread over the range
    b = batches(patches)[0]
    assert torch.all(b["scale"] == b["scale"][0])
    assert 2.0 <= float(b["scale"][0]) <= 3.0
    assert b["inp"].shape == (2, 3, 48, 48)


def test_sampler_covers_every_image_once_per_epoch(images):
    sampler = ScaleBatchSampler(ASSRPatches(images), 3, drop_last=False)
    idx = [k.index for keys in sampler for k in keys]
    assert sorted(idx) == [0, 1, 2, 3]
    ranks = [ScaleBatchSampler(ASSRPatches(images), 1, rank=r, world_size=2) for r in (0, 1)]
    assert sorted(k.index for s in ranks for keys in s for k in keys) == [0, 1, 2, 3]


def test_small_image_error_names_file(tmp_path):
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(tmp_path / "small.png")
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(tmp_path / "big.png")
    folder = ImageFolder(tmp_path)
    patches = ASSRPatches(folder)
    small = [i for i in range(2) if folder.path(i).name == "small.png"][0]
    with pytest.raises(MsitError) as e:
        patches[SampleKey(small, 2.0, 0)]
    assert str(tmp_path / "small.png") in str(e.value) and "96x96" in str(e.value)
    item = ASSRPatches(folder, on_small="other")[SampleKey(small, 2.0, 0)]
    assert item["inp"].shape == (3, 48, 48)


def test_bad_arguments(images):
    with pytest.raises(MsitError):
        ASSRPatches(images, scale_min=0.5)
    with pytest.raises(MsitError):
        ASSRPatches(images, scale_min=3, scale_max=2)
    with pytest.raises(MsitError):
        ASSRPatches(images, sample_q=48 * 48 + 1)


def test_full_image_item(images):
    hr = torch.from_numpy(images[0]).permute(2, 0, 1).float() / 255  # 200 x 210
    item = full_image_item(hr, 3.0)
    assert item["inp"].shape == (3, 66, 70)  # floor(200/3), floor(210/3)
    assert item["hr"].shape == (3, 198, 210)
    assert item["coord"].shape == (198 * 210, 2) and item["gt"].shape == (198 * 210, 3)
    torch.testing.assert_close(item["gt"][5], hr[:, 0, 5])
    assert torch.allclose(item["cell"], torch.tensor([2 / 198, 2 / 210]))
    odd = full_image_item(hr, 2.7)  # floor(200/2.7) = 74 -> HR round(74*2.7) = 200
    assert odd["inp"].shape[-2:] == (74, 77) and odd["hr"].shape[-2:] == (200, 208)
    stored = full_image_item(hr, 4, lr=torch.zeros(3, 50, 52))
    assert stored["hr"].shape[-2:] == (200, 208) and stored["inp"].shape[-2:] == (50, 52)
    with pytest.raises(MsitError):
        full_image_item(hr, 2, lr=torch.zeros(3, 101, 10))


def test_real_training_images(train_root):
    folder = ImageFolder(train_root / "BSD200")
    patches = ASSRPatches(folder, seed=0)
    b = next(iter(make_loader(patches, batch_size=2)))
    assert b["inp"].shape == (2, 3, 48, 48) and b["gt"].shape == (2, 48 * 48, 3)

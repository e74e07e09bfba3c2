"""Image I/O: conversions are checked on pixel values, bad files give one-line errors naming them."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from msit_lite.data.io import is_single_channel, read_image, save_image, to_tensor, to_uint8
from msit_lite.errors import MsitError


def write_png16(path: Path, arr: np.ndarray) -> None:
    """A minimal 16-bit PNG writer (Pillow cannot write 16-bit colour), filter type 0."""
    a = np.asarray(arr).astype(">u2")
    h, w = a.shape[:2]
    c = 1 if a.ndim == 2 else a.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + a[i].tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)


def assert_one_line_naming(e: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(e.value)
    assert "\n" not in msg
    assert str(path) in msg


def test_rgb_png_roundtrip(tmp_path, rgb):
    p = save_image(tmp_path / "a.png", rgb)
    out = read_image(p)
    assert out.dtype == np.uint8 and out.shape == (7, 5, 3)
    np.testing.assert_array_equal(out, rgb)
    assert not is_single_channel(p)


def test_gray_replicated_or_kept(tmp_path):
    g = np.arange(35, dtype=np.uint8).reshape(7, 5) * 7
    p = tmp_path / "g.png"
    Image.fromarray(g).save(p)
    assert is_single_channel(p)
    rgb = read_image(p)
    assert rgb.shape == (7, 5, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], g)
    kept = read_image(p, keep_gray=True)
    assert kept.shape == (7, 5, 1)
    np.testing.assert_array_equal(kept[..., 0], g)


def test_rgba_alpha_dropped_not_composited(tmp_path, rgb):
    alpha = np.zeros((7, 5, 1), dtype=np.uint8)  # fully transparent: compositing would change RGB
    p = tmp_path / "a.png"
    Image.fromarray(np.concatenate([rgb, alpha], axis=2)).save(p)
    np.testing.assert_array_equal(read_image(p), rgb)
    assert not is_single_channel(p)


def test_la_gray_alpha(tmp_path):
    g = np.array([[10, 200], [30, 40]], dtype=np.uint8)
    p = tmp_path / "la.png"
    Image.fromarray(np.stack([g, np.full_like(g, 7)], axis=2), mode=None).save(p)
    assert Image.open(p).mode == "LA"
    assert is_single_channel(p)
    np.testing.assert_array_equal(read_image(p)[..., 1], g)
    np.testing.assert_array_equal(read_image(p, keep_gray=True)[..., 0], g)


def test_palette_expanded(tmp_path, rgb):
    p = tmp_path / "p.png"
    pal = Image.fromarray(rgb).quantize(colors=16)
    pal.save(p)
    expected = np.asarray(pal.convert("RGB"))
    out = read_image(p)
    assert out.shape == (7, 5, 3)
    np.testing.assert_array_equal(out, expected)


V16 = np.array([[0, 128, 129, 257 * 200], [1000, 40000, 65535, 65534]], dtype=np.uint16)


def test_16bit_gray_rounds(tmp_path):
    p = tmp_path / "g16.png"
    write_png16(p, V16)
    assert is_single_channel(p)
    out = read_image(p, keep_gray=True)[..., 0]
    np.testing.assert_array_equal(out, np.round(V16 / 257.0).astype(np.uint8))
    assert out[0, 3] == 200 and out[1, 0] == 4  # 257*200 -> 200 exactly; 1000/257 = 3.89 -> 4


def test_16bit_rgb_uses_both_bytes(tmp_path):
    arr = np.stack([V16, V16[::-1], V16[:, ::-1]], axis=2)
    p = tmp_path / "rgb16.png"
    write_png16(p, arr)
    out = read_image(p)
    np.testing.assert_array_equal(out, np.round(arr / 257.0).astype(np.uint8))
    # Pillow's own conversion keeps the high byte: 1000 -> 3, which we must not return.
    assert np.asarray(Image.open(p).convert("RGB"))[1, 0, 0] == 3 and out[1, 0, 0] == 4


def test_16bit_rgba_and_la(tmp_path):
    alpha = np.full_like(V16, 9)
    p = tmp_path / "rgba16.png"
    write_png16(p, np.stack([V16, V16, V16, alpha], axis=2))
    np.testing.assert_array_equal(read_image(p)[..., 0], np.round(V16 / 257.0))
    q = tmp_path / "la16.png"
    write_png16(q, np.stack([V16, alpha], axis=2))
    assert is_single_channel(q)
    np.testing.assert_array_equal(read_image(q, keep_gray=True)[..., 0], np.round(V16 / 257.0))


def test_non_image_file(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("hello, I am not a PNG")
    with pytest.raises(MsitError) as e:
        read_image(p)
    assert_one_line_naming(e, p)
    with pytest.raises(MsitError):
        is_single_channel(p)


def test_truncated_png(tmp_path, rgb):
    big = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    p = tmp_path / "t.png"
    save_image(p, big)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(MsitError) as e:
        read_image(p)
    assert_one_line_naming(e, p)


def test_missing_and_directory(tmp_path):
    with pytest.raises(MsitError) as e:
        read_image(tmp_path / "nope.png")
    assert_one_line_naming(e, tmp_path / "nope.png")
    with pytest.raises(MsitError) as e:
        read_image(tmp_path)
    assert_one_line_naming(e, tmp_path)


def test_to_tensor_to_uint8(rgb):
    t = to_tensor(rgb)
    assert t.shape == (3, 7, 5) and t.dtype == torch.float32
    assert float(t.min()) >= 0 and float(t.max()) <= 1
    np.testing.assert_array_equal(to_uint8(t), rgb)
    x = torch.tensor([[[-0.2, 0.5 / 255, 1.5 / 255, 1.3]]])  # clamp + round half to even
    assert to_uint8(x)[0, :, 0].tolist() == [0, 0, 2, 255]


def test_save_float_tensor_layouts(tmp_path, rgb):
    t = to_tensor(rgb)
    save_image(tmp_path / "chw.png", t)
    save_image(tmp_path / "hwc.bmp", t.permute(1, 2, 0))
    np.testing.assert_array_equal(read_image(tmp_path / "chw.png"), rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "hwc.bmp"), rgb)
    save_image(tmp_path / "g.png", rgb[..., :1])
    assert is_single_channel(tmp_path / "g.png")


def test_save_unknown_suffix_and_no_partial_file(tmp_path, rgb):
    with pytest.raises(MsitError, match="unknown image suffix"):
        save_image(tmp_path / "a.xyz", rgb)
    assert list(tmp_path.iterdir()) == []


def test_shared_set14_gray(benchmark_root):
    p = benchmark_root / "Set14" / "X2" / "HR" / "img_003.png"
    assert is_single_channel(p)
    img = read_image(p)
    assert img.shape == (512, 512, 3)
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    assert not is_single_channel(benchmark_root / "Set14" / "X2" / "HR" / "img_010.png")

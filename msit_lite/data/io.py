"""Image I/O: every image enters and leaves the library through this module.

Why a module of its own? Super-resolution numbers are sensitive to how pixels are read. A
benchmark PSNR changes if a grayscale file is read as one channel instead of three, if a 16-bit
PNG is truncated instead of rounded, or if a truncated download is silently padded with grey.
So every conversion is made here, once, and documented:

* **Result type.** ``read_image`` returns ``uint8`` ``H x W x 3`` (RGB). With ``keep_gray=True``
  a single-channel file gives ``H x W x 1`` instead.
* **Grayscale** (modes ``1``, ``L``, ``LA``, ``I;16``, ``I``) is replicated to R = G = B. The
  benchmark protocol scores the Y channel of an RGB prediction, and Y of (v, v, v) is exactly the
  gray value up to the fixed offset, so replication loses nothing. Set14 ``img_003`` (bridge) is
  such a file.
* **Alpha** (``RGBA``, ``LA``, ``PA``) is dropped, not composited. SR benchmarks and the
  training data score colour only; compositing onto black or white would invent pixel values
  that are not in the file.
* **Palette** images (``P``) are expanded to their RGB colours.
* **16-bit** PNGs (gray or colour) are mapped to 8 bits by ``round(v / 257)``, which sends the
  16-bit code of every 8-bit value ``k`` (``257 * k``) back to ``k`` and is the nearest 8-bit
  level otherwise. Pillow itself keeps only the high byte of 16-bit *colour* PNGs
  (``floor(v / 256)``); we decode the low bytes too (see :func:`_decode_16bit_colour`).
* **Corrupt input** (not an image, truncated, missing, a directory) raises
  :class:`~msit_lite.errors.MsitError` with one line naming the file. Decoding is forced with
  ``Image.load()``, so a truncated file fails here and not later inside a data loader.

``to_tensor`` / ``to_uint8`` convert between ``uint8`` ``H x W x C`` arrays and float tensors
``[C, H, W]`` in [0, 1]; ``save_image`` writes either kind atomically.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from msit_lite.errors import MsitError
from msit_lite.utils import atomic_path

PathLike = Union[str, os.PathLike]

#: File suffixes the library treats as images (lower case), and the Pillow format for each.
IMAGE_FORMATS: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
IMAGE_SUFFIXES: tuple[str, ...] = tuple(IMAGE_FORMATS)

# Pillow modes that hold one colour channel (alpha aside).
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N"}
# Errors Pillow raises for a file it cannot decode.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    Image.DecompressionBombError,
)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MsitError(f"image file not found: {path}")
    if path.is_dir():
        raise MsitError(f"expected an image file but {path} is a directory")


def _open(path: Path) -> Image.Image:
    """Open (header only); MsitError when Pillow does not recognise the file."""
    _check_file(path)
    try:
        return Image.open(path)
    except _DECODE_ERRORS as e:
        raise MsitError(f"cannot read image {path}: not a readable image ({_one_line(e)})") from None


def _raw_mode(img: Image.Image) -> str:
    """The decoder's raw mode (e.g. ``RGB;16B`` for a 16-bit colour PNG), '' if unknown."""
    try:
        args = img.tile[0].args if img.tile else None
    except (AttributeError, IndexError):
        return ""
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _decode_16bit_colour(path: Path, raw: str) -> np.ndarray:
    """A 16-bit colour/LA PNG as ``uint16`` ``H x W x C``, from two decodes of the same data.

    Pillow has no 16-bit-per-channel colour mode: it unpacks ``RGB;16B`` by keeping the high
    byte. Decoding the same stream again with the little-endian raw mode ``RGB;16L`` makes the
    unpacker keep the *other* byte of each big-endian sample, i.e. the low byte; ``hi * 256 +
    lo`` is the stored value. (The PNG row filters depend only on bytes per pixel, which the two
    raw modes share, so both decodes see the same bytes.) 16-bit gray+alpha (``LA;16B``) is
    decoded with the 8-bit ``RGBA`` raw mode, which has the same 4 bytes per pixel, giving the
    bytes ``(L_hi, L_lo, A_hi, A_lo)`` directly.
    """

    def decode(rawmode: str) -> np.ndarray:
        with Image.open(path) as img:
            img.tile = [img.tile[0]._replace(args=rawmode)]
            img.load()
            return np.asarray(img, dtype=np.uint16)

    if raw.startswith("LA;16"):  # Pillow opens these as mode RGBA: 4 bytes per pixel
        b = decode("RGBA")
        return (b[..., 0] * 256 + b[..., 1])[..., None]
    hi = decode(raw)
    lo = decode(raw.replace(";16B", ";16L"))
    return hi * 256 + lo


def _to_8bit(v: np.ndarray) -> np.ndarray:
    """16-bit values -> uint8 by ``round(v / 257)`` (half to even; exact for ``v = 257 k``)."""
    return np.clip(np.round(v.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)


def _decode(path: Path) -> tuple[np.ndarray, bool]:
    """Decode ``path`` fully; returns (uint8 H x W x C with C in {1, 3}, was single-channel)."""
    img = _open(path)
    mode, raw = img.mode, _raw_mode(img)
    try:
        with img:
            img.load()  # force the full decode: truncated files fail here
            if raw.endswith(";16B") and raw.split(";")[0] in ("RGB", "RGBA", "LA"):
                try:
                    v16 = _decode_16bit_colour(path, raw)
                except _DECODE_ERRORS + (KeyError, AttributeError) as e:  # pragma: no cover
                    warnings.warn(
                        f"{path}: exact 16-bit decode failed ({_one_line(e)}); using Pillow's "
                        "high byte (at most 1 level off round(v/257))",
                        stacklevel=3,
                    )
                    v16 = np.asarray(img.convert("RGB"), dtype=np.uint16) * 257
                gray = raw.startswith("LA")
                arr = _to_8bit(v16[..., :1] if gray else v16[..., :3])
                return arr, gray
            if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
                v = np.asarray(img)
                if v.size and (v.min() < 0 or v.max() > 65535):
                    raise MsitError(
                        f"cannot read image {path}: {mode} pixels outside 0..65535 "
                        "(only 8- and 16-bit images are supported)"
                    )
                return _to_8bit(v)[..., None], True
            if mode == "F":
                raise MsitError(
                    f"cannot read image {path}: 32-bit float pixels are not supported; "
                    "save it as an 8- or 16-bit PNG"
                )
            if mode in _GRAY_MODES:  # 1, L, LA: alpha dropped
                return np.asarray(img.convert("L"), dtype=np.uint8)[..., None], True
            # RGB, RGBA (alpha dropped), P/PA (palette expanded), CMYK, YCbCr, ...
            return np.asarray(img.convert("RGB"), dtype=np.uint8), False
    except MsitError:
        raise
    except _DECODE_ERRORS as e:
        raise MsitError(
            f"cannot read image {path}: corrupt or truncated ({_one_line(e)})"
        ) from None


def read_image(path: PathLike, *, keep_gray: bool = False) -> np.ndarray:
    """Read an image file as ``uint8`` ``H x W x 3`` RGB (see the module docstring for the rules).

    ``keep_gray=True`` returns ``H x W x 1`` for a single-channel file (gray, or gray + alpha).
    Raises :class:`MsitError` naming the file if it is missing, a directory, not an image,
    corrupt or truncated.
    """
    arr, gray = _decode(Path(path))
    if gray and not keep_gray:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def is_single_channel(path: PathLike) -> bool:
    """True if the file stores one colour channel (gray, 16-bit gray, gray + alpha).

    Reads the header only. An RGB file whose channels happen to be equal is *not* single-channel
    (Set14 ``img_010`` is such a file).
    """
    path = Path(path)
    img = _open(path)
    with img:
        return img.mode in _GRAY_MODES or _raw_mode(img).startswith("LA;16")


def image_size(path: PathLike) -> tuple[int, int]:
    """``(height, width)`` from the header, without decoding the pixels.

    For checking a size limit *before* decoding (a 12000x12000 PNG decodes to 432 MB); Pillow's
    decompression-bomb warning is silenced here because the caller applies its own limit.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = _open(path)
    with img:
        w, h = img.size
    return h, w


def to_tensor(arr: np.ndarray) -> Tensor:
    """``uint8`` ``H x W x C`` (or ``H x W``) -> float32 ``[C, H, W]`` in [0, 1] (``v / 255``)."""
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        raise MsitError(f"to_tensor expects a uint8 array, got {a.dtype}")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise MsitError(f"to_tensor expects an H x W x C array, got shape {tuple(a.shape)}")
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div_(255.0)


def to_rgb_tensor(image: np.ndarray | Tensor) -> Tensor:
    """An RGB image as float32 ``[3, h, w]`` in [0, 1], from what users hold.

    An ``h × w × 3`` uint8 array (:func:`to_tensor`: ``v / 255``) or a float tensor ``[3, h, w]``
    (``[1, 3, h, w]`` accepted) already in [0, 1] (detached). Anything else -- gray, RGBA, 16-bit,
    a batch -- is a one-line :class:`MsitError`; :func:`read_image` converts such files.
    """
    if isinstance(image, Tensor):
        x = image[0] if image.dim() == 4 and image.shape[0] == 1 else image
        if x.dim() != 3 or x.shape[0] != 3 or not x.is_floating_point():
            raise MsitError(f"expected a float image tensor [3, h, w] in [0, 1], got {image.dtype} {tuple(image.shape)}")
        return x.detach().float()
    if not isinstance(image, np.ndarray):
        raise MsitError(f"expected an RGB image (h×w×3 uint8 array), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MsitError(f"expected an RGB image (h×w×3 uint8 array), got {image.dtype} array of shape {image.shape}; "
                        "convert grey/RGBA/16-bit images with msit_lite.data.io.read_image")
    return to_tensor(image)


def quantize(x: Tensor) -> Tensor:
    """Values in [0, 1] (clamped) -> uint8 levels ``round(x · 255)``, halves to even (0.5/255 -> 0):
    the rounding every saved prediction goes through."""
    return torch.round(x.float().clamp(0, 1) * 255).to(torch.uint8)


def to_uint8(t: Tensor) -> np.ndarray:
    """Float ``[C, H, W]`` (or ``[1, C, H, W]``) in [0, 1] -> ``uint8`` ``H x W x C`` (:func:`quantize`)."""
    if not isinstance(t, Tensor):
        raise MsitError(f"to_uint8 expects a torch tensor, got {type(t).__name__}")
    x = t.detach()
    if x.dim() == 4 and x.shape[0] == 1:
        x = x[0]
    if x.dim() != 3:
        raise MsitError(f"to_uint8 expects a [C, H, W] tensor, got shape {tuple(t.shape)}")
    return quantize(x).permute(1, 2, 0).cpu().numpy()


def _as_hwc_uint8(img: np.ndarray | Tensor) -> np.ndarray:
    """Normalise what :func:`save_image` accepts to ``uint8`` ``H x W x {1, 3}``."""
    if isinstance(img, Tensor):
        x = img.detach().cpu()
        if x.dim() == 4 and x.shape[0] == 1:
            x = x[0]
        if x.dim() == 2:
            x = x.unsqueeze(0)
        if x.dim() == 3 and x.shape[0] not in (1, 3) and x.shape[-1] in (1, 3):
            x = x.permute(2, 0, 1)  # [H, W, C] -> [C, H, W]
        if x.dim() != 3 or x.shape[0] not in (1, 3):
            raise MsitError(
                f"save_image expects a [3, H, W] or [H, W, 3] tensor, got shape {tuple(img.shape)}"
            )
        if x.dtype == torch.uint8:
            return x.permute(1, 2, 0).numpy()
        return to_uint8(x)
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise MsitError(f"save_image expects an H x W x 3 (or x 1) array, got shape {a.shape}")
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        return np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise MsitError(f"save_image expects uint8 or float in [0, 1], got {a.dtype}")


def save_image(path: PathLike, img: np.ndarray | Tensor) -> Path:
    """Write ``img`` to ``path`` atomically; the format comes from the suffix.

    Accepts ``uint8`` arrays ``H x W x {1, 3}`` (or ``H x W``) and float tensors ``[3, H, W]`` /
    ``[H, W, 3]`` (or float arrays) in [0, 1], which are clamped and rounded as in
    :func:`to_uint8`. JPEG is written at quality 95 and WebP losslessly. Returns the path.
    """
    path = Path(path)
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MsitError(
            f"cannot save {path}: unknown image suffix {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    a = _as_hwc_uint8(img)
    pil = Image.fromarray(np.ascontiguousarray(a[..., 0] if a.shape[2] == 1 else a))
    options: dict[str, object] = {}
    if fmt == "JPEG":
        options["quality"] = 95
    elif fmt == "WEBP":
        options["lossless"] = True
    try:
        with atomic_path(path) as tmp:
            pil.save(tmp, format=fmt, **options)
    except OSError as e:
        raise MsitError(f"cannot write image {path}: {_one_line(e)}") from None
    return path

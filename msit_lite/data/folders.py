"""Where the images are: benchmark pairs, training folders and a plain image dataset.

SR data comes in a handful of folder layouts, and the evaluation protocol depends on which one
you have (the official test configs use both): a *paired* layout stores an LR image made with MATLAB bicubic for
each HR image and scale; otherwise the LR is made on the fly from the HR. This module finds the
files and checks that the pairs fit; it never decides how to make a missing LR (that is the
evaluation code's job). Supported layouts (trees in ``data/README.md``):

* **X<k>** (``../shared/data/benchmark``): ``<root>/<Set>/X<k>/{HR,LR}/img_001.png``. The HR is
  modcropped per scale, so it differs a little between X2, X3 and X4; LR = HR / k exactly.
* **EDSR** (``benchmark.tar``): ``<root>[/benchmark]/<Set>/HR/baby.png`` and
  ``<Set>/LR_bicubic/X<k>/babyx2.png``. The HR is not modcropped: LR = floor(HR / k), and the
  paired protocol crops the HR to ``LR * k``.
* **DIV2K**: ``<root>[/DIV2K]/DIV2K_valid_HR/0801.png`` and
  ``DIV2K_valid_LR_bicubic/X<k>/0801x<k>.png`` (also LR = floor(HR / k)).

For a non-integer scale, or an integer one without stored LR files, :func:`benchmark_pairs`
returns pairs with ``lr=None``. In the X<k> layout the HR then comes from ``X2`` -- the smallest
modcrop, at most one pixel off the original -- falling back to the smallest ``X<j>`` present.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Union

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from msit_lite.data.io import IMAGE_SUFFIXES, image_size, read_image, to_tensor
from msit_lite.errors import MsitError

PathLike = Union[str, os.PathLike]

DOWNLOAD_HINT = "download it with `msit-lite data download benchmark --root DIR` (or set MSIT_DATA)"


@dataclass(frozen=True)
class ImagePair:
    """One evaluation image: its HR file and, if the layout stores one, the LR file for a scale."""

    name: str  # file stem, e.g. "img_001" or "0801"
    hr: Path
    lr: Path | None  # stored (MATLAB-bicubic) LR for this scale; None if the layout has none


# Canonical set name -> folder names to look for (first is canonical).
BENCHMARK_SETS: dict[str, tuple[str, ...]] = {
    "Set5": ("Set5",),
    "Set14": ("Set14",),
    "B100": ("B100", "BSD100"),
    "Urban100": ("Urban100",),
    "DIV2K": ("DIV2K",),
}
_ALIASES = {
    "set5": "Set5",
    "set14": "Set14",
    "b100": "B100",
    "bsd100": "B100",
    "urban100": "Urban100",
    "div2k": "DIV2K",
    "div2k-val": "DIV2K",
    "div2k_val": "DIV2K",
    "div2k-valid": "DIV2K",
    "div2k_valid": "DIV2K",
}


def canonical_set(dataset: str) -> str:
    """``"bsd100"`` -> ``"B100"`` etc.; MsitError for an unknown name."""
    name = _ALIASES.get(str(dataset).strip().lower())
    if name is None:
        raise MsitError(
            f"unknown benchmark set {dataset!r}; choose one of Set5, Set14, B100 (BSD100), "
            "Urban100, DIV2K (DIV2K-val)"
        )
    return name


def image_files(folder: PathLike) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name.

    Images are files with a suffix in :data:`msit_lite.data.io.IMAGE_SUFFIXES` (any case);
    hidden files are ignored. MsitError if the folder is missing or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise MsitError(f"image folder {folder} {what}")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise MsitError(
            f"image folder {folder} has no image files ({'/'.join(s[1:] for s in IMAGE_SUFFIXES)})"
        )
    return files


def _integer_scale(scale: float) -> int | None:
    s = float(scale)
    if not np.isfinite(s) or s <= 0:
        raise MsitError(f"scale must be a positive number, got {scale!r}")
    return int(round(s)) if abs(s - round(s)) < 1e-9 else None


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(
        p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") for p in folder.iterdir()
    )


def _by_stem(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in image_files(folder)}


def _find_lr(lr_files: dict[str, Path], stem: str, k: int) -> Path | None:
    """The LR file for HR ``stem``: same stem, or EDSR/DIV2K style ``<stem>x<k>`` (also with a
    space or underscore before the ``x``)."""
    for cand in (stem, f"{stem}x{k}", f"{stem} x{k}", f"{stem}_x{k}", f"{stem}X{k}"):
        if cand in lr_files:
            return lr_files[cand]
    return None


def _pair_up(hr_dir: Path, lr_dir: Path, k: int, exact: bool) -> list[ImagePair]:
    """Match every HR file with its LR file and check ``LR size = HR size / k``.

    ``exact``: the HR must be exactly ``k * LR`` (modcropped layouts); otherwise the HR may be up
    to ``k - 1`` pixels larger (``LR = floor(HR / k)``; the paired protocol crops the HR).
    """
    lr_files = _by_stem(lr_dir)
    pairs = []
    for hr in image_files(hr_dir):
        lr = _find_lr(lr_files, hr.stem, k)
        if lr is None:
            raise MsitError(
                f"HR image {hr} has no LR partner in {lr_dir} (looked for {hr.stem}.*, "
                f"{hr.stem}x{k}.*); HR and LR file names must match"
            )
        (hh, hw), (lh, lw) = image_size(hr), image_size(lr)
        ok = (hh == lh * k and hw == lw * k) if exact else (hh // k == lh and hw // k == lw)
        if not ok:
            rule = "HR = LR x k" if exact else "LR = floor(HR / k)"
            raise MsitError(
                f"size mismatch at scale x{k}: HR {hr} is {hw}x{hh} but LR {lr} is {lw}x{lh} "
                f"(expected {rule}); the LR file does not belong to this HR/scale"
            )
        pairs.append(ImagePair(hr.stem, hr, lr))
    return pairs


def _unpaired(hr_dir: Path) -> list[ImagePair]:
    return [ImagePair(p.stem, p, None) for p in image_files(hr_dir)]


def _xk_layout(set_dir: Path, k: int | None) -> list[ImagePair] | None:
    """``<Set>/X<k>/{HR,LR}``; None if ``set_dir`` is not in this layout."""
    scales = sorted(
        int(m.group(1))
        for p in (set_dir.iterdir() if set_dir.is_dir() else ())
        if (m := re.fullmatch(r"[Xx](\d+)", p.name)) and _has_images(p / "HR")
    )
    if not scales:
        return None
    if k is not None and k in scales:
        base = set_dir / f"X{k}"
        if (base / "LR").is_dir():
            return _pair_up(base / "HR", base / "LR", k, exact=True)
        return _unpaired(base / "HR")
    # No stored LR for this scale: X2's HR is the least cropped; else the smallest X<j>.
    j = 2 if 2 in scales else scales[0]
    return _unpaired(set_dir / f"X{j}" / "HR")


def _edsr_layout(set_dir: Path, k: int | None) -> list[ImagePair] | None:
    """``<Set>/HR`` + ``<Set>/LR_bicubic/X<k>``; None if ``set_dir`` is not in this layout."""
    if not _has_images(set_dir / "HR"):
        return None
    lr_dir = set_dir / "LR_bicubic" / f"X{k}"
    if k is not None and lr_dir.is_dir():
        return _pair_up(set_dir / "HR", lr_dir, k, exact=False)
    return _unpaired(set_dir / "HR")


def _div2k_layout(root: Path, k: int | None) -> list[ImagePair] | None:
    for base in (root, root / "DIV2K"):
        hr_dir = base / "DIV2K_valid_HR"
        if _has_images(hr_dir):
            lr_dir = base / "DIV2K_valid_LR_bicubic" / f"X{k}"
            if k is not None and lr_dir.is_dir():
                return _pair_up(hr_dir, lr_dir, k, exact=False)
            return _unpaired(hr_dir)
    return None


def benchmark_pairs(root: PathLike, dataset: str, scale: float) -> list[ImagePair]:
    """The HR (and stored LR, where the layout has one) files of a test set at ``scale``.

    ``root`` is the folder holding the sets (``<root>/Set5``) or their parent
    (``<root>/benchmark/Set5``); for DIV2K it holds ``DIV2K_valid_HR`` (or ``DIV2K/``). Pairs are
    sorted by HR file name. Raises MsitError if the set is missing or empty, if an HR file has no
    LR partner, or if an LR size does not fit its HR at this scale.
    """
    root = Path(root)
    name = canonical_set(dataset)
    k = _integer_scale(scale)
    kk = "<k>" if k is None else str(k)
    if name == "DIV2K":
        found = _div2k_layout(root, k)
        looked = [
            f"{root}/DIV2K_valid_HR + DIV2K_valid_LR_bicubic/X{kk}",
            f"{root}/DIV2K/DIV2K_valid_HR + DIV2K_valid_LR_bicubic/X{kk}",
        ]
        if found is not None:
            return found
        raise MsitError(
            f"DIV2K validation set not found; looked for {'; '.join(looked)}; download it with "
            "`msit-lite data download div2k --root DIR` (or set MSIT_DATA)"
        )
    looked = []
    for folder in BENCHMARK_SETS[name]:
        for set_dir in (root / folder, root / "benchmark" / folder):
            looked.append(f"{set_dir}/X{kk}/{{HR,LR}}")
            looked.append(f"{set_dir}/{{HR,LR_bicubic/X{kk}}}")
            for layout in (_xk_layout, _edsr_layout):
                found = layout(set_dir, k)
                if found is not None:
                    return found
    raise MsitError(
        f"benchmark set {name} not found or empty; looked for {'; '.join(looked)}; {DOWNLOAD_HINT}"
    )


# Training sets: name -> folder candidates (relative to root), tried in order.
_TRAINING: dict[str, tuple[str, ...]] = {
    "DIV2K": ("DIV2K_train_HR", "DIV2K/DIV2K_train_HR"),
    "Flickr2K": ("Flickr2K_HR", "Flickr2K/Flickr2K_HR", "Flickr2K"),
    "T91": ("train/T91", "T91"),
    "BSD200": ("train/BSD200", "BSD200"),
}
_TRAINING_GROUPS: dict[str, tuple[str, ...]] = {
    "DF2K": ("DIV2K", "Flickr2K"),
    "train291": ("T91", "BSD200"),
}


def training_set_names() -> list[str]:
    """The names :func:`find_training_folders` understands."""
    return [*_TRAINING, *_TRAINING_GROUPS]


def find_training_folders(root: PathLike, name: str) -> list[Path]:
    """HR folders of a training set under ``root``.

    ``DIV2K`` -> ``DIV2K_train_HR``; ``Flickr2K`` -> ``Flickr2K_HR`` (or ``Flickr2K/Flickr2K_HR``);
    ``DF2K`` -> both; ``T91`` / ``BSD200`` -> ``train/T91`` / ``train/BSD200`` (or directly under
    ``root``); ``train291`` (alias ``291``) -> both. Names are case-insensitive. Every folder
    returned exists and holds images; otherwise MsitError says what was looked for.
    """
    root = Path(root)
    lookup = {n.lower(): n for n in training_set_names()}
    lookup["291"] = "train291"
    key = lookup.get(str(name).strip().lower())
    if key is None:
        raise MsitError(
            f"unknown training set {name!r}; choose one of {', '.join(training_set_names())}"
        )
    parts = _TRAINING_GROUPS.get(key, (key,))
    folders = []
    for part in parts:
        cands = [root / rel for rel in _TRAINING[part]]
        hit = next((c for c in cands if _has_images(c)), None)
        if hit is None:
            hint = (
                f"`msit-lite data download {part.lower()} --root DIR`"
                if part in ("DIV2K", "Flickr2K")
                else "see data/README.md"
            )
            raise MsitError(
                f"training set {part} not found; looked for {', '.join(map(str, cands))}; {hint}"
            )
        folders.append(hit)
    return folders


class ImageFolder(Dataset):
    """A list of HR images as a dataset: item ``i`` is image ``i % n`` (``repeat`` epochs in one).

    Items are ``uint8`` ``H x W x 3`` arrays, or float ``[3, H, W]`` tensors in [0, 1] with
    ``as_tensor=True``. ``cache=True`` keeps decoded images in memory (as uint8, 1 byte per
    value): decoding PNGs dominates the cost of small-patch training. With a multi-process
    ``DataLoader`` each worker holds its own cache.
    """

    def __init__(
        self,
        sources: PathLike | Iterable[PathLike],
        *,
        as_tensor: bool = False,
        cache: bool = False,
        repeat: int = 1,
    ) -> None:
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        files: list[Path] = []
        for src in sources:
            p = Path(src)
            files.extend(image_files(p) if p.is_dir() else [p])
        if not files:
            raise MsitError("ImageFolder got no images (an empty list of folders/files)")
        if int(repeat) < 1:
            raise MsitError(f"repeat must be >= 1, got {repeat}")
        self.files: list[Path] = files
        self.as_tensor = as_tensor
        self.repeat = int(repeat)
        self._cache: dict[int, np.ndarray] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.files) * self.repeat

    def path(self, index: int) -> Path:
        """The file behind item ``index``."""
        return self.files[index % len(self.files)]

    def load(self, index: int) -> np.ndarray:
        """Item ``index`` as a uint8 ``H x W x 3`` array (through the cache if enabled)."""
        i = index % len(self.files)
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        arr = read_image(self.files[i])
        if self._cache is not None:
            self._cache[i] = arr
        return arr

    def __getitem__(self, index: int) -> np.ndarray | Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        arr = self.load(index % len(self))
        return to_tensor(arr) if self.as_tensor else arr


"""The download catalogue: official URLs of the data sets and the checksums we could find.

A Python module rather than a JSON file so that it ships with the package without extra
package-data settings, and so that every number can carry a comment saying where it comes from.

Checksum provenance (see also ``data/README.md``):

* **DIV2K** -- SHA-256 and sizes from TensorFlow Datasets,
  ``tensorflow_datasets/url_checksums/div2k.txt`` (they downloaded the archives from the same
  official URLs). These are verified on every download.
* **Flickr2K** and **benchmark.tar** (EDSR) -- no published SHA-256 was found. The torchSR
  package (``Coloquinte/torchSR``, ``torchsr/datasets/{flickr2k,benchmarks}.py``) publishes
  MD5s, which we verify. The SHA-256 of the first download is recorded in ``checksums.json``
  next to the data and marked *unverified*; pass ``--sha256 NAME=HEX`` to pin one.
"""
from __future__ import annotations

from dataclasses import dataclass

DIV2K_BASE = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
EDSR_BASE = "https://cv.snu.ac.kr/research/EDSR/"


@dataclass(frozen=True)
class Archive:
    """One downloadable archive and what it becomes under the data root."""

    name: str  # file name on the server, e.g. "DIV2K_train_HR.zip"
    base_url: str
    provides: str  # folder (relative to the data root) that exists after extraction
    size: int | None = None  # bytes, where published
    sha256: str | None = None  # published SHA-256, where one exists
    md5: str | None = None  # published MD5, where only that exists
    checksum_source: str = ""

    @property
    def url(self) -> str:
        return self.base_url + self.name


_TFDS = "TensorFlow Datasets url_checksums/div2k.txt"
_TORCHSR = "torchSR (Coloquinte/torchSR) MD5"

#: dataset -> part -> archive. The first parts listed under ``DEFAULT_PARTS`` are fetched when
#: ``--parts`` is not given.
CATALOGUE: dict[str, dict[str, Archive]] = {
    "div2k": {
        "train_hr": Archive(
            "DIV2K_train_HR.zip", DIV2K_BASE, "DIV2K_train_HR", 3530603713,
            "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335", None, _TFDS,
        ),
        "valid_hr": Archive(
            "DIV2K_valid_HR.zip", DIV2K_BASE, "DIV2K_valid_HR", 448993893,
            "20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc", None, _TFDS,
        ),
        "valid_lr_x2": Archive(
            "DIV2K_valid_LR_bicubic_X2.zip", DIV2K_BASE, "DIV2K_valid_LR_bicubic/X2", 117763600,
            "60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57", None, _TFDS,
        ),
        "valid_lr_x3": Archive(
            "DIV2K_valid_LR_bicubic_X3.zip", DIV2K_BASE, "DIV2K_valid_LR_bicubic/X3", 54513392,
            "04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3", None, _TFDS,
        ),
        "valid_lr_x4": Archive(
            "DIV2K_valid_LR_bicubic_X4.zip", DIV2K_BASE, "DIV2K_valid_LR_bicubic/X4", 31505881,
            "a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553", None, _TFDS,
        ),
        "train_lr_x2": Archive(
            "DIV2K_train_LR_bicubic_X2.zip", DIV2K_BASE, "DIV2K_train_LR_bicubic/X2", 925390592,
            "a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850", None, _TFDS,
        ),
        "train_lr_x3": Archive(
            "DIV2K_train_LR_bicubic_X3.zip", DIV2K_BASE, "DIV2K_train_LR_bicubic/X3", 427847282,
            "ad5c8e5507e2765823d3c2c5bd0934842efcd487c5370604c224090898b3163a", None, _TFDS,
        ),
        "train_lr_x4": Archive(
            "DIV2K_train_LR_bicubic_X4.zip", DIV2K_BASE, "DIV2K_train_LR_bicubic/X4", 246914039,
            "f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a", None, _TFDS,
        ),
    },
    "flickr2k": {
        # HR plus the bicubic/unknown LR folders in one tar (~20 GB): Flickr2K/Flickr2K_HR/...
        "all": Archive(
            "Flickr2K.tar", EDSR_BASE, "Flickr2K/Flickr2K_HR", None, None,
            "5d3f39443d5e9489bff8963f8f26cb03", _TORCHSR,
        ),
    },
    "benchmark": {
        # benchmark/{Set5,Set14,B100,Urban100}/{HR,LR_bicubic/X<k>} (~250 MB)
        "all": Archive(
            "benchmark.tar", EDSR_BASE, "benchmark", None, None,
            "4ace41d33c2384b97e6b320cd0afd6ba", _TORCHSR,
        ),
    },
}

DEFAULT_PARTS: dict[str, tuple[str, ...]] = {
    "div2k": ("train_hr", "valid_hr", "valid_lr_x2", "valid_lr_x3", "valid_lr_x4"),
    "flickr2k": ("all",),
    "benchmark": ("all",),
}

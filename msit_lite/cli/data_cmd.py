"""``msit-lite data download | check``: fetch the data sets and see what a data root holds.

Examples::

    msit-lite data download benchmark --root ~/sr-data
    msit-lite data download div2k --root ~/sr-data --parts valid_hr valid_lr_x4
    msit-lite data check --root ~/sr-data
    msit-lite data check --sha256sums ~/sr-data/SHA256SUMS
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from msit_lite.data import download as dl
from msit_lite.data.folders import BENCHMARK_SETS, benchmark_pairs, find_training_folders, image_files
from msit_lite.data.sources import CATALOGUE, DEFAULT_PARTS
from msit_lite.errors import MsitError
from msit_lite.paths import data_root


def add_parser(subparsers: argparse._SubParsersAction, help_text: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser("data", help=help_text, description="Download and check data sets.")
    sub = p.add_subparsers(dest="data_action", metavar="ACTION")
    parts_help = "; ".join(
        f"{d}: {', '.join(parts)} (default {' '.join(DEFAULT_PARTS[d])})" for d, parts in CATALOGUE.items()
    )

    d = sub.add_parser(
        "download",
        help="download, verify (SHA-256/MD5) and extract a data set",
        description="Download, verify and extract a data set. Interrupted downloads resume.",
    )
    d.add_argument("dataset", choices=sorted(CATALOGUE), help="which data set")
    d.add_argument("--root", type=Path, default=None, help="data root (default: $MSIT_DATA or ../shared/data)")
    d.add_argument("--parts", nargs="+", metavar="PART", help=f"archives to fetch; {parts_help}")
    d.add_argument("--keep-archives", action="store_true", help="keep the archives after extraction")
    d.add_argument("--mirror", metavar="URL", help="base URL replacing the official one (env MSIT_DOWNLOAD_MIRROR)")
    d.add_argument("--sha256", action="append", default=[], metavar="NAME=HEX",
                   help="expected SHA-256 of an archive, e.g. benchmark.tar=<hex> (repeatable)")
    d.add_argument("--force", action="store_true", help="fetch again even if already extracted")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")

    c = sub.add_parser("check", help="report which data sets and layouts a data root holds")
    c.add_argument("--root", type=Path, default=None, help="data root (default: $MSIT_DATA or ../shared/data)")
    c.add_argument("--sha256sums", type=Path, metavar="FILE",
                   help="also verify a sha256sum file (paths relative to its folder)")

    p.set_defaults(func=run, _data_parser=p)
    return p


def _check(root: Path, out: TextIO | None = None) -> int:
    """Print one line per data set; returns how many were found.

    ``out`` defaults to the *current* ``sys.stdout`` (looked up at call time, not bound at import:
    a default bound at import would keep whatever stream was installed then, e.g. a closed capture).
    """
    out = sys.stdout if out is None else out
    found = 0
    print(f"data root: {root}", file=out)
    for name in BENCHMARK_SETS:
        label = "DIV2K-val" if name == "DIV2K" else name
        bits = []
        for k in (2, 3, 4):
            try:
                pairs = benchmark_pairs(root, name, k)
            except MsitError as e:
                if "not found" in str(e):
                    bits = []
                    break
                bits.append(f"x{k}: ERROR {e}")
                continue
            paired = sum(p.lr is not None for p in pairs)
            bits.append(f"x{k}: {len(pairs)} HR, {paired} stored LR" if paired else f"x{k}: {len(pairs)} HR only")
        if bits:
            found += 1
            print(f"  {label:9s} " + "; ".join(bits), file=out)
        else:
            print(f"  {label:9s} not found", file=out)
    for name in ("DIV2K", "Flickr2K", "T91", "BSD200"):
        try:
            folders = find_training_folders(root, name)
        except MsitError:
            print(f"  {name:9s} (training) not found", file=out)
            continue
        found += 1
        n = sum(len(image_files(f)) for f in folders)
        print(f"  {name:9s} (training) {n} images in {', '.join(map(str, folders))}", file=out)
    return found


def run(args: argparse.Namespace) -> int:
    action = getattr(args, "data_action", None)
    if action is None:
        args._data_parser.print_help()
        return 0
    root = args.root if args.root is not None else data_root()
    if action == "download":
        dl.download(
            args.dataset,
            root,
            parts=args.parts,
            keep_archives=args.keep_archives,
            mirror=args.mirror,
            sha256=dl.parse_sha256_overrides(args.sha256),
            force=args.force,
            progress=not args.no_progress,
        )
        return 0
    # check
    if args.root is not None and not root.is_dir():
        raise MsitError(f"data root {root} does not exist")
    _check(root)
    if args.sha256sums is not None:
        n, failures = dl.check_sha256sums(args.sha256sums)
        for line in failures:
            print(line)
        if failures:
            raise MsitError(f"{len(failures)} of {n} files failed the check against {args.sha256sums}")
        print(f"{args.sha256sums}: all {n} files OK")
    return 0

"""Download, verify and unpack the data sets -- resumable, checksummed and safe to interrupt.

The steps for each archive, and why:

1. **Download** into ``<root>/.downloads/<name>.part`` with an HTTP ``Range`` request that
   continues where an interrupted run stopped (DIV2K's training zip is 3.5 GB). A server that
   ignores ``Range`` answers 200, and we start again from byte 0.
2. **Verify** the whole file: size and SHA-256/MD5 where published (:mod:`.sources`), or a
   SHA-256 given with ``--sha256 NAME=HEX``, or the one recorded by an earlier download. A
   mismatch deletes the file -- a bad archive is never extracted or reused.
   Without any reference the SHA-256 is marked *unverified* (trust on first use), and a warning
   says so.
3. **Extract** into a temporary folder inside ``root``, refusing absolute paths, ``..``,
   links and device files (a crafted archive cannot write outside it) and members that would
   land on the root's own bookkeeping (``checksums.json``, ``.downloads/``), then move the result
   into place. A corrupt archive raises :class:`MsitError` and leaves nothing half-extracted.
4. **Record** the SHA-256 and how it was verified in ``<root>/checksums.json`` -- only now, after
   a successful extraction: a first download that turns out to be corrupt must not become the
   reference that the next download is checked against.

The base URL can be replaced with ``MSIT_DOWNLOAD_MIRROR`` or ``--mirror URL`` (the archive
names stay the same), which is also how the tests serve archives from 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Mapping

from msit_lite.data.sources import CATALOGUE, DEFAULT_PARTS, Archive
from msit_lite.errors import MsitError
from msit_lite.utils import atomic_path

CHUNK = 1 << 20
CHECKSUMS_FILE = "checksums.json"
DOWNLOADS_DIR = ".downloads"


def file_digest(path: Path, algo: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# --- checksums.json ----------------------------------------------------------------------------


def load_checksums(root: Path) -> dict[str, dict]:
    path = root / CHECKSUMS_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise MsitError(f"cannot read {path}: {e}; fix or delete it") from None
    return data if isinstance(data, dict) else {}


def _record(root: Path, name: str, entry: dict) -> None:
    data = load_checksums(root)
    data[name] = {**data.get(name, {}), **entry}
    with atomic_path(root / CHECKSUMS_FILE) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


# --- HTTP --------------------------------------------------------------------------------------


def _progress(total: int | None, initial: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
        desc=name, disable=not enabled, file=sys.stderr, leave=False,
    )


def fetch(url: str, dest: Path, *, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming from ``dest.part`` if an earlier run stopped.

    On a network error the ``.part`` file is kept and MsitError says to run again.
    """
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "msit-lite"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing left to fetch: the .part file is complete
            os.replace(part, dest)
            return dest
        raise MsitError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise MsitError(f"cannot reach {url}: {reason}; check the network or use --mirror") from None
    with resp:
        if start and resp.status != 206:
            start = 0  # the server ignored Range: start over
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        done = start
        try:
            bar = _progress(total, start, dest.name, progress)
            with open(part, "ab" if start else "wb") as f, bar:
                while block := resp.read(CHUNK):
                    f.write(block)
                    done += len(block)
                    bar.update(len(block))
        except (OSError, urllib.error.URLError, ConnectionError) as e:
            raise MsitError(
                f"download of {url} interrupted after {done} bytes ({type(e).__name__}); "
                f"run the same command again to resume from {part}"
            ) from None
    if total is not None and done < total:
        raise MsitError(
            f"download of {url} stopped at {done} of {total} bytes; run the same command again "
            f"to resume from {part}"
        )
    os.replace(part, dest)
    return dest


# --- verification ------------------------------------------------------------------------------


def verify(path: Path, archive: Archive, root: Path, sha256: str | None) -> tuple[str, str]:
    """Check ``path`` against every reference we have; delete it and raise on a mismatch.

    Returns ``(how it was verified, its SHA-256)`` for the log and for ``checksums.json`` --
    which the caller writes only after the archive extracted (module docstring, step 4).
    """

    def bad(what: str) -> MsitError:
        path.unlink(missing_ok=True)
        return MsitError(
            f"{archive.name}: {what}; the file was deleted -- run again to re-download, or check "
            "the mirror/--sha256 value"
        )

    if archive.size is not None and path.stat().st_size != archive.size:
        raise bad(f"size {path.stat().st_size} bytes, expected {archive.size}")
    actual = file_digest(path, "sha256")
    recorded = load_checksums(root).get(archive.name, {}).get("sha256")
    ref, source = (
        (sha256, "--sha256") if sha256
        else (archive.sha256, archive.checksum_source) if archive.sha256
        else (recorded, f"{CHECKSUMS_FILE} (first download)") if recorded
        else (None, "")
    )
    if ref is not None and actual != ref.lower():
        raise bad(f"SHA-256 {actual} does not match {ref.lower()} from {source}")
    if archive.md5 is not None and file_digest(path, "md5") != archive.md5:
        raise bad(f"MD5 does not match the published {archive.md5} ({archive.checksum_source})")
    if ref is not None:
        how = f"SHA-256 verified ({source})"
    elif archive.md5 is not None:
        how = f"MD5 verified ({archive.checksum_source}); SHA-256 recorded, not independently verified"
    else:
        how = "UNVERIFIED: no published checksum; SHA-256 recorded on first download"
    if ref is None:
        print(
            f"msit-lite: warning: {archive.name} has no published SHA-256; recorded {actual} in "
            f"{root / CHECKSUMS_FILE} (trust on first use)",
            file=sys.stderr,
        )
    return how, actual


# --- extraction --------------------------------------------------------------------------------


#: Top-level names in a data root that belong to the downloader, never to an archive's content.
_BOOKKEEPING = (CHECKSUMS_FILE.lower(), DOWNLOADS_DIR.lower())


def _safe_member(name: str, archive: Path) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise MsitError(f"{archive}: refusing unsafe path {name!r} in the archive (not extracted)")
    parts = [part for part in p.parts if part not in ("", ".")]
    if parts and parts[0].lower() in _BOOKKEEPING:
        raise MsitError(f"{archive}: refusing member {name!r}: it would replace the data root's own "
                        f"{parts[0]} (not extracted)")
    return p


def _extract_zip(archive: Path, out: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            rel = _safe_member(info.filename, archive)
            mode = (info.external_attr >> 16) & 0o170000
            if mode == 0o120000:
                raise MsitError(f"{archive}: refusing symbolic link {info.filename!r} (not extracted)")
            target = out.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:  # CRC checked at the end
                shutil.copyfileobj(src, dst, CHUNK)


def _extract_tar(archive: Path, out: Path) -> None:
    with tarfile.open(archive) as tf:
        for m in tf:
            rel = _safe_member(m.name, archive)
            target = out.joinpath(*rel.parts)
            if m.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                assert src is not None
                with src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            else:
                raise MsitError(
                    f"{archive}: refusing {m.name!r} (links and special files are not extracted)"
                )


def _merge_into(src: Path, dst: Path) -> None:
    """Move the tree ``src`` into ``dst``, merging folders that already exist."""
    for item in src.iterdir():
        target = dst / item.name
        if item.is_dir() and target.is_dir():
            _merge_into(item, target)
        else:
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)


def extract(archive: Path, root: Path) -> None:
    """Unpack a zip or tar into ``root`` via a temporary folder; MsitError if it is corrupt."""
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp)
        else:
            raise MsitError(f"{archive} is neither a zip nor a tar archive (corrupt download?)")
        _merge_into(tmp, root)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
        raise MsitError(f"{archive} is corrupt and was not extracted ({' '.join(str(e).split())})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the command -------------------------------------------------------------------------------


def parse_sha256_overrides(items: Iterable[str]) -> dict[str, str]:
    """``["NAME=HEX", ...]`` -> ``{NAME: hex}`` with validation."""
    out = {}
    for item in items:
        name, sep, hexd = item.partition("=")
        hexd = hexd.strip().lower()
        if not sep or len(hexd) != 64 or any(c not in "0123456789abcdef" for c in hexd):
            raise MsitError(f"--sha256 expects NAME=<64 hex digits>, got {item!r}")
        out[name.strip()] = hexd
    return out


def resolve_parts(dataset: str, parts: Iterable[str] | None) -> list[tuple[str, Archive]]:
    if dataset not in CATALOGUE:
        raise MsitError(f"unknown data set {dataset!r}; choose one of {', '.join(CATALOGUE)}")
    known = CATALOGUE[dataset]
    chosen = list(parts) if parts else list(DEFAULT_PARTS[dataset])
    for p in chosen:
        if p not in known:
            raise MsitError(f"unknown part {p!r} of {dataset}; choose from {', '.join(known)}")
    return [(p, known[p]) for p in chosen]


def download(
    dataset: str,
    root: str | os.PathLike,
    *,
    parts: Iterable[str] | None = None,
    keep_archives: bool = False,
    mirror: str | None = None,
    sha256: Mapping[str, str] | None = None,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Download, verify and extract the ``parts`` of ``dataset`` into ``root``.

    Returns the folders provided. Archives already extracted (recorded in ``checksums.json``
    with their folder present) are skipped unless ``force``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    mirror = mirror or os.environ.get("MSIT_DOWNLOAD_MIRROR") or None
    sha256 = dict(sha256 or {})
    provided = []
    for part, archive in resolve_parts(dataset, parts):
        target = root / archive.provides
        entry = load_checksums(root).get(archive.name, {})
        if not force and entry.get("extracted") and target.is_dir():
            log(f"{archive.name}: already extracted to {target} (use --force to fetch again)")
            provided.append(target)
            continue
        url = (mirror.rstrip("/") + "/" + archive.name) if mirror else archive.url
        path = root / DOWNLOADS_DIR / archive.name
        if not path.exists():
            log(f"{archive.name}: downloading {url}")
            fetch(url, path, progress=progress)
        how, digest = verify(path, archive, root, sha256.get(archive.name))
        log(f"{archive.name}: {how}")
        try:
            extract(path, root)
        except MsitError:
            path.unlink(missing_ok=True)  # never reuse a bad archive
            raise
        if not target.is_dir():
            raise MsitError(
                f"{archive.name} was extracted but {target} is missing; the archive layout is not "
                "the expected one"
            )
        _record(root, archive.name, {"sha256": digest, "url": archive.url, "verification": how, "extracted": True})
        if not keep_archives:
            path.unlink()
        log(f"{archive.name}: extracted to {target}")
        provided.append(target)
    downloads = root / DOWNLOADS_DIR
    if downloads.is_dir() and not any(downloads.iterdir()):
        downloads.rmdir()
    return provided


def check_sha256sums(sums_file: str | os.PathLike) -> tuple[int, list[str]]:
    """Verify a ``sha256sum``-style file (paths relative to its folder, like ``sha256sum -c``
    run there). Returns (number of files checked, list of "path: FAILED|MISSING" lines)."""
    sums_file = Path(sums_file)
    if not sums_file.is_file():
        raise MsitError(f"checksum file not found: {sums_file}")
    base = sums_file.parent
    failures, n = [], 0
    for lineno, line in enumerate(sums_file.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        hexd, _, rel = line.strip().partition(" ")
        rel = rel.strip().lstrip("*")
        if len(hexd) != 64 or not rel:
            raise MsitError(f"{sums_file}:{lineno}: not a 'HEX  PATH' sha256sum line")
        n += 1
        p = base / rel
        if not p.is_file():
            failures.append(f"{rel}: MISSING")
        elif file_digest(p) != hexd.lower():
            failures.append(f"{rel}: FAILED")
    return n, failures

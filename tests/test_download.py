"""Downloads end to end against a local HTTP server (127.0.0.1 only; never the internet)."""
from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from msit_lite.cli import main as cli_main
from msit_lite.data import download as dl
from msit_lite.data.folders import benchmark_pairs, find_training_folders
from msit_lite.data.sources import Archive
from msit_lite.errors import MsitError


def png_bytes(w: int, h: int, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def make_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


class Server:
    """Serves ``files`` with Range support; ``truncate_once`` cuts the first full response."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate_once: set[str] = set()
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                outer.requests.append((name, rng))
                data = outer.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and not outer.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in outer.truncate_once:
                    outer.truncate_once.discard(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


BENCH = {
    "benchmark/Set5/HR/baby.png": png_bytes(8, 6, 1),
    "benchmark/Set5/LR_bicubic/X2/babyx2.png": png_bytes(4, 3, 2),
    "benchmark/Set5/HR/bird.png": png_bytes(4, 4, 3),
    "benchmark/Set5/LR_bicubic/X2/birdx2.png": png_bytes(2, 2, 4),
}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def catalogue(monkeypatch):
    """Replace the catalogue entries with archives the test serves (same names and layouts)."""

    def set_entry(dataset: str, part: str, archive: Archive) -> None:
        monkeypatch.setitem(dl.CATALOGUE[dataset], part, archive)

    return set_entry


def quiet(*_args) -> None:
    pass


def test_benchmark_end_to_end_unverified_is_recorded(tmp_path, server, catalogue, capsys):
    server.files["benchmark.tar"] = make_tar(BENCH)
    catalogue("benchmark", "all", Archive("benchmark.tar", "http://unused.invalid/", "benchmark"))
    out = dl.download("benchmark", tmp_path, mirror=server.url, progress=False, log=quiet)
    assert out == [tmp_path / "benchmark"]
    pairs = benchmark_pairs(tmp_path, "Set5", 2)
    assert [(p.name, p.lr.name) for p in pairs] == [("baby", "babyx2.png"), ("bird", "birdx2.png")]
    assert (tmp_path / "benchmark/Set5/HR/baby.png").read_bytes() == BENCH["benchmark/Set5/HR/baby.png"]
    record = json.loads((tmp_path / "checksums.json").read_text())["benchmark.tar"]
    assert record["sha256"] == sha(server.files["benchmark.tar"]) and record["extracted"] is True
    assert "UNVERIFIED" in record["verification"]
    assert "trust on first use" in capsys.readouterr().err
    assert not (tmp_path / ".downloads").exists()  # archive removed, no temp folders left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmark", "checksums.json"]
    # a second run skips the finished archive without touching the network
    n = len(server.requests)
    dl.download("benchmark", tmp_path, mirror=server.url, progress=False, log=quiet)
    assert len(server.requests) == n


def test_div2k_verified_zip_parts_merge(tmp_path, server, catalogue, monkeypatch):
    zips = {
        "DIV2K_valid_HR.zip": make_zip({"DIV2K_valid_HR/0801.png": png_bytes(12, 8)}),
        "DIV2K_valid_LR_bicubic_X2.zip": make_zip({"DIV2K_valid_LR_bicubic/X2/0801x2.png": png_bytes(6, 4)}),
        "DIV2K_valid_LR_bicubic_X4.zip": make_zip({"DIV2K_valid_LR_bicubic/X4/0801x4.png": png_bytes(3, 2)}),
    }
    server.files.update(zips)
    for part, (name, data), provides in zip(
        ("valid_hr", "valid_lr_x2", "valid_lr_x4"),
        zips.items(),
        ("DIV2K_valid_HR", "DIV2K_valid_LR_bicubic/X2", "DIV2K_valid_LR_bicubic/X4"),
    ):
        catalogue("div2k", part, Archive(name, "http://unused.invalid/", provides, len(data), sha(data), None, "test"))
    monkeypatch.setenv("MSIT_DOWNLOAD_MIRROR", server.url)
    dl.download("div2k", tmp_path, parts=["valid_hr", "valid_lr_x2", "valid_lr_x4"],
                keep_archives=True, progress=False, log=quiet)
    assert benchmark_pairs(tmp_path, "DIV2K", 4)[0].lr == tmp_path / "DIV2K_valid_LR_bicubic/X4/0801x4.png"
    assert benchmark_pairs(tmp_path, "DIV2K", 2)[0].lr.name == "0801x2.png"
    assert (tmp_path / ".downloads" / "DIV2K_valid_HR.zip").read_bytes() == zips["DIV2K_valid_HR.zip"]
    record = json.loads((tmp_path / "checksums.json").read_text())["DIV2K_valid_HR.zip"]
    assert record["verification"] == "SHA-256 verified (test)"


def test_resume_after_interrupted_download(tmp_path, server, catalogue):
    data = make_tar({**BENCH, "benchmark/Set5/HR/big.png": png_bytes(64, 64, 9),
                     "benchmark/Set5/LR_bicubic/X2/bigx2.png": png_bytes(32, 32, 8)})
    server.files["benchmark.tar"] = data
    server.truncate_once.add("benchmark.tar")
    catalogue("benchmark", "all", Archive("benchmark.tar", server.url, "benchmark", len(data), sha(data)))
    with pytest.raises(MsitError, match="run the same command again"):
        dl.download("benchmark", tmp_path, progress=False, log=quiet)
    part = tmp_path / ".downloads" / "benchmark.tar.part"
    assert 0 < part.stat().st_size < len(data)
    assert not (tmp_path / "benchmark").exists()
    have = part.stat().st_size
    dl.download("benchmark", tmp_path, progress=False, log=quiet)
    assert server.requests[-1] == ("benchmark.tar", f"bytes={have}-")
    assert len(benchmark_pairs(tmp_path, "Set5", 2)) == 3
    assert not part.exists()


def test_resume_from_precreated_part_and_server_ignoring_range(tmp_path, server, catalogue):
    data = make_tar(BENCH)
    server.files["benchmark.tar"] = data
    catalogue("benchmark", "all", Archive("benchmark.tar", server.url, "benchmark", None, sha(data)))
    part = tmp_path / ".downloads" / "benchmark.tar.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:1000])
    dl.download("benchmark", tmp_path, progress=False, log=quiet)  # resumed with Range
    assert server.requests[-1][1] == "bytes=1000-"
    # a server that ignores Range: the download restarts from zero and still verifies
    part.parent.mkdir(parents=True, exist_ok=True)
    part.write_bytes(b"garbage" * 100)
    server.ignore_range = True
    dl.download("benchmark", tmp_path, progress=False, log=quiet, force=True)
    assert len(benchmark_pairs(tmp_path, "Set5", 2)) == 2


def test_checksum_mismatch_deletes_and_extracts_nothing(tmp_path, server, catalogue):
    data = make_tar(BENCH)
    server.files["benchmark.tar"] = data
    catalogue("benchmark", "all", Archive("benchmark.tar", server.url, "benchmark", None, "0" * 64))
    with pytest.raises(MsitError) as e:
        dl.download("benchmark", tmp_path, progress=False, log=quiet)
    msg = str(e.value)
    assert "\n" not in msg and "benchmark.tar" in msg and "does not match" in msg
    assert not (tmp_path / "benchmark").exists()
    assert not list((tmp_path / ".downloads").iterdir())  # neither the archive nor a .part
    assert not (tmp_path / "checksums.json").exists()
    # --sha256 overrides the catalogue (here: the right value)
    dl.download("benchmark", tmp_path, progress=False, log=quiet, sha256={"benchmark.tar": sha(data)})
    assert (tmp_path / "benchmark/Set5/HR/baby.png").exists()


def test_md5_mismatch(tmp_path, server, catalogue):
    server.files["Flickr2K.tar"] = make_tar({"Flickr2K/Flickr2K_HR/000001.png": png_bytes(4, 4)})
    catalogue("flickr2k", "all", Archive("Flickr2K.tar", server.url, "Flickr2K/Flickr2K_HR", None, None, "0" * 32))
    with pytest.raises(MsitError, match="MD5"):
        dl.download("flickr2k", tmp_path, progress=False, log=quiet)
    assert not (tmp_path / "Flickr2K").exists()
    good = hashlib.md5(server.files["Flickr2K.tar"]).hexdigest()
    catalogue("flickr2k", "all", Archive("Flickr2K.tar", server.url, "Flickr2K/Flickr2K_HR", None, None, good))
    dl.download("flickr2k", tmp_path, progress=False, log=quiet)
    assert find_training_folders(tmp_path, "Flickr2K") == [tmp_path / "Flickr2K/Flickr2K_HR"]


@pytest.mark.parametrize(
    "data",
    [b"this is not an archive" * 50, make_zip({"a/b.png": b"x" * 5000})[:-300]],
    ids=["not-an-archive", "truncated-zip"],
)
def test_corrupt_archive(tmp_path, server, catalogue, data):
    server.files["benchmark.tar"] = data
    catalogue("benchmark", "all", Archive("benchmark.tar", server.url, "benchmark", None, sha(data)))
    with pytest.raises(MsitError) as e:
        dl.download("benchmark", tmp_path, progress=False, log=quiet)
    assert "benchmark.tar" in str(e.value) and "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "checksums.json") == [".downloads"]
    assert not list((tmp_path / ".downloads").iterdir())


def test_a_failed_first_extraction_records_no_checksum(tmp_path, server, catalogue):
    """Trust on first use records a SHA-256 only after the archive extracted: a corrupt first
    download must not become the reference that the next (good) one is rejected against."""
    catalogue("benchmark", "all", Archive("benchmark.tar", "http://unused.invalid/", "benchmark"))
    server.files["benchmark.tar"] = b"not an archive at all" * 10
    with pytest.raises(MsitError, match="neither a zip nor a tar"):
        dl.download("benchmark", tmp_path, mirror=server.url, progress=False, log=quiet)
    assert "benchmark.tar" not in dl.load_checksums(tmp_path)
    server.files["benchmark.tar"] = make_tar(BENCH)
    assert dl.download("benchmark", tmp_path, mirror=server.url, progress=False, log=quiet) == [tmp_path / "benchmark"]
    assert dl.load_checksums(tmp_path)["benchmark.tar"]["sha256"] == sha(server.files["benchmark.tar"])


@pytest.mark.parametrize("maker", [make_tar, make_zip])
@pytest.mark.parametrize("member", ["checksums.json", "./checksums.json", "CHECKSUMS.JSON", ".downloads/benchmark.tar"])
def test_members_landing_on_the_roots_bookkeeping_are_refused(tmp_path, maker, member):
    root = tmp_path / "data"
    root.mkdir()
    (root / "checksums.json").write_text('{"DIV2K_valid_HR.zip": {"sha256": "ab"}}\n')
    arc = tmp_path / ("x.tar" if maker is make_tar else "x.zip")
    arc.write_bytes(maker({"benchmark/Set5/HR/a.png": b"1", member: b'{"forged": {}}'}))
    with pytest.raises(MsitError, match="refusing member .*it would replace the data root's own"):
        dl.extract(arc, root)
    assert json.loads((root / "checksums.json").read_text()) == {"DIV2K_valid_HR.zip": {"sha256": "ab"}}
    assert not (root / "benchmark").exists() and not (root / ".downloads").exists()


def test_corrupt_zip_member_crc(tmp_path):
    data = bytearray(make_zip({"DIV2K_valid_HR/0801.png": b"A" * 4000}))
    i = data.index(b"A" * 100)  # stored uncompressed: flip a payload byte -> CRC error
    data[i] = ord("B")
    bad = tmp_path / "x.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(MsitError, match="corrupt"):
        dl.extract(bad, tmp_path)
    assert not (tmp_path / "DIV2K_valid_HR").exists()


@pytest.mark.parametrize("maker", [make_tar, make_zip])
@pytest.mark.parametrize("evil", ["../evil.png", "/tmp/evil_msit.png", "a/../../evil.png"])
def test_path_traversal_refused(tmp_path, maker, evil):
    arc = tmp_path / "data" / ("x.tar" if maker is make_tar else "x.zip")
    arc.parent.mkdir()
    arc.write_bytes(maker({"ok/a.png": b"1", evil: b"2"}))
    with pytest.raises(MsitError, match="unsafe path"):
        dl.extract(arc, tmp_path / "data")
    assert not (tmp_path / "evil.png").exists() and not Path("/tmp/evil_msit.png").exists()
    assert not (tmp_path / "data" / "ok").exists()


def test_tar_symlink_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("benchmark/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    arc = tmp_path / "x.tar"
    arc.write_bytes(buf.getvalue())
    with pytest.raises(MsitError, match="links"):
        dl.extract(arc, tmp_path)
    assert not (tmp_path / "benchmark").exists()


def test_http_errors(tmp_path, server):
    with pytest.raises(MsitError, match="HTTP 404"):
        dl.fetch(server.url + "missing.tar", tmp_path / "missing.tar")
    with pytest.raises(MsitError, match="cannot reach"):
        dl.fetch("http://127.0.0.1:1/x.tar", tmp_path / "x.tar", timeout=5)


def test_bad_arguments(tmp_path):
    with pytest.raises(MsitError, match="unknown part"):
        dl.download("div2k", tmp_path, parts=["test_hr"], log=quiet)
    with pytest.raises(MsitError, match="unknown data set"):
        dl.download("imagenet", tmp_path, log=quiet)
    with pytest.raises(MsitError, match="NAME="):
        dl.parse_sha256_overrides(["benchmark.tar=xyz"])
    assert dl.parse_sha256_overrides(["a.zip=" + "AB" * 32]) == {"a.zip": "ab" * 32}


def test_cli_download_and_check(tmp_path, server, catalogue, capsys):
    server.files["benchmark.tar"] = make_tar(BENCH)
    catalogue("benchmark", "all", Archive("benchmark.tar", "http://unused.invalid/", "benchmark"))
    rc = cli_main(["data", "download", "benchmark", "--root", str(tmp_path), "--mirror", server.url, "--no-progress"])
    assert rc == 0
    sums = tmp_path / "SUMS"
    sums.write_text(f"{sha(BENCH['benchmark/Set5/HR/baby.png'])}  benchmark/Set5/HR/baby.png\n")
    capsys.readouterr()
    assert cli_main(["data", "check", "--root", str(tmp_path), "--sha256sums", str(sums)]) == 0
    out = capsys.readouterr().out
    assert "Set5      x2: 2 HR, 2 stored LR; x3: 2 HR only" in out and "all 1 files OK" in out
    sums.write_text(sums.read_text() + f"{'0' * 64}  benchmark/Set5/HR/bird.png\n{'0' * 64}  nope.png\n")
    assert cli_main(["data", "check", "--root", str(tmp_path), "--sha256sums", str(sums)]) == 2
    captured = capsys.readouterr()
    assert "benchmark/Set5/HR/bird.png: FAILED" in captured.out and "nope.png: MISSING" in captured.out
    assert "2 of 3 files failed" in captured.err
    assert cli_main(["data", "download", "benchmark", "--root", str(tmp_path), "--sha256", "bad"]) == 2


def test_data_check_prints_to_the_current_stdout(tmp_path, monkeypatch):
    """`_check` looks sys.stdout up when called: a stream bound at import (an earlier test's closed
    capture, say) must not be where `msit-lite data check` prints."""
    import io

    from msit_lite.cli import data_cmd

    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    data_cmd._check(tmp_path)
    assert f"data root: {tmp_path}" in buf.getvalue()

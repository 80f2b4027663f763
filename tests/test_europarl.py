"""Offline tests of the Europarl downloader against a real HTTP server on 127.0.0.1."""
from __future__ import annotations

import hashlib
import http.server
import io
import random
import re
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from regurgitative.data import europarl

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

N_LINES = 400


def _corpus() -> tuple[list[str], list[str]]:
    # Seeded hex padding keeps the tarball from compressing to almost nothing, so it spans several chunks
    # and a resume from the middle means something.
    rng = random.Random(7)
    de, en = [], []
    for i in range(N_LINES):
        pad = rng.randbytes(120).hex()
        de.append(f"Satz {i}: Das Parlament stimmt dem Antrag {i} zu. Füße, Grüße. {pad}")
        en.append(f"Sentence {i}: Parliament approves motion {i}. {pad}")
    de.append("")  # Europarl has empty lines; they must survive and stay aligned
    en.append("")
    return de, en


def _tarball(path: Path, *, prefix: str = "", members: tuple[str, ...] = ("de", "en"),
             extra: dict[str, bytes] | None = None) -> bytes:
    de, en = _corpus()
    files = {europarl.DE_NAME: de, europarl.EN_NAME: en}
    with tarfile.open(path, "w:gz") as tf:
        if prefix:
            info = tarfile.TarInfo(prefix.rstrip("/"))
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
        readme = b"Europarl v7 fixture\n"
        for name, data in [("README", readme), *((extra or {}).items())]:
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for lang in members:
            name = europarl.DE_NAME if lang == "de" else europarl.EN_NAME
            data = "".join(line + "\n" for line in files[name]).encode()
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path.read_bytes()


@dataclass
class Server:
    """What the handler serves and what it saw; tests set the knobs before the first request."""

    payload: bytes
    url: str = ""
    cut_after: int | None = None      # on the first request, send only this many body bytes, then close
    ignore_range: bool = False        # answer 200 with the whole file even when asked for a range
    watch: Path | None = None         # a file whose size is recorded at each request (the client's .part)
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def bytes_served(self) -> int:
        return sum(r["sent"] for r in self.requests)


def _handler(state: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so closing after a short body is an ordinary EOF
        protocol_version = "HTTP/1.0"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            payload, size = state.payload, len(state.payload)
            rng = self.headers.get("Range")
            on_disk = state.watch.stat().st_size if state.watch and state.watch.exists() else None
            with state.lock:
                first = not state.requests
                record = {"range": rng, "on_disk": on_disk, "status": None, "sent": 0}
                state.requests.append(record)
            start = 0
            if rng and not state.ignore_range:
                start = int(re.fullmatch(r"bytes=(\d+)-", rng)[1])
                if start >= size:
                    record["status"] = 416
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                record["status"] = 206
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            else:
                record["status"] = 200
                self.send_response(200)
            body = payload[start:]
            self.send_header("Content-Type", "application/x-gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if first and state.cut_after is not None:
                body = body[:state.cut_after]
            self.wfile.write(body)
            record["sent"] = len(body)

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every request thread: nothing outlives the test


@pytest.fixture
def serve():
    """serve(payload) -> Server: a live HTTP server on a free port, shut down after the test."""
    running: list[tuple[_Server, threading.Thread]] = []

    def start(payload: bytes) -> Server:
        state = Server(payload)
        srv = _Server(("127.0.0.1", 0), _handler(state))
        thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        running.append((srv, thread))
        state.url = f"http://127.0.0.1:{srv.server_address[1]}/europarl/v7/de-en.tgz"
        return state

    yield start
    for srv, thread in running:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()


def _fast(**kw):
    return {"chunk_size": 8192, "timeout": 5, "backoff": 0, **kw}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("prefix", ["", "de-en/"], ids=["top-level", "under-dir"])
def test_download_verifies_and_extracts(tmp_path, serve, prefix):
    payload = _tarball(tmp_path / "fixture.tgz", prefix=prefix)
    assert len(payload) > 100_000  # several chunks
    srv = serve(payload)
    dest = tmp_path / "dl" / "de-en.tgz"

    got = europarl.download(srv.url, dest, _sha(payload), **_fast())

    assert got == dest and dest.read_bytes() == payload
    assert not europarl._part_path(dest).exists()
    assert europarl._read_sidecar(dest) == _sha(payload)
    assert [r["range"] for r in srv.requests] == [None]

    de_path, en_path = europarl.extract(dest, tmp_path / "out")
    assert (de_path.name, en_path.name) == (europarl.DE_NAME, europarl.EN_NAME)
    de_lines = de_path.read_text(encoding="utf-8").split("\n")[:-1]
    en_lines = en_path.read_text(encoding="utf-8").split("\n")[:-1]
    assert len(de_lines) == len(en_lines) == N_LINES + 1
    assert (de_lines, en_lines) == _corpus()
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_interrupted_download_resumes_with_range(tmp_path, serve):
    payload = _tarball(tmp_path / "fixture.tgz")
    srv = serve(payload)
    dest = tmp_path / "de-en.tgz"
    srv.cut_after = len(payload) // 3
    srv.watch = europarl._part_path(dest)

    europarl.download(srv.url, dest, _sha(payload), **_fast())

    assert dest.read_bytes() == payload
    first, second = srv.requests
    assert first["range"] is None and first["sent"] == len(payload) // 3
    assert second["on_disk"] == len(payload) // 3
    assert second["range"] == f"bytes={second['on_disk']}-" and second["status"] == 206
    assert srv.bytes_served == len(payload)  # one file's worth, not two


def test_existing_part_file_is_resumed(tmp_path, serve):
    payload = _tarball(tmp_path / "fixture.tgz")
    srv = serve(payload)
    dest = tmp_path / "de-en.tgz"
    k = len(payload) - 12_345
    europarl._part_path(dest).write_bytes(payload[:k])

    europarl.download(srv.url, dest, _sha(payload), **_fast())

    assert dest.read_bytes() == payload
    # The server thread counts what it sent after the client has read it all: give it a moment to finish.
    deadline = time.monotonic() + 5
    while srv.requests and srv.requests[-1]["sent"] != 12_345 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(r["range"], r["status"], r["sent"]) for r in srv.requests] == [(f"bytes={k}-", 206, 12_345)]


def test_complete_part_file_gets_416_and_is_verified(tmp_path, serve):
    payload = _tarball(tmp_path / "fixture.tgz")
    srv = serve(payload)
    dest = tmp_path / "de-en.tgz"
    europarl._part_path(dest).write_bytes(payload)

    europarl.download(srv.url, dest, _sha(payload), **_fast())

    assert dest.read_bytes() == payload
    assert [(r["status"], r["sent"]) for r in srv.requests] == [(416, 0)]


def test_server_ignoring_range_restarts_from_zero(tmp_path, serve):
    payload = _tarball(tmp_path / "fixture.tgz")
    srv = serve(payload)
    srv.ignore_range = True
    dest = tmp_path / "de-en.tgz"
    # Junk in the .part: appending the 200 body to it would fail the hash, so this proves the restart.
    europarl._part_path(dest).write_bytes(b"\0" * 5000)

    europarl.download(srv.url, dest, _sha(payload), **_fast())

    assert dest.read_bytes() == payload
    assert [(r["range"], r["status"]) for r in srv.requests] == [("bytes=5000-", 200)]


def test_wrong_checksum_raises_and_leaves_nothing_at_dest(tmp_path, serve):
    payload = _tarball(tmp_path / "fixture.tgz")
    srv = serve(payload)
    dest = tmp_path / "de-en.tgz"
    wrong = "0" * 64

    with pytest.raises(europarl.ChecksumError) as excinfo:
        europarl.download(srv.url, dest, wrong, **_fast())

    msg = str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)
    assert srv.url in msg and str(dest) in msg and wrong in msg and _sha(payload) in msg
    assert not dest.exists() and not europarl._part_path(dest).exists()
    bad = tmp_path / "de-en.tgz.bad"
    assert bad.read_bytes() == payload and str(bad) in msg


def test_no_pinned_hash_warns_and_records_it(tmp_path, serve):
    payload = _tarball(tmp_path / "fixture.tgz")
    srv = serve(payload)
    dest = tmp_path / "de-en.tgz"

    with pytest.warns(UserWarning, match=_sha(payload)):
        europarl.download(srv.url, dest, **_fast())

    assert dest.read_bytes() == payload
    assert (tmp_path / "de-en.tgz.sha256").read_text() == f"{_sha(payload)}  de-en.tgz\n"


def test_second_fetch_downloads_nothing(tmp_path, serve, capsys):
    payload = _tarball(tmp_path / "fixture.tgz")
    srv = serve(payload)
    cache = tmp_path / "cache"

    de1, en1 = europarl.fetch(cache, url=srv.url, sha256=_sha(payload))
    n = len(srv.requests)
    assert n == 1
    de2, en2 = europarl.fetch(cache, url=srv.url, sha256=_sha(payload))

    assert len(srv.requests) == n  # zero new requests
    assert (de1, en1) == (de2, en2) == (cache / europarl.DE_NAME, cache / europarl.EN_NAME)
    assert de1.read_text(encoding="utf-8").count("\n") == en1.read_text(encoding="utf-8").count("\n")

    # The CLI on the same cache: prints the two paths, still without a request.
    assert europarl.main(["--cache-dir", str(cache), "--url", srv.url, "--sha256", _sha(payload)]) == 0
    assert capsys.readouterr().out.split() == [str(de1), str(en1)]
    assert len(srv.requests) == n


def test_missing_member_names_the_tarball(tmp_path):
    tgz = tmp_path / "de-en.tgz"
    _tarball(tgz, members=("de",))

    with pytest.raises(europarl.ArchiveError, match=re.escape(str(tgz))) as excinfo:
        europarl.extract(tgz, tmp_path / "out")
    assert europarl.EN_NAME in str(excinfo.value)


def test_path_traversal_is_refused(tmp_path):
    tgz = tmp_path / "evil.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        for name in (f"../{europarl.DE_NAME}", europarl.EN_NAME):
            info = tarfile.TarInfo(name)
            info.size = 3
            tf.addfile(info, io.BytesIO(b"x\n\n"))

    with pytest.raises(europarl.ArchiveError, match="refusing"):
        europarl.extract(tgz, tmp_path / "out" / "inner")
    assert not (tmp_path / "out" / europarl.DE_NAME).exists()

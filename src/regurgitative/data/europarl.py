"""Download and unpack the Europarl v7 German-English release (the study's real corpus).

Standard library only, so the cache can be filled before any project dependency is installed:

    python -m regurgitative.data.europarl --cache-dir data/downloads/europarl

The download resumes an interrupted ``.part`` file with an HTTP Range request and is checked against a
pinned hash before it is renamed into place; a file that fails the check is moved aside, never used.

Why not a library: pooch 1.9 restarts an interrupted download from byte zero (it streams into a temporary file that
it deletes on failure and sends no Range header; read in its source), and DVC's HTTP download did not resume either
when last discussed (treeverse/dvc#2136); this archive is 198 MB from one academic server.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path, PurePosixPath
from typing import Sequence

URL = "https://www.statmt.org/europarl/v7/de-en.tgz"

# No published SHA-256 of this file could be found (TensorFlow Datasets and Hugging Face pin only the WMT13
# bundle training-parallel-europarl-v7.tgz, a different file). So SHA256 stays None and fetch() falls back
# to the SHA-1 and size that GluonNLP pins for the same file (served over http):
#   dmlc/gluon-nlp, scripts/datasets/url_checksums/wmt.txt:
#   "http://www.statmt.org/europarl/v7/de-en.tgz 53bb5408d22977c89284bd755717e6bbb5b12bc5 197785698"
# Once the file has been fetched, copy the SHA-256 from de-en.tgz.sha256 (written next to it) into here.
SHA256: str | None = None
SHA1 = "53bb5408d22977c89284bd755717e6bbb5b12bc5"
SIZE = 197_785_698

DE_NAME = "europarl-v7.de-en.de"
EN_NAME = "europarl-v7.de-en.en"

_USER_AGENT = "regurgitative-europarl/1.0 (+python urllib)"
_EXTRACT_STAMP = ".extracted-from"  # fetch() keeps the tarball's sha256 here to skip re-extraction


class ChecksumError(ValueError):
    """The downloaded file's hash differs from the pinned one; the message says which file and both hashes."""


class ArchiveError(ValueError):
    """The tarball lacks an expected member or holds one that would escape the output directory."""


class _Incomplete(OSError):
    """The server closed the body before Content-Length bytes arrived (urllib returns b'' rather than raising)."""


# --------------------------------------------------------------------------------------------- helpers


def _part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _sidecar(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _hash_file(path: Path, chunk_size: int = 1 << 20) -> tuple[str, str]:
    h256, h1 = hashlib.sha256(), hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h256.update(chunk)
            h1.update(chunk)
    return h256.hexdigest(), h1.hexdigest()


def _read_sidecar(dest: Path) -> str | None:
    try:
        return _sidecar(dest).read_text().split()[0].lower()
    except (OSError, IndexError):
        return None


def _write_sidecar(dest: Path, sha256: str) -> None:
    # sha256sum format, so `sha256sum -c de-en.tgz.sha256` works from that directory.
    tmp = _sidecar(dest).with_name(_sidecar(dest).name + ".tmp")
    tmp.write_text(f"{sha256}  {dest.name}\n")
    os.replace(tmp, _sidecar(dest))


def _move_aside(path: Path) -> Path:
    bad = path.with_name(path.name.removesuffix(".part") + ".bad")
    os.replace(path, bad)
    return bad


def _mismatch(url: str, dest: Path, expected: dict[str, str], actual: dict[str, str]) -> str | None:
    """Describe the first pinned hash that does not match, or return None if all match."""
    for algo, want in expected.items():
        if want.lower() != actual[algo]:
            return (f"{algo} mismatch for {url}\n  file:     {dest}\n"
                    f"  expected: {want.lower()}\n  actual:   {actual[algo]}")
    return None


def _total_size(resp: http.client.HTTPResponse, offset: int) -> int | None:
    if resp.status == 206:
        m = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
        if m and m[3] != "*":
            return int(m[3])
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


class _Progress:
    """Prints bytes and rate to stderr, at most once a second, so logs stay short on a 190 MB file."""

    def __init__(self, label: str) -> None:
        self.label, self.total = label, None
        self.start = self.last = time.monotonic()
        self.session_bytes = 0

    def update(self, done: int, n: int, *, final: bool = False) -> None:
        self.session_bytes += n
        now = time.monotonic()
        if not final and now - self.last < 1.0:
            return
        self.last = now
        rate = self.session_bytes / max(now - self.start, 1e-9) / 1e6
        of = f" / {self.total / 1e6:.1f} MB ({100 * done / self.total:.0f}%)" if self.total else " MB"
        print(f"{self.label}: {done / 1e6:.1f}{of}, {rate:.1f} MB/s", file=sys.stderr, flush=True)


# -------------------------------------------------------------------------------------------- download


def download(url: str, dest: str | os.PathLike, sha256: str | None = None, *, sha1: str | None = None,
             chunk_size: int = 1 << 20, timeout: float = 60, retries: int = 3, backoff: float = 1.0) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming it if present, and verify it.

    ``sha256`` (and/or ``sha1``) pin the file: a mismatch raises ChecksumError and moves the file to
    ``<dest>.bad``. With neither, the computed sha256 is written to ``<dest>.sha256`` with a warning, and later
    calls check the file against that record. A ``dest`` that already verifies is returned without any request.
    ``retries`` counts consecutive failed attempts (an attempt that made progress resets it); waits grow as
    ``backoff * 2**n`` seconds.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_path(dest)
    expected = {k: v for k, v in (("sha256", sha256), ("sha1", sha1)) if v}

    if dest.exists():
        h256, h1 = _hash_file(dest)
        recorded = _read_sidecar(dest)
        pins = expected or ({"sha256": recorded} if recorded else {})
        problem = _mismatch(url, dest, pins, {"sha256": h256, "sha1": h1})
        if problem is None:
            if not pins:
                warnings.warn(f"{dest} exists but no hash is pinned for {url}; trusting it and recording "
                              f"sha256 {h256} in {_sidecar(dest)}", stacklevel=2)
            _write_sidecar(dest, h256)
            return dest
        # A stale or corrupted dest is kept for inspection and downloaded afresh.
        bad = _move_aside(dest)
        print(f"{problem}\n  moved to {bad}; downloading again", file=sys.stderr)

    h256_obj, h1_obj, hashed = hashlib.sha256(), hashlib.sha1(), 0
    failures = 0
    label = PurePosixPath(urllib.parse.urlparse(url).path).name or str(dest.name)
    progress = _Progress(label)  # one for all attempts, so the once-a-second limit holds across retries
    while True:
        offset = part.stat().st_size if part.exists() else 0
        if hashed != offset:
            # Resuming a .part written by an earlier attempt or run: hash its bytes from disk first.
            h256_obj, h1_obj, hashed = hashlib.sha256(), hashlib.sha1(), 0
            if offset:
                with open(part, "rb") as f:
                    while chunk := f.read(chunk_size):
                        h256_obj.update(chunk)
                        h1_obj.update(chunk)
                        hashed += len(chunk)
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        progressed = False
        try:
            try:
                resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
            except urllib.error.HTTPError as e:
                if e.code == 416 and offset:
                    # Nothing left past `offset`: the .part is complete unless the server says the file is
                    # a different size, in which case the .part is junk and we start over.
                    m = re.search(r"/(\d+)", e.headers.get("Content-Range", "") if e.headers else "")
                    e.close()
                    if m and int(m[1]) != offset:
                        part.unlink()
                        hashed = -1
                        continue
                    break
                if e.code < 500 and e.code not in (408, 429):
                    raise
                raise ConnectionError(f"HTTP {e.code} from {url}") from e
            with resp:
                if resp.status == 206:
                    m = re.match(r"bytes\s+(\d+)-", resp.headers.get("Content-Range", ""))
                    if not m or int(m[1]) != offset:
                        part.unlink(missing_ok=True)
                        raise ConnectionError(f"{url}: asked for bytes {offset}-, got "
                                              f"{resp.headers.get('Content-Range')!r}; restarting")
                    mode = "ab"
                else:
                    if offset:
                        print(f"{label}: server ignored the Range request; restarting from byte 0",
                              file=sys.stderr)
                    offset, mode = 0, "wb"
                    h256_obj, h1_obj, hashed = hashlib.sha256(), hashlib.sha1(), 0
                total = progress.total = _total_size(resp, offset)
                done = offset
                with open(part, mode) as f:
                    while chunk := resp.read(chunk_size):
                        f.write(chunk)
                        h256_obj.update(chunk)
                        h1_obj.update(chunk)
                        done += len(chunk)
                        hashed = done
                        progressed = True
                        progress.update(done, len(chunk))
                if total is not None and done < total:
                    raise _Incomplete(f"connection closed at byte {done} of {total}")
                progress.update(done, 0, final=True)
            break
        except urllib.error.HTTPError:
            raise  # a 4xx left over from above: retrying will not help
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError,
                _Incomplete) as e:
            failures = 0 if progressed else failures + 1
            if failures > retries:
                raise ConnectionError(f"giving up on {url} after {failures} failed attempts "
                                      f"({part} keeps {part.stat().st_size if part.exists() else 0} bytes "
                                      f"for the next run): {e}") from e
            wait = backoff * 2 ** max(failures - 1, 0)
            print(f"{label}: {e}; retrying in {wait:.0f}s", file=sys.stderr)
            time.sleep(wait)

    if hashed != part.stat().st_size:  # 416 path: the hashes may not cover the file yet
        actual256, actual1 = _hash_file(part, chunk_size)
    else:
        actual256, actual1 = h256_obj.hexdigest(), h1_obj.hexdigest()
    problem = _mismatch(url, dest, expected, {"sha256": actual256, "sha1": actual1})
    if problem:
        bad = _move_aside(part)
        raise ChecksumError(f"{problem}\n  the download was moved to {bad}; it was not used")
    if not expected:
        warnings.warn(f"no hash pinned for {url}; recording sha256 {actual256} in {_sidecar(dest)} "
                      f"(pin it to make the download verifiable)", stacklevel=2)
    os.replace(part, dest)
    _write_sidecar(dest, actual256)
    return dest


# --------------------------------------------------------------------------------------------- extract


def extract(tgz: str | os.PathLike, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Extract the German and English sides from ``tgz`` into ``out_dir``; return (de_path, en_path).

    Members are found by basename, wherever they sit in the archive; only regular files with a relative,
    ``..``-free path are accepted. Each output is written to a temporary name and renamed, so an existing
    output is always complete.
    """
    tgz, out_dir = Path(tgz), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {DE_NAME: out_dir / DE_NAME, EN_NAME: out_dir / EN_NAME}
    found: set[str] = set()
    try:
        tf = tarfile.open(tgz, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise ArchiveError(f"cannot open {tgz} as a tar archive: {e}") from e
    with tf:
        for member in tf:
            base = PurePosixPath(member.name).name
            if base not in wanted:
                continue
            parts = PurePosixPath(member.name).parts
            if member.name.startswith(("/", "\\")) or ".." in parts or not member.isfile():
                raise ArchiveError(f"{tgz}: refusing member {member.name!r} (absolute path, '..', "
                                   f"or not a regular file)")
            if base in found:
                raise ArchiveError(f"{tgz}: more than one member named {base}")
            src = tf.extractfile(member)
            assert src is not None  # isfile() above
            tmp = wanted[base].with_name(base + ".tmp")
            with src, open(tmp, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
            os.replace(tmp, wanted[base])
            found.add(base)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ArchiveError(f"{tgz} does not contain {', '.join(missing)} "
                           f"(is it the Europarl v7 de-en release?)")
    return wanted[DE_NAME], wanted[EN_NAME]


# ----------------------------------------------------------------------------------------------- fetch


def fetch(cache_dir: str | os.PathLike, url: str = URL, sha256: str | None = SHA256) -> tuple[Path, Path]:
    """Download (if needed) and extract (if needed) the release into ``cache_dir``; return (de, en).

    For the default URL with no sha256 given, the GluonNLP SHA-1 pin (see SHA1 above) is checked instead.
    """
    cache_dir = Path(cache_dir)
    name = PurePosixPath(urllib.parse.urlparse(url).path).name or "de-en.tgz"
    sha1 = SHA1 if sha256 is None and url == URL else None
    tgz = download(url, cache_dir / name, sha256, sha1=sha1)
    tgz_sha256 = _read_sidecar(tgz)
    de, en = cache_dir / DE_NAME, cache_dir / EN_NAME
    stamp = cache_dir / _EXTRACT_STAMP
    try:
        up_to_date = stamp.read_text().strip() == tgz_sha256 and de.exists() and en.exists()
    except OSError:
        up_to_date = False
    if not up_to_date:
        de, en = extract(tgz, cache_dir)
        stamp.write_text(f"{tgz_sha256}\n")
    return de, en


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: fetch the release and print the German and English paths, one a line."""
    p = argparse.ArgumentParser(prog="python -m regurgitative.data.europarl", description=__doc__.splitlines()[0])
    p.add_argument("--cache-dir", required=True, type=Path, help="where the tarball and the two files go")
    p.add_argument("--url", default=URL, help=f"release tarball (default: {URL})")
    p.add_argument("--sha256", default=SHA256, help="expected sha256 of the tarball (default: the pinned one)")
    args = p.parse_args(argv)
    try:
        de, en = fetch(args.cache_dir, url=args.url, sha256=args.sha256)
    except (ChecksumError, ArchiveError, ConnectionError, urllib.error.URLError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(de)
    print(en)
    return 0


if __name__ == "__main__":
    sys.exit(main())

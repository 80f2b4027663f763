"""Shared by the tests: where the repository and its venv are, and a server on loopback."""
from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def prepared_corpus(read: int, pool: int, valid: int, test: int) -> None:
    """In the working directory: the first `read` pairs of the embedded corpus, cleaned, split into `pool`, `valid`
    and `test` pairs as `prepare` writes them, the real condition's pool, and the shared tokenizer (what a
    student's stages need, without running prepare on the whole corpus)."""
    from regurgitative.paths import PREPARED_DIR, condition_pool
    from regurgitative.data import corpus
    from regurgitative.students import tokenizer
    pairs = corpus.read_tsv(REPO / "data/corpus/libreoffice-help.de-en.tsv.xz")
    pairs, _ = corpus.clean(itertools.islice(pairs, read), corpus.CleaningRules(min_words=3))
    PREPARED_DIR.mkdir(parents=True)
    condition_pool("real").parent.mkdir(parents=True)
    for name, part in (("pool", pairs[:pool]), ("valid", pairs[pool:pool + valid]),
                       ("test", pairs[pool + valid:pool + valid + test])):
        for lang in ("de", "en"):
            (PREPARED_DIR / f"{name}.{lang}").write_text("".join(getattr(p, lang) + "\n" for p in part))
    for lang in ("de", "en"):
        shutil.copyfile(PREPARED_DIR / f"pool.{lang}", condition_pool("real").with_suffix(f".{lang}"))
    tokenizer.main()


def sacrebleu_cli(references: Path, hypotheses: Path) -> dict[str, float]:
    """BLEU and chrF as the sacrebleu command line reports them (4 decimals)."""
    out = subprocess.run([str(BIN / "sacrebleu"), str(references), "-i", str(hypotheses), "-m", "bleu", "chrf",
                          "-w", "4"], check=True, capture_output=True, text=True).stdout
    return {r["name"]: r["score"] for r in json.loads(out)}


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port) in a daemon thread, started and stopped by a `with` block; its
    OpenAI-style base URL in `base_url`. A subclass sets up its own state, then calls this __init__, and gives
    `_handler()`: the BaseHTTPRequestHandler class that answers."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handler(self) -> type:
        raise NotImplementedError

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""The LLM response cache: every answered request, kept so that nothing is ever paid for twice.

One JSON line per answer, appended and flushed to disk before the answer is used, so a generation killed at
any moment (SIGKILL included) resumes where it stopped: answered requests are read back, the one in flight is
asked again. A line cut short by the kill is the last one in the file; loading drops it (and truncates the
file back to the last whole line) instead of failing. Nothing is ever rewritten or removed otherwise.

The key is a hash of everything that determines an answer: which model (its weights' hash for a local
model, the endpoint and model name for a remote one), for a local model also the llama.cpp build, the way it
decodes (mode and batch size) and the server's settings that can change an answer (translation.local_key_fields),
the endpoint kind, the exact prompt or messages and every decoding setting (llama.cpp's repeat_penalty
included). A remote model's key holds nothing of the machine, and never the API key. Change any of them and
the request is new; change nothing and it is free (docs/generators.md lists the fields).
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any


def request_key(request: dict[str, Any]) -> str:
    """sha256 of the request in canonical JSON (sorted keys, no whitespace): equal requests, equal keys."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Append-only JSON-lines store of {key, request, response}; thread-safe."""

    def __init__(self, path: Path | str, fsync: bool = True):
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._answers: dict[str, dict[str, Any]] = {}
        self.dropped_partial_line = False
        self._load()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = 0
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            if end < 0:  # the last line never got its newline: cut by a kill mid-write
                break
            try:
                record = json.loads(data[start:end])
                self._answers[record["key"]] = record["response"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                if data.find(b"\n", end + 1) >= 0:  # only the last line may be damaged
                    line = data.count(b"\n", 0, start) + 1
                    raise ValueError(f"{self.path}:{line}: damaged cache entry before the end of the file "
                                     f"({e}); the cache is append-only, so this is not a crash leftover") from None
                break
            good_end = start = end + 1
        if good_end < len(data):
            self.dropped_partial_line = True
            with self.path.open("r+b") as f:
                f.truncate(good_end)

    def __len__(self) -> int:
        return len(self._answers)

    def __contains__(self, key: str) -> bool:
        return key in self._answers

    def get(self, key: str) -> dict[str, Any] | None:
        return self._answers.get(key)

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        line = json.dumps({"key": key, "request": request, "response": response}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8") + b"\n"
        with self._lock:
            if key in self._answers:
                return
            self._file.write(line)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
            self._answers[key] = response

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

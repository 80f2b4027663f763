"""Where the pipeline's times go: logs/times/<stage>.json, git-ignored and no stage's output, never a DVC-tracked
file. A rerun that reproduces a result writes byte-identical outputs, so `dvc status` and `git diff dvc.lock`
after it tell an identical result from a different one; wall times, throughput and fairseq's timestamped logs
would differ on every run. A stage records its times here (and prints them) instead of in its metrics."""
from __future__ import annotations

import json
from pathlib import Path

from regurgitative.paths import LOGS_DIR

TIMES_DIR = LOGS_DIR / "times"


def record(stage: str, **times: float | int | None) -> Path:
    """Write a stage's times (seconds, throughput: whatever varies from run to run) to logs/times/<stage>.json,
    replacing the last run's, and print them to stdout; return the file. `stage` is the DVC stage's name
    (`train@real-1000-1`)."""
    values = {k: round(v, 3) if isinstance(v, float) else v for k, v in times.items()}
    path = TIMES_DIR / f"{stage}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stage": stage, **values}, indent=2) + "\n", encoding="utf-8")
    print(f"times of {stage} ({path}): " + ", ".join(f"{k} {v}" for k, v in values.items()), flush=True)
    return path


def read(stage: str) -> dict:
    """The times a stage recorded last (logs/times/<stage>.json); an error naming the file when it never ran here."""
    path = TIMES_DIR / f"{stage}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no times of stage {stage} on this machine (times are logs, not outputs: "
                                f"`dvc pull` brings none; run the stage here)")
    return json.loads(path.read_text(encoding="utf-8"))

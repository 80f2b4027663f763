"""GPU-hours a profile asks for, EXTRAPOLATED: no GPU has run this pipeline yet. Prints; asserts nothing.

    python benchmarks/gpu_hours.py [--profile paper] [--tokens-per-second 40000]

It renders the profile's DAG (dvc.yaml with the profile's params, in a temporary directory), counts the stages of
each kind, and bounds each fairseq training by its schedule: max-update updates of at most max-tokens tokens
(patience stops the small sizes much earlier, so this is an upper bound). The throughput is an ASSUMPTION, not a
measurement: 40,000 target tokens per second per GPU is what fairseq's maintainer reports per V100 for a larger
transformer in fp16 (160k wps on 4 V100, facebookresearch/fairseq#940); measure yours (fairseq logs `wps`) and
pass it. Decoding, generation and the LLM fine-tunes are not bounded here (their GPU times are not measured).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from regurgitative import profile  # noqa: E402

FAIRSEQ_TRAININGS = ("teacher", "train", "train-mitigation", "recursion-start", "recursion")


def stage_counts(name: str) -> Counter:
    """Stages per kind (the name before '@') in the profile's rendered DAG."""
    from dvc.repo import Repo

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        (root / "params.yaml").write_text(yaml.safe_dump(profile.render(name), sort_keys=False), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
        with Repo(str(root)) as repo:
            return Counter(s.name.split("@", 1)[0] for s in repo.index.stages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="paper")
    ap.add_argument("--tokens-per-second", type=float, default=40_000,
                    help="ASSUMED training throughput per GPU (default 40,000: see the module's docstring)")
    a = ap.parse_args()
    params = profile.render(a.profile)
    args = params["train"]["fairseq_args"]
    per_run = float(args["max-update"]) * float(args["max-tokens"])
    counts = stage_counts(a.profile)
    hours = per_run / a.tokens_per_second / 3600
    print(f"profile {a.profile}: {sum(counts.values())} stages; a fairseq training is at most "
          f"{int(args['max-update']):,} updates x {int(args['max-tokens']):,} tokens = {per_run / 1e6:,.0f}M tokens, "
          f"{hours:.2f} GPU-hours at an assumed {a.tokens_per_second:,.0f} tokens/s (EXTRAPOLATED)")
    print("| stage kind | stages | GPU-hours at most (extrapolated) |")
    print("|---|---|---|")
    total = 0.0
    for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        bound = n * hours if kind in FAIRSEQ_TRAININGS else None
        total += bound or 0.0
        print(f"| {kind} | {n} | {f'{bound:,.0f}' if bound is not None else 'not bounded (not measured)'} |")
    print(f"| fairseq trainings in all | {sum(counts[k] for k in FAIRSEQ_TRAININGS)} | {total:,.0f} |")


if __name__ == "__main__":
    main()

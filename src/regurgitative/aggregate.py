"""Stage `aggregate`: one table over every run of the grid in params (grid.*) plus the baselines:
results/bleu.csv, the single input of the figures."""
from __future__ import annotations

import json

import pandas as pd

from .baseline import BASELINES
from .config import RESULTS_DIR, load_params, param, run_metrics

TABLE = RESULTS_DIR / "bleu.csv"
SUMMARY = RESULTS_DIR / "summary.json"
COLUMNS = ["kind", "condition", "train_size", "seed", "bleu", "chrf", "bleu_brevity_penalty", "segments",
           "best_epoch", "epochs", "updates", "best_valid_loss", "train_seconds", "target_words_per_second",
           "generate_seconds", "bleu_signature", "chrf_signature"]


def collect(params: dict) -> pd.DataFrame:
    rows = []
    # Only the runs of the current grid: metrics of runs dropped from params may still lie in results/runs.
    for condition in param(params, "grid.conditions"):
        for train_size in param(params, "grid.train_sizes"):
            for seed in param(params, "grid.seeds"):
                path = run_metrics(condition, train_size, seed)
                if not path.exists():
                    raise FileNotFoundError(f"{path}: missing metrics of run {condition}-{train_size}-{seed}; "
                                            f"run `dvc repro` first")
                rows.append({"kind": "student", **json.loads(path.read_text())})
    for name, scores in json.loads(BASELINES.read_text()).items():
        rows.append({"kind": "baseline", "condition": name, **scores})
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def summarize(table: pd.DataFrame) -> dict:
    """Mean over seeds per condition and size, for `dvc metrics show`."""
    students = table[table.kind == "student"]
    summary: dict = {}
    for (condition, size), g in students.groupby(["condition", "train_size"]):
        summary.setdefault(condition, {})[str(int(size))] = {
            "bleu_mean": round(float(g.bleu.mean()), 2), "chrf_mean": round(float(g.chrf.mean()), 2),
            "bleu_std": round(float(g.bleu.std(ddof=1)), 2) if len(g) > 1 else None, "seeds": len(g)}
    for _, row in table[table.kind == "baseline"].iterrows():
        summary[f"baseline_{row.condition}"] = {"bleu": round(float(row.bleu), 2), "chrf": round(float(row.chrf), 2)}
    return summary


def main() -> None:
    table = collect(load_params())
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TABLE, index=False)
    SUMMARY.write_text(json.dumps(summarize(table), indent=2) + "\n")
    print(table.drop(columns=["bleu_signature", "chrf_signature"]).to_string(index=False))


if __name__ == "__main__":
    main()

"""Stage `aggregate`: one table over every run of the grid in params (grid.*) plus the baselines,
results/bleu.csv; one table of the generators' own quality (E2), results/generators.csv; and the means over
seeds for `dvc metrics show`, results/summary.json. Comparisons and verdicts are the significance stage's.
No times: they differ on every run and live in logs/times/ (regurgitative.timing), not in the results."""
from __future__ import annotations

import json

import pandas as pd

from regurgitative.cleaning import FLAGS
from regurgitative.conditions import describe
from regurgitative.params import generator_names, grid_runs, load_params
from regurgitative.paths import BASELINES, BLEU_TABLE as TABLE, GENERATORS_TABLE, RESULTS_DIR, SUMMARY, run_metrics

GENERATOR_COLUMNS = ["generator", "kind", "model", "api", "test_bleu", "test_chrf", "flagged_rate",
                     *(f"flag_{f}" for f in FLAGS), "pool_sentences", "condition_pairs", "left_out", "requests",
                     "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "test_bleu_signature"]
COLUMNS = ["kind", "experiment", "condition", "generator", "score", "generated_share", "train_size", "seed", "bleu", "chrf", "bleu_brevity_penalty", "segments",
           "best_epoch", "epochs", "updates", "best_valid_loss", "bleu_signature", "chrf_signature"]


def collect(params: dict) -> pd.DataFrame:
    rows = []
    # Only the runs of the current grid: metrics of runs dropped from params may still lie in results/runs.
    for condition, train_size, seed in grid_runs(params):
        path = run_metrics(condition, train_size, seed)
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing metrics of run {condition}-{train_size}-{seed}; "
                                    f"run `dvc repro` first")
        rows.append({"kind": "student", **describe(params, condition), **json.loads(path.read_text())})
    for name, scores in json.loads(BASELINES.read_text()).items():
        rows.append({"kind": "baseline", "condition": name, **scores})
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def collect_generators(params: dict) -> pd.DataFrame:
    rows = []
    for name in generator_names(params):
        m = json.loads((RESULTS_DIR / "generators" / f"{name}.json").read_text())
        rows.append({**m, **{f"flag_{f}": r for f, r in m["flag_rates"].items()}})
    return pd.DataFrame(rows).reindex(columns=GENERATOR_COLUMNS)


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
    params = load_params()
    table = collect(params)
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TABLE, index=False)
    generators = collect_generators(params)
    generators.to_csv(GENERATORS_TABLE, index=False)
    print(generators[["generator", "test_bleu", "test_chrf", "flagged_rate"]].to_string(index=False))
    SUMMARY.write_text(json.dumps(summarize(table), indent=2) + "\n")
    print(table.drop(columns=["bleu_signature", "chrf_signature"]).to_string(index=False))


if __name__ == "__main__":
    main()

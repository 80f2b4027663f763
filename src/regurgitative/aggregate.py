"""Stage `aggregate`: one table over every run of the grid in params (grid.*) plus the baselines,
results/bleu.csv; one table of the generators' own quality (E2), results/generators.csv; and the summary
for `dvc metrics show`, with the study's "fraction of real data" result. The tables are the only input of
the figures."""
from __future__ import annotations

import json

import pandas as pd

from .cleaning import FLAGS
from .config import (BASELINES, GENERATORS_TABLE, RESULTS_DIR, SUMMARY, describe, generator_names, grid_runs, load_params,
                     run_metrics)
from .config import BLEU_TABLE as TABLE

GENERATOR_COLUMNS = ["generator", "kind", "model", "api", "test_bleu", "test_chrf", "flagged_rate",
                     *(f"flag_{f}" for f in FLAGS), "pool_sentences", "condition_pairs", "left_out", "requests",
                     "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "wall_seconds",
                     "sentences_per_second", "test_bleu_signature"]
COLUMNS = ["kind", "experiment", "condition", "generator", "score", "generated_share", "train_size", "seed", "bleu", "chrf", "bleu_brevity_penalty", "segments",
           "best_epoch", "epochs", "updates", "best_valid_loss", "train_seconds", "target_words_per_second",
           "generate_seconds", "bleu_signature", "chrf_signature"]


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


def fraction_of_real(table: pd.DataFrame) -> dict:
    """For each regurgitative condition: the smallest real training size whose mean BLEU beats the
    condition's mean BLEU at its largest size (None: no real size does)."""
    means = table[table.experiment == "E1"].groupby(["condition", "train_size"]).bleu.mean()
    if "real" not in means.index.get_level_values(0):
        return {}
    real = means["real"].sort_index()
    out = {}
    for condition in means.index.get_level_values(0).unique():
        if condition == "real":
            continue
        sizes = means[condition].sort_index()
        largest, score = int(sizes.index[-1]), float(sizes.iloc[-1])
        beating = [int(n) for n, b in real.items() if b > score]
        out[condition] = {"largest_size": largest, "bleu_at_largest": round(score, 2),
                          "smallest_real_size_that_beats_it": beating[0] if beating else None,
                          "fraction": round(beating[0] / largest, 3) if beating else None}
    return out


def mitigation_effects(table: pd.DataFrame) -> dict:
    """For each mitigation condition and size (means over seeds): its BLEU, the unmitigated generator's (for a
    mix: the best of its generators), real's, and the share of the real-vs-generator gap it closes."""
    students = table[table.kind == "student"]
    means = students.groupby(["condition", "train_size"]).bleu.mean()
    out: dict = {}
    for (condition, size), g in students[students.experiment != "E1"].groupby(["condition", "train_size"]):
        parts = g.generator.iloc[0].split("+")
        if ("real", size) not in means or not all((p, size) in means for p in parts):
            continue  # the counterparts were not trained at this size
        base = max(means[(p, size)] for p in parts)
        real, bleu = means[("real", size)], means[(condition, size)]
        out.setdefault(condition, {})[str(int(size))] = {
            "experiment": g.experiment.iloc[0], "bleu_mean": round(float(bleu), 2),
            "unmitigated_bleu": round(float(base), 2), "real_bleu": round(float(real), 2),
            # only meaningful where there is a gap: real above the unmitigated generator
            "gap_closed": round(float((bleu - base) / (real - base)), 3) if real > base else None}
    return out


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
    summary["fraction_of_real"] = fraction_of_real(table)
    summary["mitigations"] = mitigation_effects(table)
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

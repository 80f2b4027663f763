"""Stage `significance`: paired bootstrap resampling (sacreBLEU's, 1,000 resamples) of test-set BLEU between runs
that differ only in their training English, at the same training size and seed:
- every regurgitative or mitigation condition against `real`;
- every mitigation against its unmitigated generator (a mix: against each generator it mixes).

Writes results/significance.csv: condition, train_size, seed, against, bleu, against_bleu, p_value (the
probability of a difference at least this large by chance, sacreBLEU's paired bootstrap estimate).
"""
from __future__ import annotations

import pandas as pd
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from .config import SIGNIFICANCE_TABLE as TABLE
from .config import PREPARED_DIR, describe, eval_dir, grid_runs, load_params, param
from .scoring import read_lines

LEVEL = 0.05


def comparisons(params: dict) -> dict[tuple[str, int, int], list[str]]:
    """For each baseline run (condition, size, seed): the conditions compared against it."""
    runs = set(grid_runs(params))
    pairs: dict[tuple[str, int, int], list[str]] = {}
    for condition, size, seed in sorted(runs):
        if condition == "real":
            continue
        against = ["real"]
        d = describe(params, condition)
        if d["experiment"] != "E1":
            against += d["generator"].split("+")
        for a in against:
            if (a, size, seed) in runs:
                pairs.setdefault((a, size, seed), []).append(condition)
    return pairs


def hypotheses(condition: str, size: int, seed: int) -> list[str]:
    return read_lines(eval_dir(condition, size, seed) / "hypotheses.en")


def main() -> None:
    params = load_params()
    references = read_lines(PREPARED_DIR / "test.en")
    samples = int(param(params, "significance.resamples"))
    rows = []
    for (against, size, seed), conditions in comparisons(params).items():
        systems = [(against, hypotheses(against, size, seed))]
        systems += [(c, hypotheses(c, size, seed)) for c in conditions]
        _, scores = PairedTest(systems, {"BLEU": BLEU()}, [references], test_type="bs", n_samples=samples)()
        baseline, *results = scores["BLEU"]
        for condition, r in zip(conditions, results):
            rows.append({"condition": condition, "train_size": size, "seed": seed, "against": against,
                         "bleu": round(r.score, 4), "against_bleu": round(baseline.score, 4),
                         "p_value": r.p_value, "significant": r.p_value < LEVEL})
    table = pd.DataFrame(rows, columns=["condition", "train_size", "seed", "against", "bleu", "against_bleu",
                                        "p_value", "significant"])
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TABLE, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()

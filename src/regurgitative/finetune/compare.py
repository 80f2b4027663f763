"""Stage `finetune-compare`: E10's table, intervals and tests (the wiring of every claim, analysis/verdicts.py).

Reads results/finetune/ (the finetune-base and finetune@ stages' metrics and test translations) and writes
  results/finetune.csv               one row per fine-tuned model and one per base-model prompt (zero-/few-shot)
  results/finetune-intervals.csv     per condition and size: seed-mean BLEU and chrF, their 95 % intervals (t
                                     over seeds; over test sentences only for one run, `interval: sentences`),
                                     the floors and whether it learned (analysis/verdicts.py)
  results/finetune-significance.csv  the comparisons, Holm-corrected within each family:
      E10-real          real against each regurgitative condition at the same size (the same German sentences
                        and the same recipe; only the English differs): the paper's headline
      E10-fraction      real at the smallest size against each regurgitative condition at the largest size (the
                        paper's "a fraction of real data beats the largest regurgitative size")
      E10-fine-tuning   every condition at every size against the base model's few-shot prompt (did fine-tuning
                        teach anything the prompt did not)

Roles: `real`; `self` (the base model's own translations, finetune.base); `other` (any other generator's). A
group learned by verdicts.py's rule (params.yaml significance.learned), with the BLEU and chrF of copying the
German source on the same test subset (computed here: E10 tests on the first finetune.test_size sentences).
The base model's prompts and, with one seed, every fine-tune are one run per point: their intervals and
comparisons count the test sentences only, and say so. With finetune.conditions empty (E10 switched off) the
tables are written empty.
"""
from __future__ import annotations

import json

import pandas as pd

from regurgitative.analysis import verdicts
from regurgitative.finetune.runs import BASE, INTERVALS, RESULTS, SHOTS, SIGNIFICANCE, TABLE, role as role_of, run_name
from regurgitative.params import load_params, param
from regurgitative.paths import LANGS, PREPARED_DIR
from regurgitative.scoring import score
from regurgitative.text import read_lines

SRC, TGT = LANGS
SIG_COLUMNS = ["family", "a", "a_size", "b", "b_size", "a_bleu", "b_bleu", "difference", "ci_low", "ci_high",
               "interval", "p_value", "a_learned", "b_learned", "p_holm", "outcome"]
INTERVAL_COLUMNS = ["condition", "role", "size", *verdicts.INTERVAL_COLUMNS]


def role(params: dict, condition: str) -> str:
    return role_of(param(params, "finetune.base"), condition)


def table(params: dict) -> pd.DataFrame:
    cfg = param(params, "finetune")
    rows = []
    if not cfg["conditions"]:
        return pd.DataFrame(columns=["condition", "role", "size", "seed", "bleu", "chrf", "final_train_loss",
                                     "test_sentences"])
    base = json.loads((RESULTS / BASE / "metrics.json").read_text())
    for shots in SHOTS:
        rows.append({"condition": f"base {shots}", "role": "base", "size": 0, "seed": None,
                     "bleu": base[shots]["bleu"], "chrf": base[shots]["chrf"],
                     "test_sentences": base["test_sentences"]})
    for condition in cfg["conditions"]:
        for size in cfg["sizes"]:
            for seed in cfg["seeds"]:
                m = json.loads((RESULTS / run_name(condition, int(size), int(seed)) / "metrics.json").read_text())
                rows.append({"condition": condition, "role": role(params, condition), "size": int(size),
                             "seed": int(seed), "bleu": m["bleu"], "chrf": m["chrf"],
                             "final_train_loss": m.get("final_train_loss"),
                             "test_sentences": m["test_sentences"], "cost_usd": m.get("cost_usd")})
    return pd.DataFrame(rows)


def statistics(params: dict, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = param(params, "finetune")
    n = int(runs.test_sentences.iloc[0])
    de, references = read_lines(PREPARED_DIR / f"test.{SRC}")[:n], read_lines(PREPARED_DIR / f"test.{TGT}")[:n]
    copy_source = score(de, references)  # copying the German, on E10's own test subset

    def hypotheses(folder, name):
        return read_lines(RESULTS / folder / f"{name}.{TGT}")

    groups = {(f"base {s}", 0): [hypotheses(BASE, s)] for s in SHOTS}
    for condition in cfg["conditions"]:
        for size in map(int, cfg["sizes"]):
            groups[(condition, size)] = [hypotheses(run_name(condition, size, int(seed)), "test")
                                         for seed in cfg["seeds"]]
    sizes = sorted(map(int, cfg["sizes"]))
    regurgitative = [c for c in cfg["conditions"] if c != "real"]
    comparisons = []
    if "real" in cfg["conditions"]:
        comparisons += [("E10-real", ("real", s), (c, s)) for c in regurgitative for s in sizes]
        if len(sizes) > 1:
            comparisons += [("E10-fraction", ("real", sizes[0]), (c, sizes[-1])) for c in regurgitative]
    comparisons += [("E10-fine-tuning", (c, s), ("base few-shot", 0)) for c in cfg["conditions"] for s in sizes]
    intervals, sig = verdicts.judge(references, groups, [{"family": f, "a": a, "b": b} for f, a, b in comparisons],
                                    copy_source, param(params, "significance"), key=("condition", "size"),
                                    side="size")
    intervals["role"] = ["base" if size == 0 else role(params, c) for c, size in zip(intervals.condition,
                                                                                     intervals["size"])]
    return intervals[INTERVAL_COLUMNS], sig[SIG_COLUMNS]


def main() -> None:
    params = load_params()
    runs = table(params)
    intervals, sig = statistics(params, runs) if len(runs) else (pd.DataFrame(), pd.DataFrame(columns=SIG_COLUMNS))
    runs.round(6).to_csv(TABLE, index=False)
    intervals.round(6).to_csv(INTERVALS, index=False)
    sig.round(6).to_csv(SIGNIFICANCE, index=False)
    if len(runs):
        print(intervals.round(2).to_string(index=False))
        print(sig.drop(columns=["a_learned", "b_learned"]).round(4).to_string(index=False))
    else:
        print("E10 is switched off (finetune.conditions is empty): empty tables written")


if __name__ == "__main__":
    main()

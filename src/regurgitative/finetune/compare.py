"""Stage `finetune-compare`: E10's table, intervals and tests (the statistics of every other claim, stats.py).

Reads results/finetune/ (the finetune-base and finetune@ stages' metrics and test translations) and writes
  results/finetune.csv               one row per fine-tuned model and one per base-model prompt (zero-/few-shot)
  results/finetune-intervals.csv     per condition and size: seed-mean BLEU, its 95 % interval (two-level
                                     bootstrap over test sentences and seeds), whether it learned
  results/finetune-significance.csv  the comparisons, Holm-corrected within each family:
      E10-real          real against each regurgitative condition at the same size (the same German sentences
                        and the same recipe; only the English differs): the paper's headline
      E10-fraction      real at the smallest size against each regurgitative condition at the largest size (the
                        paper's "a fraction of real data beats the largest regurgitative size")
      E10-fine-tuning   every condition at every size against the base model's few-shot prompt (did fine-tuning
                        teach anything the prompt did not)

Roles: `real`; `self` (the base model's own translations, finetune.base); `other` (any other generator's). A
group learned when the lower end of its interval exceeds significance.learned_factor x the BLEU of copying the
German source on the same test sentences. With finetune.conditions empty (E10 switched off) the tables are
written empty.
"""
from __future__ import annotations

import json

import pandas as pd

from regurgitative.analysis import stats
from regurgitative.config import LANGS, PREPARED_DIR, load_params, param
from regurgitative.finetune.runs import BASE, INTERVALS, RESULTS, SHOTS, SIGNIFICANCE, TABLE, run_name
from regurgitative.finetune.runs import role as role_of
from regurgitative.analysis.scoring import read_lines, score

SRC, TGT = LANGS
SIG_COLUMNS = ["family", "a", "a_size", "b", "b_size", "a_bleu", "b_bleu", "difference", "ci_low", "ci_high",
               "p_value", "a_learned", "b_learned", "p_holm", "outcome"]


def role(params: dict, condition: str) -> str:
    return role_of(param(params, "finetune.base"), condition)


def table(params: dict) -> pd.DataFrame:
    cfg = param(params, "finetune")
    rows = []
    if not cfg["conditions"]:
        return pd.DataFrame(columns=["condition", "role", "size", "seed", "bleu", "chrf", "tokens_per_second",
                                     "final_train_loss", "seconds", "test_sentences"])
    base = json.loads((RESULTS / BASE / "metrics.json").read_text())
    for shots in SHOTS:
        rows.append({"condition": f"base {shots}", "role": "base", "size": 0, "seed": None,
                     "bleu": base[shots]["bleu"], "chrf": base[shots]["chrf"], "seconds": base["seconds"],
                     "test_sentences": base["test_sentences"]})
    for condition in cfg["conditions"]:
        for size in cfg["sizes"]:
            for seed in cfg["seeds"]:
                m = json.loads((RESULTS / run_name(condition, int(size), int(seed)) / "metrics.json").read_text())
                rows.append({"condition": condition, "role": role(params, condition), "size": int(size),
                             "seed": int(seed), "bleu": m["bleu"], "chrf": m["chrf"],
                             "tokens_per_second": m.get("tokens_per_second"),
                             "final_train_loss": m.get("final_train_loss"), "seconds": m["seconds"],
                             "test_sentences": m["test_sentences"], "cost_usd": m.get("cost_usd")})
    return pd.DataFrame(rows)


def statistics(params: dict, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg, sig_cfg = param(params, "finetune"), param(params, "significance")
    n = int(runs.test_sentences.iloc[0])
    de, references = read_lines(PREPARED_DIR / f"test.{SRC}")[:n], read_lines(PREPARED_DIR / f"test.{TGT}")[:n]
    floor = float(sig_cfg["learned_factor"]) * score(de, references)["bleu"]
    sampler = stats.Resampler(sentences=n, resamples=int(sig_cfg["resamples"]), seed=int(sig_cfg["seed"]))

    def hypotheses(folder, name):
        return stats.sentence_stats(read_lines(RESULTS / folder / f"{name}.{TGT}"), references)

    groups = {(f"base {s}", 0): sampler.group([hypotheses(BASE, s)]) for s in SHOTS}
    for condition in cfg["conditions"]:
        for size in map(int, cfg["sizes"]):
            groups[(condition, size)] = sampler.group(
                [hypotheses(run_name(condition, size, int(seed)), "test") for seed in cfg["seeds"]])
    interval_rows = []
    for (condition, size), g in groups.items():
        low, high = g.interval()
        interval_rows.append({"condition": condition, "role": "base" if size == 0 else role(params, condition),
                              "size": size, "seeds": len(g.per_seed), "bleu": g.bleu, "ci_low": low, "ci_high": high,
                              "floor": floor, "learned": stats.learned(g, floor)})
    sizes = sorted(map(int, cfg["sizes"]))
    regurgitative = [c for c in cfg["conditions"] if c != "real"]
    comparisons = []
    if "real" in cfg["conditions"]:
        comparisons += [("E10-real", ("real", s), (c, s)) for c in regurgitative for s in sizes]
        if len(sizes) > 1:
            comparisons += [("E10-fraction", ("real", sizes[0]), (c, sizes[-1])) for c in regurgitative]
    comparisons += [("E10-fine-tuning", (c, s), ("base few-shot", 0)) for c in cfg["conditions"] for s in sizes]
    rows = []
    for family, a, b in comparisons:
        ga, gb = groups[a], groups[b]
        rows.append({"family": family, "a": a[0], "a_size": a[1], "b": b[0], "b_size": b[1], "a_bleu": ga.bleu,
                     "b_bleu": gb.bleu, **stats.compare(ga, gb), "a_learned": stats.learned(ga, floor),
                     "b_learned": stats.learned(gb, floor)})
    sig = pd.DataFrame(rows, columns=SIG_COLUMNS[:-2])
    return pd.DataFrame(interval_rows), stats.decide(sig, float(sig_cfg["alpha"]), float(sig_cfg["equivalence_margin"]))


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

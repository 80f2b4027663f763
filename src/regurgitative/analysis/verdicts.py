"""The one wiring from students' translations to decided comparisons, for every stage that compares students
(`significance`, `finetune-compare`, `collapse`; a library, no stage of its own). Each stage says only what is
its own: which groups, which comparisons, which columns.

    judge(references, groups, comparisons, copy_source, significance) -> (intervals, decided comparisons)

- groups: {key: [hypotheses of each seed's student]}, every group on the same test sentences (`references`);
- each group's seed-mean BLEU and chrF with their 95 % intervals (stats.py: t over seeds; the test sentences
  for a one-run group, marked `interval: sentences`), and whether it learned to translate (below);
- comparisons: rows with family, a, b (keys of groups) and any columns of the stage's own, tested
  (stats.compare), Holm-corrected within each family and decided (stats.decide).

"Learned to translate", a rule fixed before the runs (params.yaml significance.learned, each number with its
reason): the lower ends of the group's 95 % intervals clear both floors,
    BLEU floor = max(bleu_absolute, bleu_copy_factor x copy-source BLEU)
    chrF floor = max(chrf_absolute, copy-source chrF + chrf_copy_margin)
where copy-source is copying the German source as the English (results/baselines.json; E10 copies on its own
test subset). The absolute levels hold where copying scores near nothing (a test set whose English shares few
words with its German), the copy terms where copying scores well (shared names, numbers, UI strings). A
difference decides only when the group ahead learned; equivalence and undecided need both (stats.outcome).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from regurgitative.analysis import stats

INTERVAL_COLUMNS = ["seeds", "bleu", "ci_low", "ci_high", "chrf", "chrf_ci_low", "chrf_ci_high", "bleu_floor",
                    "chrf_floor", "interval", "learned"]
RESULT_COLUMNS = ["a_bleu", "b_bleu", "difference", "ci_low", "ci_high", "interval", "p_value", "a_learned",
                  "b_learned", "a_seeds", "b_seeds", "p_holm", "outcome"]


@dataclass(frozen=True)
class Rule:
    """params.yaml significance.learned."""
    bleu_absolute: float
    bleu_copy_factor: float
    chrf_absolute: float
    chrf_copy_margin: float

    @classmethod
    def from_params(cls, significance: dict) -> "Rule":
        learned = significance.get("learned") or {}
        names = [f.name for f in fields(cls)]
        if missing := [n for n in names if n not in learned]:
            raise KeyError(f"params.yaml: significance.learned lacks {', '.join(missing)} (the learned rule)")
        return cls(**{n: float(learned[n]) for n in names})

    def floors(self, copy_source: dict) -> tuple[float, float]:
        """(BLEU floor, chrF floor) given the copy-source scores {"bleu": ..., "chrf": ...}."""
        return (max(self.bleu_absolute, self.bleu_copy_factor * float(copy_source["bleu"])),
                max(self.chrf_absolute, float(copy_source["chrf"]) + self.chrf_copy_margin))


def learned(group: stats.Group, bleu_floor: float, chrf_floor: float) -> bool:
    """The lower ends of the group's 95 % BLEU and chrF intervals both above their floors."""
    return group.interval("bleu")[0] > bleu_floor and group.interval("chrf")[0] > chrf_floor


def score(references: list[str], groups: dict, resamples: int, seed: int) -> dict:
    """{key: stats.Group} from {key: [hypotheses per seed]}, all resampled with the same test sentences."""
    sampler = stats.Resampler(sentences=len(references), resamples=resamples, seed=seed)
    statistics = stats.Statistics(references)
    out = {}
    for k, by_seed in groups.items():
        bleu, chrf = zip(*(statistics(h) for h in by_seed))
        out[k] = sampler.group(list(bleu), list(chrf))
    return out


def judge(references: list[str], groups: dict, comparisons: list[dict], copy_source: dict, significance: dict,
          key: tuple[str, str] = ("condition", "size"), side: str = "size") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(intervals, decided comparisons). Group keys are pairs (e.g. condition and size); the intervals table
    names them `key`, the comparisons a, a_<side>, b, b_<side>. A comparison's other columns are kept, after
    those four."""
    scored = score(references, groups, int(significance["resamples"]), int(significance["seed"]))
    bleu_floor, chrf_floor = Rule.from_params(significance).floors(copy_source)
    is_learned = {k: learned(g, bleu_floor, chrf_floor) for k, g in scored.items()}
    intervals = []
    for (first, second), g in scored.items():
        (low, high), (chrf_low, chrf_high) = g.interval("bleu"), g.interval("chrf")
        intervals.append(dict(zip([*key, *INTERVAL_COLUMNS], [
            first, second, g.seeds, g.bleu, low, high, g.chrf, chrf_low, chrf_high, bleu_floor, chrf_floor, g.kind,
            is_learned[(first, second)]])))
    rows, own = [], []
    for c in comparisons:
        a, b = c["a"], c["b"]
        if a not in scored or b not in scored:
            raise KeyError(f"comparison {c.get('family')}: {a} vs {b}, but no group {a if a not in scored else b}")
        extra = {k: v for k, v in c.items() if k not in ("family", "a", "b")}
        own += [k for k in extra if k not in own]
        ga, gb = scored[a], scored[b]
        rows.append({"family": c["family"], "a": a[0], f"a_{side}": a[1], "b": b[0], f"b_{side}": b[1], **extra,
                     "a_bleu": ga.bleu, "b_bleu": gb.bleu, **stats.compare(ga, gb), "a_learned": is_learned[a],
                     "b_learned": is_learned[b], "a_seeds": ga.seeds, "b_seeds": gb.seeds})
    columns = ["family", "a", f"a_{side}", "b", f"b_{side}", *own, *RESULT_COLUMNS[:-2]]
    decided = stats.decide(pd.DataFrame(rows, columns=columns), float(significance["alpha"]),
                           float(significance["equivalence_margin"]))
    return pd.DataFrame(intervals, columns=[*key, *INTERVAL_COLUMNS]), decided

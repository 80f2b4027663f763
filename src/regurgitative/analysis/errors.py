"""Stage `errors` (E3): how often the English a student trains on is wrong, for real data and for each
generator, over the same German sentences (the first n pool sentences that every generator translated:
generated.common_pool_size).

Indicators, per sentence (0 or 1), and whether they can fire on a human reference:

| indicator         | fires when                                                         | on real data |
| low_quality       | sentence chrF against the human reference < errors.low_chrf        | no: the reference is the real English itself |
| empty             | nothing left after cleaning                                        | yes (0 by construction: `prepare` drops empty sides) |
| untranslated      | the German handed back (same text, ignoring case and punctuation)  | yes (0 by construction: `prepare` drops identical sides) |
| copied_source     | sentence chrF against the German source >= errors.copied_chrf      | yes: names, code and UI strings shared by both sides |
| wrong_language    | the language identifier is sure it is not English (4+ words)      | yes: a human reference left partly in German |
| length_outlier    | English/German characters outside errors.length_ratio (truncation, run-on) | yes: free or abridged human translations |
| repetition        | a word or letter loop (cleaning.is_repetition)                     | yes, rarely |
| prompt_leftovers  | cleaning had to strip a prompt echo, a label or a few-shot continuation | no: human references were never prompts |
| any               | any of the above except low_quality (so real and generated compare like with like) | yes |

Rates come with Wilson 95 % intervals (statsmodels; right at 0 and 1, where a percentile bootstrap collapses
to [0, 0]). Each generator's rate is tested against real data's on the same German sentences with McNemar's
exact test (paired: only sentences where the two disagree count), Holm-corrected over the generators for each
indicator; `outcome` is more / fewer (than real, significant at significance.alpha after correction) or
undecided. Writes results/errors.csv (one row per condition and indicator; the only input of its figure and
table) and data/errors/<condition>.jsonl (the indicators of every sentence, for inspection).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from regurgitative.analysis import stats
from regurgitative.analysis.indicators import ANY, INDICATORS, NOT_ON_REAL, indicators
from regurgitative.generators.generated import common_pool_size, items_for, pool_size
from regurgitative.params import generator_names, load_params, param
from regurgitative.paths import ERRORS_TABLE as TABLE, PREPARED_DIR
from regurgitative.text import read_lines

DETAILS = Path("data/errors")
COLUMNS = ["condition", "indicator", "applies", "n", "rate", "ci_low", "ci_high", "p_vs_real", "p_holm_vs_real",
           "outcome"]


def condition_rows(name: str, per_sentence: list[dict]) -> list[dict]:
    rows = []
    for k in (*INDICATORS, ANY):
        values = [r[k] for r in per_sentence if r[k] is not None]
        if not values:
            rows.append({"condition": name, "indicator": k, "applies": False, "n": len(per_sentence)})
            continue
        count, n = int(sum(values)), len(values)
        low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
        rows.append({"condition": name, "indicator": k, "applies": True, "n": n, "rate": count / n,
                     "ci_low": float(low), "ci_high": float(high)})
    return rows


def against_real(real: list[dict], generated: list[dict], k: str) -> float:
    """McNemar's exact test of one indicator, generated vs real English of the same German sentences."""
    both = [(g[k], r[k]) for g, r in zip(generated, real) if g[k] is not None and r[k] is not None]
    table = [[sum(g and r for g, r in both), sum(not g and r for g, r in both)],
             [sum(g and not r for g, r in both), sum(not g and not r for g, r in both)]]
    return float(mcnemar(table, exact=True).pvalue)


def measure(params: dict) -> pd.DataFrame:
    cfg = param(params, "errors")
    # Every generator on the same German sentences: the first n that all of them translated.
    n = common_pool_size(params, generator_names(params))
    german = read_lines(PREPARED_DIR / "pool.de")[:n]
    human = read_lines(PREPARED_DIR / "pool.en")[:n]
    per_condition = {"real": [indicators(en, de, None, [], cfg) for de, en in zip(german, human)]}
    all_german = read_lines(PREPARED_DIR / "pool.de")
    for g in generator_names(params):
        # its whole pool checked against the German it must translate (the same sentences, or an error naming the
        # first difference), then the first n that every generator translated
        pool = items_for(g, "pool", all_german[:pool_size(params, g)])[:n]
        per_condition[g] = [indicators(it["text"], it["de"], ref, it.get("stripped") or [], cfg)
                            for it, ref in zip(pool, human)]
    DETAILS.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, per_sentence in per_condition.items():
        with (DETAILS / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for i, r in enumerate(per_sentence):
                f.write(json.dumps({"index": i, **r}) + "\n")
        rows += condition_rows(name, per_sentence)
    table = pd.DataFrame(rows, columns=[*COLUMNS[:7]])
    alpha = float(param(params, "significance.alpha"))
    for k in (*INDICATORS, ANY):
        tested = [g for g in per_condition if g != "real" and k not in NOT_ON_REAL]
        p = {g: against_real(per_condition["real"], per_condition[g], k) for g in tested}
        for g, adjusted in zip(tested, stats.holm(list(p.values()))):
            at = (table.condition == g) & (table.indicator == k)
            rate, real_rate = table.loc[at, "rate"].iloc[0], table.loc[(table.condition == "real") & (table.indicator == k), "rate"].iloc[0]
            table.loc[at, ["p_vs_real", "p_holm_vs_real"]] = p[g], adjusted
            table.loc[at, "outcome"] = ("undecided" if adjusted >= alpha else "more" if rate > real_rate else "fewer")
    return table.reindex(columns=COLUMNS)


def main() -> None:
    table = measure(load_params())
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TABLE, index=False)
    wide = table.pivot(index="condition", columns="indicator", values="rate")[[*INDICATORS, ANY]]
    print((100 * wide).round(1).to_string())


if __name__ == "__main__":
    main()

"""Stage `errors` (E3): how often the English a student trains on is wrong, for real data and for each
generator, over the same German sentences (the generators' translated pool, the first generate.pool_size).

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

Rates come with percentile-bootstrap confidence intervals over sentences. Writes results/errors.csv (one row
per condition and indicator; the only input of its figure and table) and data/errors/<condition>.jsonl (the
indicators of every sentence, for inspection).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sacrebleu.metrics import CHRF

from . import cleaning
from .config import ERRORS_TABLE as TABLE
from .config import PREPARED_DIR, generator_names, load_params, param
from .generated import items_for
from .scoring import read_lines

DETAILS = Path("data/errors")
INDICATORS = ("low_quality", "empty", "untranslated", "copied_source", "wrong_language", "length_outlier",
              "repetition", "prompt_leftovers")
NOT_ON_REAL = ("low_quality", "prompt_leftovers")  # undefined for a human reference (see the table above)
ANY = "any"


def indicators(english: str, german: str, reference: str | None, stripped: list[str], cfg: dict) -> dict:
    """The indicators of one sentence; `reference` None means the English is the human reference itself."""
    chrf = CHRF()
    flags = cleaning.flag(english, german)
    lo, hi = cfg["length_ratio"]
    ratio = len(english) / max(1, len(german))
    row = {
        "low_quality": None if reference is None else
        int(chrf.sentence_score(english, [reference]).score < cfg["low_chrf"]),
        "empty": int("empty" in flags),
        "untranslated": int("untranslated" in flags),
        "copied_source": int(bool(english) and chrf.sentence_score(english, [german]).score >= cfg["copied_chrf"]),
        "wrong_language": int("wrong_language" in flags),
        "length_outlier": int(not lo <= ratio <= hi),
        "repetition": int("repetition" in flags),
        "prompt_leftovers": None if reference is None else
        int(any(s in ("prompt_echo", "label", "pattern_continuation", "preamble") for s in stripped)),
    }
    row[ANY] = int(any(row[k] for k in INDICATORS if k != "low_quality" and row[k] is not None))
    return row


def bootstrap_ci(values: np.ndarray, resamples: int, seed: int, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (resampling sentences with replacement)."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    return float(np.quantile(means, (1 - level) / 2)), float(np.quantile(means, (1 + level) / 2))


def condition_rows(name: str, per_sentence: list[dict], cfg: dict) -> list[dict]:
    rows = []
    for k in (*INDICATORS, ANY):
        values = [r[k] for r in per_sentence if r[k] is not None]
        if not values:
            rows.append({"condition": name, "indicator": k, "applies": False, "n": len(per_sentence)})
            continue
        v = np.asarray(values, dtype=float)
        low, high = bootstrap_ci(v, int(cfg["bootstrap"]), int(cfg["seed"]))
        rows.append({"condition": name, "indicator": k, "applies": True, "n": len(v), "rate": v.mean(),
                     "ci_low": low, "ci_high": high})
    return rows


def measure(params: dict) -> pd.DataFrame:
    cfg = param(params, "errors")
    n = int(param(params, "generate.pool_size"))
    german = read_lines(PREPARED_DIR / "pool.de")[:n]
    human = read_lines(PREPARED_DIR / "pool.en")[:n]
    per_condition = {"real": [indicators(en, de, None, [], cfg) for de, en in zip(german, human)]}
    for g in generator_names(params):
        pool = items_for(g, "pool", german)  # the same German sentences, or an error naming the first difference
        per_condition[g] = [indicators(it["text"], it["de"], ref, it.get("stripped") or [], cfg)
                            for it, ref in zip(pool, human)]
    DETAILS.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, per_sentence in per_condition.items():
        with (DETAILS / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for i, r in enumerate(per_sentence):
                f.write(json.dumps({"index": i, **r}) + "\n")
        rows += condition_rows(name, per_sentence, cfg)
    return pd.DataFrame(rows, columns=["condition", "indicator", "applies", "n", "rate", "ci_low", "ci_high"])


def main() -> None:
    table = measure(load_params())
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(TABLE, index=False)
    wide = table.pivot(index="condition", columns="indicator", values="rate")[[*INDICATORS, ANY]]
    print((100 * wide).round(1).to_string())


if __name__ == "__main__":
    main()

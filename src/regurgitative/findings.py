"""The write-up's numbers and findings, computed from the results tables (part of the `figures` stage): nothing
in paper/main.tex is typed by hand.

- paper/tables/results.tex: `\\result{key}` for every number the text may quote (e.g. `\\result{bleu/real/2000}`,
  `\\result{err/gemma3-270m/any}`); an unknown key prints `??` instead of failing the build.
- paper/tables/findings.tex: one paragraph per claim of the study, its numbers filled in and its verdict
  (holds / does not hold here) decided by the same comparison the paragraph states.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd


def _mean(students: pd.DataFrame) -> pd.Series:
    return students.groupby(["condition", "train_size"]).bleu.mean()


def numbers(bleu: pd.DataFrame, generators: pd.DataFrame, errors: pd.DataFrame, diversity: pd.DataFrame,
            quality: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    students = bleu[bleu.kind == "student"]
    for (condition, size), g in students.groupby(["condition", "train_size"]):
        out[f"bleu/{condition}/{int(size)}"] = f"{g.bleu.mean():.1f}"
        out[f"seeds/{condition}/{int(size)}"] = str(len(g))
    for _, b in bleu[bleu.kind == "baseline"].iterrows():
        out[f"baseline/{b.condition}"] = f"{b.bleu:.1f}"
    for _, g in generators.iterrows():
        out[f"gen-bleu/{g.generator}"] = f"{g.test_bleu:.1f}"
        out[f"gen-chrf/{g.generator}"] = f"{g.test_chrf:.1f}"
    for _, e in errors[errors.applies.astype(bool)].iterrows():
        out[f"err/{e.condition}/{e.indicator}"] = f"{100 * e.rate:.1f}"
    size = diversity.groupby("train_size").condition.nunique().idxmax()
    for _, d in diversity[diversity.train_size == size].iterrows():
        for m in ("mtld", "mattr", "ttr", "distinct_2", "vocabulary", "hapax_share"):
            out[f"div/{d.condition}/{m}"] = f"{d[m]:.0f}" if m in ("mtld", "vocabulary") else f"{d[m]:.3f}"
    for g, q in quality.items():
        out[f"auc/{g}"] = f"{q['detector_auc']:.2f}"
    out["size/largest"] = f"{int(students[students.experiment == 'E1'].train_size.max()):,}"
    return out


def compare(tests: pd.DataFrame, better: bool) -> tuple[int, int]:
    """Of paired bootstrap tests (rows of results/significance.csv), how many are significant in one direction (the
    condition better than `against`, or worse), and how many there are."""
    direction = tests.bleu > tests.against_bleu if better else tests.bleu < tests.against_bleu
    return int((tests.significant.astype(bool) & direction).sum()), len(tests)


def claims(bleu: pd.DataFrame, generator_table: pd.DataFrame, errors: pd.DataFrame, diversity: pd.DataFrame,
           summary: dict, significance: pd.DataFrame) -> list[str]:
    """Each claim of the study as a paragraph: what was compared, the numbers, and whether it holds here."""
    students = bleu[bleu.kind == "student"]
    e1 = students[students.experiment == "E1"]
    means = _mean(e1)
    largest = int(e1.train_size.max())
    generators = [c for c in e1.condition.unique() if c != "real"]
    real = means[("real", largest)]
    paras = []

    worse = [g for g in generators if means[(g, largest)] < real]
    paras.append(
        f"\\paragraph{{Claim 1: regurgitative training is worse ({'holds' if len(worse) == len(generators) else 'does not hold for every generator'}).}} "
        f"At {largest:,} training pairs, real data reaches {real:.1f} BLEU; "
        + "; ".join(f"{g} {means[(g, largest)]:.1f}" for g in generators) + ".")

    frac = summary.get("fraction_of_real", {})
    beaten = [g for g, f in frac.items() if f["fraction"] is not None and f["fraction"] < 1]
    paras.append(
        f"\\paragraph{{Claim 2: a fraction of real data beats more generated data ({'holds for ' + ', '.join(beaten) if beaten else 'not shown at these sizes'}).}} "
        + "; ".join(f"{g}: its {f['largest_size']:,}-pair student ({means[(g, f['largest_size'])]:.1f} BLEU) is beaten by real data at "
                    + (f"{f['smallest_real_size_that_beats_it']:,} pairs (a fraction of {f['fraction']:.2f})"
                       if f["fraction"] is not None else "no size of the grid")
                    for g, f in frac.items()) + ".")

    quality = generator_table.set_index("generator").test_bleu
    ranked = sorted((g for g in generators if g in quality.index), key=lambda g: quality[g])
    if len(ranked) >= 2:
        low, high = ranked[0], ranked[-1]
        both = all(means[(g, largest)] < real for g in (low, high))
        paras.append(
            f"\\paragraph{{Claim 3: the loss appears for a low- and a high-performance generator ({'holds' if both else 'does not hold'}).}} "
            f"The weakest generator, {low} ({quality[low]:.1f} BLEU on the test set itself), gives students of "
            f"{means[(low, largest)]:.1f} BLEU; the strongest, {high} ({quality[high]:.1f}), {means[(high, largest)]:.1f}; "
            f"real data {real:.1f} (at {largest:,} pairs).")

    indicators = errors.set_index(["condition", "indicator"])

    def rate(c: str, k: str, column: str = "rate") -> float:
        if (c, k) not in indicators.index or not bool(indicators.loc[(c, k), "applies"]):
            return float("nan")
        return float(indicators.loc[(c, k), column])

    def interval(c: str) -> tuple[float, float]:
        return rate(c, "any", "ci_low"), rate(c, "any", "ci_high")

    # More errors: the generator's 95 % bootstrap interval lies wholly above real data's.
    more_errors = [g for g in generators if interval(g)[0] > interval("real")[1]]
    paras.append(
        f"\\paragraph{{Claim 4a: generated data have more errors ({'holds for ' + str(len(more_errors)) + ' of ' + str(len(generators)) + ' generators' if more_errors else 'does not hold'}).}} "
        f"Share of training sentences with at least one error indicator (low reference chrF aside), with 95\\% "
        f"bootstrap intervals: real {100 * rate('real', 'any'):.1f}\\% [{100 * interval('real')[0]:.1f}, "
        f"{100 * interval('real')[1]:.1f}]; "
        + "; ".join(f"{g} {100 * rate(g, 'any'):.1f}\\% [{100 * interval(g)[0]:.1f}, {100 * interval(g)[1]:.1f}]"
                    for g in generators)
        + ". Low quality against the human reference (sentence chrF below the threshold): "
        + "; ".join(f"{g} {100 * rate(g, 'low_quality'):.1f}\\%" for g in generators) + ".")

    size = diversity.groupby("train_size").condition.nunique().idxmax()
    d = diversity[diversity.train_size == size].set_index("condition")
    shown = [g for g in generators if g in d.index]
    by_mtld = [g for g in shown if d.loc[g, "mtld"] < d.loc["real", "mtld"]]
    by_vocabulary = [g for g in shown if d.loc[g, "vocabulary"] < d.loc["real", "vocabulary"]]
    verdict = ("holds" if len(by_mtld) == len(by_vocabulary) == len(shown)
               else "does not hold" if not by_mtld and not by_vocabulary else "in part")
    paras.append(
        f"\\paragraph{{Claim 4b: generated data are less diverse ({verdict}: {len(by_mtld)} of {len(shown)} generators by "
        f"MTLD, {len(by_vocabulary)} of {len(shown)} by vocabulary).}} "
        f"MTLD of the {int(size):,}-sentence training English: real {d.loc['real', 'mtld']:.0f}; "
        + "; ".join(f"{g} {d.loc[g, 'mtld']:.0f}" for g in shown)
        + f". Vocabulary on equal token samples: real {d.loc['real', 'vocabulary']:.0f}; "
        + "; ".join(f"{g} {d.loc[g, 'vocabulary']:.0f}" for g in shown) + ".")

    mitigations = summary.get("mitigations", {})
    if mitigations:
        lines, helped, closed = [], set(), set()
        for condition, by_size in mitigations.items():
            for n, m in by_size.items():
                tests = significance[(significance.condition == condition) & (significance.train_size == int(n))]
                better = compare(tests[tests.against != "real"], better=True)
                worse = compare(tests[tests.against == "real"], better=False)
                gap = "" if m["gap_closed"] is None else f", {100 * m['gap_closed']:.0f}\\% of the gap closed"
                lines.append(f"{condition} ({m['experiment']}, {int(n):,} pairs): {m['bleu_mean']:.1f} BLEU against "
                             f"{m['unmitigated_bleu']:.1f} unmitigated and {m['real_bleu']:.1f} real{gap}; "
                             f"significantly better than unmitigated in {better[0]} of {better[1]} tests, "
                             f"significantly worse than real in {worse[0]} of {worse[1]}")
                if better[1] and better[0] == better[1]:
                    helped.add(condition)
                    if worse[1] and worse[0] == 0:
                        closed.add(condition)
        paras.append(
            f"\\paragraph{{Claim 5: mitigations help without closing the gap ({len(helped)} of {len(mitigations)} "
            f"significantly better than unmitigated in every test; {len(closed)} of those never significantly worse "
            f"than real data).}} "
            + "; ".join(lines) + ". Tests: sacreBLEU's paired bootstrap, $p < 0.05$, one per seed and unmitigated "
            "generator (a mix has one per generator it mixes).")
    return paras


def write(bleu: pd.DataFrame, generators: pd.DataFrame, errors: pd.DataFrame, diversity: pd.DataFrame,
          summary: dict, quality: dict, significance: pd.DataFrame, tables_dir: Path) -> list[Path]:
    macros = tables_dir / "results.tex"
    body = "".join(f"\\expandafter\\def\\csname result@{k}\\endcsname{{{v}}}\n"
                   for k, v in numbers(bleu, generators, errors, diversity, quality).items())
    macros.write_text("% Generated by the figures stage from results/: do not edit.\n"
                      "\\newcommand{\\result}[1]{\\ifcsname result@#1\\endcsname\\csname result@#1\\endcsname"
                      "\\else??\\fi}\n" + body, encoding="utf-8")
    findings = tables_dir / "findings.tex"
    findings.write_text("% Generated by the figures stage from results/: do not edit.\n"
                        + "\n\n".join(claims(bleu, generators, errors, diversity, summary, significance)) + "\n", encoding="utf-8")
    return [macros, findings]

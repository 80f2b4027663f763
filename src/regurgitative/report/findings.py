"""Stage `findings`: the write-up's numbers and each claim's verdict, computed from the results tables
(results.py) and nothing else: nothing in paper/main.tex is typed by hand, and no verdict is decided here on a
point estimate. The `figures` stage draws; this one decides, and figures quotes it in the README's block.

- paper/findings/results.tex: `\\result{key}` for every number the text may quote (e.g. `\\result{bleu/real/2000}`,
  `\\result{err/gemma3-270m/any}`); an unknown key prints `??` instead of failing the build.
- paper/findings/findings.tex (and findings.md for the README): one paragraph per claim of the study. Each names
  its family of comparisons, what differs between the compared students, the seed-pooled differences with their
  95 % intervals and Holm-corrected p-values (results/significance.csv, errors.csv, diversity.csv), and a verdict:
  - holds: every comparison of the claim goes the claimed way, significantly after correction;
  - does not hold: at least one goes significantly the other way, or is equivalent (its interval within
    +-significance.equivalence_margin BLEU) where the claim says there is a difference;
  - inconclusive: anything else, in particular when the test has too little power to tell, or when no
    comparison can decide: one decides only when the group that came out ahead learned (the lower ends of its
    95 % BLEU and chrF intervals above both floors of analysis/verdicts.py's rule; equivalence needs both
    groups to have learned), so a claim whose decisive groups did not learn is inconclusive. Comparisons that
    cannot decide for want of learning are left out of a verdict, and its paragraph counts them.
  Each paragraph ends with its verdict's rule in one phrase.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from regurgitative.report import results
from regurgitative.analysis.stats import BETTER, EQUIVALENT, NOT_LEARNED, SENTENCES, UNDECIDED, WORSE

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
# Each verdict's rule, in one phrase (a comparison can decide only when its leading group learned; both, for
# equivalence).
RULE = ("Rule: holds if every comparison that can decide (its leading group learned) goes the claimed way "
        "significantly after Holm, does not hold if one goes the other way or is equivalent, inconclusive otherwise "
        "or when none can decide.")
RULE_FRACTION = ("Rule: holds if, for every generator, some smaller real size is significantly better (and learned); "
                 "does not hold if, for one, every comparison that can decide is worse or equivalent; inconclusive "
                 "otherwise.")
RULE_ERRORS = ("Rule: holds if every generator's share is significantly above real data's after Holm, does not hold "
               "if one is significantly below, inconclusive otherwise.")
RULE_DIVERSITY = ("Rule: holds if every generator's MTLD and vocabulary are significantly below real data's after "
                  "Holm, does not hold if one is significantly above, inconclusive otherwise.")
RULE_MITIGATIONS = ("Rule: holds if at least one mitigation is significantly better than its generator and every such "
                    "one is still significantly worse than real data; does not hold if one closes the gap or none "
                    "decidedly helps; inconclusive otherwise (a comparison decides only when its leading group "
                    "learned).")


def decidable(outcomes) -> list[str]:
    """The outcomes that can decide: NOT_LEARNED ones are left out of every verdict (and counted by `left_out`)."""
    return [o for o in outcomes if o != NOT_LEARNED]


def verdict(outcomes: list[str]) -> str:
    """Comparisons whose claimed direction is 'a better than b', those that can decide; none: inconclusive."""
    outcomes = decidable(outcomes)
    if not outcomes:
        return INCONCLUSIVE
    if all(o == BETTER for o in outcomes):
        return HOLDS
    if any(o in (WORSE, EQUIVALENT) for o in outcomes):
        return FAILS
    return INCONCLUSIVE


def combine(verdicts: list[str]) -> str:
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if any(v == FAILS for v in verdicts):
        return FAILS
    return INCONCLUSIVE


def left_out(outcomes) -> str:
    """' Left out of the verdict for want of learning: 2 of 6 comparisons.' or ''"""
    outcomes = list(outcomes)
    k = sum(o == NOT_LEARNED for o in outcomes)
    return f" Left out of the verdict for want of learning: {k} of {len(outcomes)} comparisons." if k else ""


def describe_row(r: pd.Series, a: str | None = None, b: str | None = None, by: str = "size") -> str:
    """'real (2,000) 6.2 vs gemma3-270m (2,000) 3.4: +2.9 [1.6, 4.2], p_Holm 0.004, significant'; with
    by="generation" (E9) each side is 'replace g2'."""
    why = {NOT_LEARNED: "not learned: the group ahead, or one of two alike, did not clear the learned floors",
           UNDECIDED: "undecided", EQUIVALENT: "equivalent", BETTER: "significant", WORSE: "significant, reversed"}
    at = {"size": lambda k: f" ({int(k):,})", "generation": lambda k: f" g{int(k)}"}[by]
    only = ", test sentences only" if getattr(r, "interval", None) == SENTENCES else ""
    return (f"{a or r.a}{at(getattr(r, f'a_{by}'))} {r.a_bleu:.1f} vs {b or r.b}{at(getattr(r, f'b_{by}'))} "
            f"{r.b_bleu:.1f}: {r.difference:+.1f} [{r.ci_low:+.1f}, {r.ci_high:+.1f}]{only}, $p_{{Holm}}$ "
            f"{r.p_holm:.3f}, {why[r.outcome]}")


def learned_rule(intervals: pd.DataFrame) -> str:
    """'the lower ends of its 95 % intervals (...) above 5.1 BLEU and 27.3 chrF, ...': the rule as applied."""
    if intervals.empty:
        return "the lower ends of its 95\\% intervals lie above both floors"
    return (f"the lower ends of its 95\\% intervals (t over its seeds; over the test sentences for a single run) "
            f"lie above {intervals.bleu_floor.iloc[0]:.1f} BLEU and {intervals.chrf_floor.iloc[0]:.1f} chrF, each "
            f"floor the larger of an absolute level and copying the German source by a margin (fixed before the "
            f"runs, with their reasons: params.yaml significance.learned)")


def numbers(bleu: pd.DataFrame, generators: pd.DataFrame, errors: pd.DataFrame, diversity: pd.DataFrame,
            quality: dict, intervals: pd.DataFrame) -> dict[str, str]:
    out: dict[str, str] = {}
    students = bleu[bleu.kind == "student"]
    for (condition, size), g in students.groupby(["condition", "train_size"]):
        out[f"bleu/{condition}/{int(size)}"] = f"{g.bleu.mean():.1f}"
        out[f"seeds/{condition}/{int(size)}"] = str(len(g))
    for _, i in intervals.iterrows():
        out[f"ci/{i.condition}/{int(i.train_size)}"] = f"[{i.ci_low:.1f}, {i.ci_high:.1f}]"
        out[f"chrf/{i.condition}/{int(i.train_size)}"] = f"{i.chrf:.1f}"
        out[f"chrf-ci/{i.condition}/{int(i.train_size)}"] = f"[{i.chrf_ci_low:.1f}, {i.chrf_ci_high:.1f}]"
    if len(intervals):
        out["floor/bleu"] = f"{intervals.bleu_floor.iloc[0]:.1f}"
        out["floor/chrf"] = f"{intervals.chrf_floor.iloc[0]:.1f}"
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
        if q.get("detector_auc") is not None:   # none without a detector split (generate.detector_size 0)
            out[f"auc/{g}"] = f"{q['detector_auc']:.2f}"
    out["size/largest"] = f"{int(students[students.experiment == 'E1'].train_size.max()):,}"
    return out


def claims(generator_table: pd.DataFrame, errors: pd.DataFrame, diversity: pd.DataFrame,
           significance: pd.DataFrame, intervals: pd.DataFrame, copy_source: dict) -> list[tuple[str, str, str]]:
    """(title, verdict, text) for each claim of the study; copy_source: copying the German's {"bleu", "chrf"}."""
    sig = significance
    e1 = sig[sig.family == "E1-generated"]
    generators = list(dict.fromkeys(e1.b))
    out = []
    learned = intervals[intervals.learned.astype(bool)]
    out.append(("Students learn", "every group" if len(learned) == len(intervals) else
                f"{len(learned)} of {len(intervals)} groups",
                f"Copying the German source scores {copy_source['bleu']:.1f} BLEU and {copy_source['chrf']:.1f} chrF; "
                f"a group of students (one condition at one size, its seeds pooled) counts as learned to translate "
                f"when {learned_rule(intervals)}. {len(learned)} of {len(intervals)} groups did"
                + ("" if len(learned) == len(intervals) else "; these did not: "
                   + ", ".join(f"{r.condition} ({int(r.train_size):,}) {r.bleu:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}] "
                               f"BLEU, {r.chrf:.1f} [{r.chrf_ci_low:.1f}, {r.chrf_ci_high:.1f}] chrF"
                               for r in intervals[~intervals.learned.astype(bool)].itertuples())
                   + ". A comparison one of these groups wins, or calls even, decides nothing") + "."))

    per_generator = {g: verdict(list(e1[e1.b == g].outcome)) for g in generators}
    out.append(("Claim 1: regurgitative training is worse than training on real data", combine(list(per_generator.values())),
                "Family E1-generated (Holm over every generator and size): real vs each generator's English for the "
                "same German sentences at the same size. "
                + "; ".join(describe_row(r) for r in e1.itertuples()) + "." + left_out(e1.outcome) + " " + RULE))

    frac = sig[sig.family == "E1-fraction"]
    per_g = []
    texts = []
    for g in generators:
        rows = frac[frac.b == g]
        if rows.empty:
            continue
        beats = rows[rows.outcome == BETTER]
        can_decide = decidable(rows.outcome)
        v = (HOLDS if len(beats) else FAILS if can_decide and all(o in (WORSE, EQUIVALENT) for o in can_decide)
             else INCONCLUSIVE)
        per_g.append(v)
        texts.append(f"{g} at {int(rows.b_size.iloc[0]):,} pairs: "
                     + (f"beaten by real data at {int(beats.a_size.min()):,} pairs (a fraction of "
                        f"{beats.a_size.min() / rows.b_size.iloc[0]:.2f})" if len(beats) else "no smaller real size beats it")
                     + " (" + "; ".join(describe_row(r) for r in rows.itertuples()) + ")")
    frac_left_out = left_out(frac.outcome)
    out.append(("Claim 2: a fraction of real data beats the largest regurgitative size", combine(per_g),
                "Family E1-fraction (Holm): real data at each smaller size vs each generator at its largest size; "
                "what differs is the English and the number of pairs. " + "; ".join(texts) + "." + frac_left_out
                + " " + RULE_FRACTION if texts else "Not tested: the grid has a single E1 size."))

    quality = generator_table.set_index("generator").test_bleu
    ranked = sorted((g for g in generators if g in quality.index), key=lambda g: quality[g])
    if len(ranked) >= 2:
        largest = int(e1.a_size.max())
        rows = e1[(e1.a_size == largest) & e1.b.isin([ranked[0], ranked[-1]])]
        out.append(("Claim 3: the loss appears for a low- and a high-performance generator", verdict(list(rows.outcome)),
                    f"From claim 1's family, at {largest:,} pairs: the weakest generator, {ranked[0]} "
                    f"({quality[ranked[0]]:.1f} BLEU on the test set itself), and the strongest, {ranked[-1]} "
                    f"({quality[ranked[-1]]:.1f}). " + "; ".join(describe_row(r) for r in rows.itertuples()) + "."
                    + left_out(rows.outcome) + " " + RULE))
    else:
        out.append(("Claim 3: the loss appears for a low- and a high-performance generator", INCONCLUSIVE,
                    f"Not tested here: E1's students learn from {len(ranked)} generator's English "
                    f"({', '.join(ranked) or 'none'}); the study profile adds a second one (profiles/study.yaml)."))

    anyerr = errors[(errors.indicator == "any") & (errors.condition != "real")]
    real_any = errors[(errors.indicator == "any") & (errors.condition == "real")].iloc[0]
    v4a = [HOLDS if o == "more" else FAILS if o == "fewer" else INCONCLUSIVE for o in anyerr.outcome]
    out.append(("Claim 4a: generated data have more errors", combine(v4a),
                "Share of training sentences with at least one error indicator (low reference chrF aside, so real and "
                "generated English compare like with like), Wilson 95\\% intervals; each generator against real data "
                "on the same German sentences by McNemar's exact test, Holm over the generators. "
                f"Real {100 * real_any.rate:.1f}\\% [{100 * real_any.ci_low:.1f}, {100 * real_any.ci_high:.1f}]; "
                + "; ".join(f"{r.condition} {100 * r.rate:.1f}\\% [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}], "
                            f"$p_{{Holm}}$ {r.p_holm_vs_real:.3g}, {r.outcome}" for r in anyerr.itertuples()) + ". "
                + RULE_ERRORS))

    tested = diversity[diversity.mtld_ci_low.notna()] if "mtld_ci_low" in diversity else diversity.iloc[0:0]
    if len(tested):
        real = tested[tested.condition == "real"].iloc[0]
        gen = tested[tested.condition != "real"]
        v4b = [HOLDS if o == "lower" else FAILS if o == "higher" else INCONCLUSIVE
               for o in [*gen.mtld_outcome, *gen.vocabulary_outcome]]
        out.append(("Claim 4b: generated data are less diverse", combine(v4b),
                    f"The {int(real.train_size):,}-sentence training English of real data and of each generator (same "
                    f"German sentences). MTLD with 95\\% paired half-sample intervals: real {real.mtld:.0f} "
                    f"[{real.mtld_ci_low:.0f}, {real.mtld_ci_high:.0f}]; "
                    + "; ".join(f"{r.condition} {r.mtld:.0f} [{r.mtld_ci_low:.0f}, {r.mtld_ci_high:.0f}], difference "
                                f"[{r.mtld_diff_ci_low:+.0f}, {r.mtld_diff_ci_high:+.0f}], $p_{{Holm}}$ {r.mtld_p_holm:.3g}, "
                                f"{r.mtld_outcome}" for r in gen.itertuples())
                    + f". Vocabulary on equal token samples (paired permutation test): real {real.vocabulary:.0f}; "
                    + "; ".join(f"{r.condition} {r.vocabulary:.0f}, $p_{{Holm}}$ {r.vocabulary_p_holm:.3g}, "
                                f"{r.vocabulary_outcome}" for r in gen.itertuples()) + ". " + RULE_DIVERSITY))

    mit = sig[sig.family == "mitigations"]
    if len(mit):
        # One unit per mitigation and size: does it help (better than every generator it draws on), and does the
        # gap to real data remain (real significantly better)?
        lines, helped, closed, decided_no, gap_remains = [], [], [], [], []
        units = mit.groupby([mit.apply(lambda r: r.b if r.a == "real" else r.a, axis=1), "a_size"], sort=False)
        for (m, n), rows in units:
            helps, gap = rows[rows.a == m], rows[rows.a == "real"]
            h = verdict(list(helps.outcome))
            if h == HOLDS:
                helped.append((m, n))
                if not gap.empty and gap.outcome.iloc[0] in (EQUIVALENT, WORSE):
                    closed.append((m, n))
                elif not gap.empty and (gap.outcome == BETTER).all():
                    gap_remains.append((m, n))
            elif h == FAILS:
                decided_no.append((m, n))
            lines.append(f"{m} ({int(n):,} pairs): " + "; ".join(describe_row(r) for r in rows.itertuples()))
        v5 = (HOLDS if helped and len(gap_remains) == len(helped)
              else FAILS if closed or len(decided_no) == len(units) else INCONCLUSIVE)
        out.append(("Claim 5: mitigations help without closing the gap", v5,
                    f"Family mitigations (Holm over all its comparisons; the oracle ordering, the real-English controls "
                    f"and the shares are not mitigations and are not counted): {len(helped)} of {len(units)} "
                    f"mitigations (each at each size) significantly better than their unmitigated generator, {len(gap_remains)} of those "
                    f"still significantly worse than real data, {len(closed)} closing the gap. " + ". ".join(lines) + "."
                    + left_out(mit.outcome) + " " + RULE_MITIGATIONS))

    else:
        out.append(("Claim 5: mitigations help without closing the gap", INCONCLUSIVE,
                    "Not tested here: the grid trains no mitigation (grid.mitigations); the study profile trains "
                    "eight (profiles/study.yaml)."))

    split = sig[sig.family == "E5-E7-split"]
    if len(split):
        texts = []
        for (control, n), rows in split.groupby(["a", "a_size"], sort=False):
            english, selection = rows[rows.b != "real"], rows[rows.b == "real"]
            for r in english.itertuples():
                texts.append(f"{r.b}: the English effect (the same sentences, human English vs the generator's) "
                             + describe_row(r, a=control))
            for r in selection.itertuples():
                texts.append(f"the selection effect (human English; those sentences vs the first {int(n):,}) "
                             + describe_row(r, a=control))
        out.append(("Ordered conditions: English versus selection", "analysis",
                    "An ordered condition trains on the n best of the translated pool, real and the generators on the "
                    "first n, so its gain mixes better English with different sentences. Its control has the same "
                    "sentences in the same order with their human English (family E5-E7-split, Holm). "
                    + "; ".join(texts) + "."))
    return out


def spread(intervals: pd.DataFrame) -> str:
    """What the groups' intervals count, from their `interval` column."""
    kinds = set(intervals.interval)
    if kinds == {SENTENCES}:
        return "intervals over test sentences only: one run per point carries no spread between training runs"
    if SENTENCES in kinds:
        return ("intervals: t over seeds, comparisons adding the test-sentence variance; over test sentences only "
                "for the single runs")
    return "intervals: t over seeds, comparisons adding the test-sentence variance"


def recursion_claims(intervals: pd.DataFrame, sig: pd.DataFrame) -> list[tuple[str, str, str]]:
    """E9's two claims, from the collapse stage's tables: (A) without real data, training generation after
    generation on the previous generation's English loses BLEU (family E9-collapse: generation 0 against the last,
    for each regime without real data); (B) keeping real data (accumulating it, or a share of it) limits the loss
    (family E9-real-data at the last generation). How fast: the first generation significantly below generation
    0. Diversity: MTLD and the share of the human English's words seen once that survive, with 95 % intervals
    over seeds."""
    if intervals.empty or sig.empty:
        return [("E9, claim A: without real data, recursive training collapses", INCONCLUSIVE,
                 "Not tested here: the chain stops at generation 0 (recursion.links is empty); the study profile "
                 "runs two generations (profiles/study.yaml).")]
    last = int(intervals.generation.max())
    collapse = sig[sig.family == "E9-collapse"]
    real = sig[(sig.family == "E9-real-data") & (sig.b_generation == last)]
    keeps = set(sig[sig.family == "E9-real-data"].a)
    seeds = int(intervals.seeds.max())

    def at(regime: str, generation: int) -> pd.Series:
        return intervals[(intervals.regime == regime) & (intervals.generation == generation)].iloc[0]

    def measure(r: pd.Series, m: str, fmt: str, scale: float = 1.0) -> str:
        """'52 [47, 58]' (mean over seeds, 95 % t-interval over seeds; none with one seed)"""
        low, high = r[f"{m}_low"], r[f"{m}_high"]
        if scale == 100:  # a share: its t-interval clipped to [0, 1]
            low, high = max(low, 0.0), min(high, 1.0)
        ci = "" if pd.isna(low) else f" [{scale * low:{fmt}}, {scale * high:{fmt}}]"
        return f"{scale * r[m]:{fmt}}{ci}"

    texts, verdicts = [], []
    for regime, rows in collapse.groupby("a", sort=False):
        g = rows.sort_values("b_generation")
        first = g[g.outcome == BETTER].b_generation.min()
        final = g[g.b_generation == last]
        if regime not in keeps and len(final):
            verdicts.append(verdict(list(final.outcome)))
        texts.append(f"{regime}: BLEU " + " → ".join(f"{at(regime, k).bleu:.1f}" for k in range(last + 1))
                     + (f", first significantly below generation 0 at generation {int(first)}" if pd.notna(first)
                        else ", never significantly below generation 0")
                     + f"; MTLD {measure(at(regime, 0), 'mtld', '.0f')} → {measure(at(regime, last), 'mtld', '.0f')}"
                     + "; words seen once in the human English of its lines still used: "
                     + f"{measure(at(regime, 0), 'tail_1', '.0f', 100)}\\% → {measure(at(regime, last), 'tail_1', '.0f', 100)}\\%"
                     + f" ({'; '.join(describe_row(r, by='generation') for r in g.itertuples())})")
    out = [("E9, claim A: without real data, recursive training collapses", combine(verdicts),
            f"Generation 0 is E1's student; each later generation a student of the same recipe trained on the "
            f"previous generation's translations of German it never saw ({seeds} seed{'s' if seeds > 1 else ''}; "
            f"{spread(intervals)}; family E9-collapse, Holm, generation 0 against every later one). The verdict "
            f"counts the regimes without real data at the last generation ({last}). "
            + ". ".join(texts) + "." + left_out(collapse.outcome) + " " + RULE)]
    if len(real):
        out.append(("E9, claim B: keeping real data limits the collapse", verdict(list(real.outcome)),
                    f"Family E9-real-data (Holm over every generation), at generation {last}: each regime that keeps "
                    f"real data against each that does not. " + "; ".join(describe_row(r, by="generation") for r in real.itertuples())
                    + "." + left_out(real.outcome) + " " + RULE))
    return out


def finetune_claims(intervals: pd.DataFrame, sig: pd.DataFrame) -> list[tuple[str, str, str]]:
    """E10's claims, the paper's headline, from the finetune-compare stage's tables: (A) the base LLM fine-tuned
    on its own ("self") or another generator's translations loses to the same model fine-tuned on the human
    English of the same German sentences (family E10-real: every regurgitative condition at every size); (B) a
    fraction of real data beats the largest regurgitative size (family E10-fraction: real at the smallest size
    against each regurgitative condition at the largest). Whether fine-tuning taught anything the few-shot
    prompt did not (family E10-fine-tuning) is reported beside them: if no real-data model beats the prompt, the
    verdicts are about models that did not learn the task from their data."""
    if intervals.empty or sig.empty:
        return []
    base = {r.condition.removeprefix("base "): r.bleu for r in intervals[intervals.role == "base"].itertuples()}
    tuned = intervals[intervals.role != "base"]
    seeds = int(tuned.seeds.max())
    roles = dict(zip(tuned.condition, tuned.role))

    def name(condition: str) -> str:
        return condition if roles.get(condition, "real") == "real" else f"{condition} ({roles[condition]})"

    def rows(family: str) -> pd.DataFrame:
        return sig[sig.family == family]

    beats_prompt = rows("E10-fine-tuning")
    real_beats = beats_prompt[(beats_prompt.a == "real") & (beats_prompt.outcome == BETTER)]
    context = (f"The base LLM ({seeds} seed{'s' if seeds > 1 else ''} per point; {spread(tuned)}) scores {base.get('zero-shot', float('nan')):.1f} BLEU zero-shot and "
               f"{base.get('few-shot', float('nan')):.1f} few-shot before fine-tuning; fine-tuned on real pairs it "
               + (f"beats its few-shot prompt significantly at {len(real_beats)} of "
                  f"{int((beats_prompt.a == 'real').sum())} sizes (family E10-fine-tuning, Holm). "
                  if len(real_beats) else "never beats its few-shot prompt significantly (family E10-fine-tuning, "
                  "Holm): what it learned from its data is no more than the prompt gave it. "))
    out = []
    real = rows("E10-real")
    if len(real):
        out.append(("E10, claim A: fine-tuning on regurgitative data loses to real data", verdict(list(real.outcome)),
                    context + "Family E10-real (Holm): the model fine-tuned on real pairs against the same model "
                    "fine-tuned on the same German sentences with a generator's English, at each size. "
                    + "; ".join(describe_row(r, b=name(r.b)) for _, r in real.iterrows()) + "."
                    + left_out(real.outcome) + " " + RULE))
    fraction = rows("E10-fraction")
    if len(fraction):
        out.append(("E10, claim B: a fraction of real data beats the largest regurgitative size",
                    verdict(list(fraction.outcome)),
                    "Family E10-fraction (Holm): real at the smallest size against each regurgitative condition at "
                    "the largest. " + "; ".join(describe_row(r, b=name(r.b)) for _, r in fraction.iterrows()) + "."
                    + left_out(fraction.outcome) + " " + RULE))
    return out


def latex(paragraphs: list[tuple[str, str, str]]) -> str:
    return "\n\n".join(f"\\paragraph{{{t} ({v}).}} {x}" for t, v, x in paragraphs) + "\n"


def markdown(paragraphs: list[tuple[str, str, str]]) -> str:
    def md(text: str) -> str:
        text = re.sub(r"\$p_\{Holm\}\$", "p_Holm", text)
        return text.replace("\\%", "%")
    return "".join(f"- **{t}: {v}.** {md(x)}\n" for t, v, x in paragraphs)


def write(bleu: pd.DataFrame, generators: pd.DataFrame, errors: pd.DataFrame, diversity: pd.DataFrame,
          quality: dict, significance: pd.DataFrame, intervals: pd.DataFrame, out_dir: Path,
          recursion: tuple[pd.DataFrame, pd.DataFrame] | None = None,
          finetune: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> list[Path]:
    macros = out_dir / "results.tex"
    body = "".join(f"\\expandafter\\def\\csname result@{k}\\endcsname{{{v}}}\n"
                   for k, v in numbers(bleu, generators, errors, diversity, quality, intervals).items())
    macros.write_text("% Generated by the findings stage from results/: do not edit.\n"
                      "\\newcommand{\\result}[1]{\\ifcsname result@#1\\endcsname\\csname result@#1\\endcsname"
                      "\\else??\\fi}\n" + body, encoding="utf-8")
    copy = bleu[(bleu.kind == "baseline") & (bleu.condition == "copy_source")].iloc[0]
    copy_source = {"bleu": float(copy.bleu), "chrf": float(copy.chrf)}
    paragraphs = claims(generators, errors, diversity, significance, intervals, copy_source)
    if recursion is not None:
        paragraphs += recursion_claims(*recursion)
    if finetune is not None:
        paragraphs += finetune_claims(*finetune)
    tex, md = out_dir / "findings.tex", out_dir / "findings.md"
    tex.write_text("% Generated by the findings stage from results/: do not edit.\n" + latex(paragraphs), encoding="utf-8")
    md.write_text(markdown(paragraphs), encoding="utf-8")
    return [macros, tex, md]


def main() -> None:
    tables = results.load("findings")
    if missing := set(results.CORE) - set(tables):  # `make figures` on artefacts pulled in part: draw the rest
        print(f"findings: no verdicts without {', '.join(sorted(missing))}", file=sys.stderr)
        return
    results.FINDINGS_DIR.mkdir(parents=True, exist_ok=True)
    e9, e10 = results.experiment(tables, results.E9), results.experiment(tables, results.E10)
    paths = write(tables["bleu"], tables["generators"], tables["errors"], tables["diversity"], tables["quality"],
                  tables["significance"], tables["intervals"], results.FINDINGS_DIR,
                  recursion=(e9[1], e9[2]) if e9 else None, finetune=(e10[1], e10[2]) if e10 else None)
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()

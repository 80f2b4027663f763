"""Stage `figures` (and `make figures`): paper/figures/ and paper/tables/ drawn from the results tables alone
(results/bleu.csv, generators.csv, errors.csv, diversity.csv, significance.csv, intervals.csv,
quality.json), so it works without retraining and from pulled
artefacts. One figure and one table per experiment: E1 bleu_vs_train_size, E2 generator_quality (table), E3
errors, E4 diversity, E5-E8 mitigations, E9 recursion (results/recursion*.csv, from the collapse stage), E10
fine-tuning (results/finetune*.csv, from the finetune-compare stage; skipped when E10 is switched off)."""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from regurgitative.paths import FIGURES_DIR, TABLES_DIR
from regurgitative.report import results


def bleu_vs_train_size(table: pd.DataFrame, out: Path) -> list[Path]:
    """E1: BLEU against training size per condition; the band is the spread over seeds (min to max),
    dots are single seeds; dashed lines are baselines."""
    students = table[(table.kind == "student") & (table.experiment == "E1")]
    baselines = table[table.kind == "baseline"]
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    sns.lineplot(data=students, x="train_size", y="bleu", hue="condition", estimator="mean",
                 errorbar=lambda v: (v.min(), v.max()), marker="o", ax=ax)
    sns.scatterplot(data=students, x="train_size", y="bleu", hue="condition", legend=False, alpha=0.5, s=14, ax=ax)
    sizes = sorted(students.train_size.unique())
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{int(s):,}" for s in sizes])
    ax.minorticks_off()
    for _, b in baselines.iterrows():
        ax.axhline(b.bleu, ls="--", lw=1, color="grey")
        # x in axes fraction, y in data: the label stays at the left edge whatever the x scale
        ax.annotate(f"baseline: {b.condition.replace('_', ' ')} ({b.bleu:.1f})", (0, b.bleu),
                    xycoords=ax.get_yaxis_transform(), xytext=(4, 3), textcoords="offset points",
                    fontsize=7, color="grey")
    seeds = students.groupby(["condition", "train_size"]).seed.nunique().max()
    ax.set(xlabel="training pairs", ylabel="BLEU (test)",
           title=f"German→English students trained from scratch ({seeds} seed{'s' if seeds > 1 else ''} per point)")
    ax.title.set_fontsize(9)
    return save(fig, out)


def generator_quality(generators: pd.DataFrame, out: Path) -> list[Path]:
    """E2: each generator's own BLEU and chrF on the human test set, and how often its pool outputs were
    flagged; Markdown for the README, LaTeX for the write-up."""
    table = generators[["generator", "model", "test_bleu", "test_chrf", "flagged_rate"]].copy()
    table["flagged_rate"] = (100 * table.flagged_rate).round(1)
    table = table.sort_values("test_bleu", ascending=False).rename(columns={
        "test_bleu": "BLEU", "test_chrf": "chrF", "flagged_rate": "flagged (%)"})
    return write_table(table, out, digits=1)


def save(fig, out: Path) -> list[Path]:
    fig.tight_layout()
    paths = [out.with_suffix(".pdf"), out.with_suffix(".png")]
    for p in paths:  # no creation date in the PDF: a redraw of the same results is byte-identical
        fig.savefig(p, dpi=200, metadata={"CreationDate": None} if p.suffix == ".pdf" else None)
    plt.close(fig)
    return paths


def write_table(table: pd.DataFrame, out: Path, digits: int = 1) -> list[Path]:
    """Markdown for the README, LaTeX (booktabs, special characters escaped) for the write-up."""
    md, tex = out.with_suffix(".md"), out.with_suffix(".tex")
    md.write_text(table.to_markdown(index=False, floatfmt=f".{digits}f") + "\n", encoding="utf-8")
    styled = (table.style.hide(axis="index").format(precision=digits, escape="latex")
              .format_index(escape="latex", axis=1))
    tex.write_text(styled.to_latex(hrules=True), encoding="utf-8")
    return [md, tex]


def error_rates(errors: pd.DataFrame, out: Path, table_out: Path) -> list[Path]:
    """E3: the rate of each error indicator per condition, with 95 % bootstrap intervals; indicators that cannot
    apply to a human reference are left out for real (not drawn as zero)."""
    rows = errors[errors.applies.astype(bool)].copy()
    for c in ("rate", "ci_low", "ci_high"):
        rows[c] = 100 * rows[c]
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    indicators = list(dict.fromkeys(rows.indicator))
    conditions = list(dict.fromkeys(rows.condition))
    width = 0.8 / len(conditions)
    for k, (condition, color) in enumerate(zip(conditions, sns.color_palette(n_colors=len(conditions)))):
        r = rows[rows.condition == condition].set_index("indicator").reindex(indicators)
        y = [i + (k - (len(conditions) - 1) / 2) * width for i in range(len(indicators))]
        ax.barh(y, r.rate, height=width, color=color, label=condition,
                xerr=[(r.rate - r.ci_low).clip(lower=0), (r.ci_high - r.rate).clip(lower=0)], error_kw={"lw": 0.8, "capsize": 1.5})
    ax.set_yticks(range(len(indicators)), [i.replace("_", " ") for i in indicators])
    ax.invert_yaxis()
    ax.set(xlabel="sentences of the training pool (%), 95 % Wilson interval", ylabel="")
    ax.set_title("E3: error indicators of the English students train on", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    table = errors.assign(cell=[f"{100 * r.rate:.1f} [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]" if r.applies
                                else "n/a" for r in errors.itertuples()])
    table = table.pivot(index="indicator", columns="condition", values="cell")
    table = table.reindex(index=list(dict.fromkeys(errors.indicator)), columns=conditions).reset_index()
    return save(fig, out) + write_table(table, table_out)


DIVERSITY_MEASURES = {"mtld": "MTLD", "mattr": "MATTR", "ttr": "TTR (equal tokens)", "distinct_2": "distinct-2",
                      "vocabulary": "vocabulary (equal tokens)", "hapax_share": "hapax share"}


def lexical_diversity(diversity: pd.DataFrame, out: Path, table_out: Path) -> list[Path]:
    """E4: lexical diversity of each condition's training English at the largest size every condition shares."""
    size = diversity.groupby("train_size").condition.nunique().idxmax()
    d = diversity[diversity.train_size == size]
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(2, 3, figsize=(7.5, 4.6), sharey=True)
    for ax, (col, label) in zip(axes.flat, DIVERSITY_MEASURES.items()):
        sns.barplot(data=d, y="condition", x=col, hue="condition", ax=ax, legend=False)
        ax.set(xlabel=label, ylabel="")
    fig.suptitle(f"E4: lexical diversity of the training English ({int(size):,} sentences)", fontsize=9)
    cols = ["condition", "train_size", "tokens", *DIVERSITY_MEASURES]
    table = diversity[cols].rename(columns={"train_size": "sentences", **DIVERSITY_MEASURES})
    return save(fig, out) + write_table(table, table_out, digits=3)


def mitigations(table: pd.DataFrame, out: Path, table_out: Path) -> list[Path]:
    """E5-E8 at the mitigation size: each mitigation beside its unmitigated generator and real (mean over
    seeds, the bar spans the seeds); E8 as BLEU against the share of generated English."""
    students = table[table.kind == "student"]
    sizes = students[students.experiment != "E1"].train_size.unique()
    if len(sizes) == 0:
        return []
    size = max(sizes)
    at = students[students.train_size == size]
    mitigated = at[at.experiment != "E1"]
    generators = {p for g in mitigated.generator for p in g.split("+")}
    shown = at[(at.experiment != "E1") | at.condition.isin(generators | {"real"})]
    order = (shown.groupby("condition").agg(experiment=("experiment", "first"), bleu=("bleu", "mean"))
             .sort_values(["experiment", "bleu"], ascending=[True, False]))
    sns.set_theme(style="whitegrid", context="paper")
    fig, (ax, ax8) = plt.subplots(1, 2, figsize=(8.5, 3.8), gridspec_kw={"width_ratios": [2.2, 1]})
    sns.pointplot(data=shown, y="condition", x="bleu", hue="experiment", order=list(order.index),
                  errorbar=lambda v: (v.min(), v.max()), linestyle="none", ax=ax)
    ax.axvline(order.loc["real", "bleu"], ls="--", lw=1, color="grey")
    ax.set(xlabel=f"BLEU (test), {int(size):,} training pairs", ylabel="")
    ax.set_title("E5-E7: ordered and mixed generated data (dashed: real)", fontsize=9)
    ax.legend(title="experiment", fontsize=7, title_fontsize=7, loc="best", framealpha=0.8)
    shares = at[at.experiment.isin(["E8"]) | (at.condition == "real")]
    e8_generators = set(at[at.experiment == "E8"].generator)
    shares = pd.concat([shares, at[(at.experiment == "E1") & at.condition.isin(e8_generators)]])
    if len(e8_generators):
        sns.lineplot(data=shares.assign(share=100 * shares.generated_share), x="share", y="bleu", marker="o",
                     errorbar=lambda v: (v.min(), v.max()), ax=ax8)
    ax8.set(xlabel="generated English (%)", ylabel="BLEU (test)", xticks=[0, 25, 50, 75, 100])
    ax8.set_title(f"E8: share of {', '.join(sorted(e8_generators))}", fontsize=9)
    summary = (shown.groupby(["experiment", "condition"]).bleu.agg(["mean", "std", "count"])
               .reset_index().rename(columns={"mean": "BLEU", "std": "sd (seeds)", "count": "seeds"}))
    return save(fig, out) + write_table(summary, table_out, digits=2)


def significance(sig: pd.DataFrame, out: Path) -> list[Path]:
    """Every comparison the claims rest on (significance.py): the difference of seed-mean BLEU a - b with its 95 %
    interval (Welch's t over seeds with the test-sentence variance added; the paired sentence bootstrap where a
    side is a single run), the p-value before and after Holm's correction within the family, and the outcome."""
    table = pd.DataFrame({
        "family": sig.family, "a": [f"{a} ({int(n):,})" for a, n in zip(sig.a, sig.a_size)],
        "b": [f"{b} ({int(n):,})" for b, n in zip(sig.b, sig.b_size)],
        "a - b": [f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}]" for d, lo, hi in zip(sig.difference, sig.ci_low, sig.ci_high)],
        "interval": sig.interval.map({"seeds-t": "t over seeds", "sentences": "test sentences only"}),
        "p": sig.p_value.round(4), "p (Holm)": sig.p_holm.round(4), "outcome": sig.outcome})
    return write_table(table, out, digits=4)


RECURSION_MEASURES = {"bleu": "BLEU (test)", "mtld": "MTLD", "tail_1": "rare words kept (%)",
                      "any_error": "with an error (%)"}


def recursion(links: pd.DataFrame, intervals: pd.DataFrame, out: Path, table_out: Path) -> list[Path]:
    """E9: per regime (columns), BLEU and what its training English looks like (rows) against the generation;
    the line is the mean over seeds, the band its 95 % t-interval over seeds (over test sentences for a single
    run), dots are single seeds; the grey dashed line repeats `replace` in every column; the dotted line is the
    BLEU floor a group must clear to count as learned (with the chrF floor: analysis/verdicts.py)."""
    regimes = list(dict.fromkeys(intervals.regime))
    percent = {"tail_1", "any_error"}
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(len(RECURSION_MEASURES), len(regimes), figsize=(2.6 * len(regimes) + 0.8, 7.2),
                             sharex=True, sharey="row", squeeze=False)
    palette = dict(zip(regimes, sns.color_palette(n_colors=len(regimes))))
    for i, (m, label) in enumerate(RECURSION_MEASURES.items()):
        k = 100 if m in percent else 1
        for j, regime in enumerate(regimes):
            ax = axes[i][j]
            iv = intervals[intervals.regime == regime].sort_values("generation")
            low, high = ("ci_low", "ci_high") if m == "bleu" else (f"{m}_low", f"{m}_high")
            if "replace" in regimes and regime != "replace":
                ref = intervals[intervals.regime == "replace"].sort_values("generation")
                ax.plot(ref.generation, k * ref[m], ls="--", lw=1, color="grey")
            ax.plot(iv.generation, k * iv[m], marker="o", color=palette[regime])
            ax.fill_between(iv.generation, k * iv[low], k * iv[high], color=palette[regime], alpha=0.2, lw=0)
            seeds = links[links.regime == regime]
            ax.scatter(seeds.generation, k * seeds[m], s=10, alpha=0.5, color=palette[regime])
            if i == 0:
                ax.set_title(regime, fontsize=9)
                ax.axhline(iv.bleu_floor.iloc[0], ls=":", lw=1, color="black")
                if j == 0:
                    ax.annotate("learned", (0, iv.bleu_floor.iloc[0]), xycoords=ax.get_yaxis_transform(), xytext=(2, 2),
                                textcoords="offset points", fontsize=7)
            ax.set(xlabel="generation" if i == len(RECURSION_MEASURES) - 1 else "", ylabel=label if j == 0 else "")
            ax.set_xticks(sorted(intervals.generation.unique()))
    seeds = int(intervals.seeds.max())
    fig.suptitle(f"E9: generation after generation ({seeds} seed{'s' if seeds > 1 else ''}; grey dashed: replace). "
                 "Rows 2-4: the training English (rare: words seen once\nin the human English of the same lines; "
                 "error: any E3 indicator)", fontsize=9)
    table = pd.DataFrame({
        "regime": intervals.regime, "generation": intervals.generation, "seeds": intervals.seeds,
        "BLEU": [f"{r.bleu:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}]" for r in intervals.itertuples()],
        "chrF": [f"{r.chrf:.1f} [{r.chrf_ci_low:.1f}, {r.chrf_ci_high:.1f}]" for r in intervals.itertuples()],
        "learned": intervals.learned.astype(bool).map({True: "yes", False: "no"}),
        "MTLD": intervals.mtld.round(0), "vocabulary (equal tokens)": intervals.vocabulary.round(0),
        "seen-once words kept (%)": (100 * intervals.tail_1).round(1),
        "5-19x words kept (%)": (100 * intervals.tail_5_19).round(1),
        "any error (%)": (100 * intervals.any_error).round(1), "length ratio": intervals.length_ratio.round(2),
        "repeated 3-gram (%)": (100 * intervals.repeated_trigram).round(1)})
    return save(fig, out) + write_table(table, table_out, digits=1)


def finetune(runs: pd.DataFrame, intervals: pd.DataFrame, out: Path, table_out: Path) -> list[Path]:
    """E10: the fine-tuned base LLM's BLEU against the fine-tuning size per condition (line: mean over seeds;
    band: 95 % interval, t over seeds or, for one run per point, over test sentences only; dots: single seeds);
    the base model before fine-tuning as horizontal lines (zero-shot dashed, few-shot solid grey); the dotted line
    is the BLEU floor a group must clear to count as learned (with the chrF floor: analysis/verdicts.py)."""
    tuned = intervals[intervals.role != "base"].copy()
    tuned["label"] = [c if r == "real" else f"{c} ({r})" for c, r in zip(tuned.condition, tuned.role)]
    labels = list(dict.fromkeys(tuned.label))
    palette = dict(zip(labels, sns.color_palette(n_colors=len(labels))))
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label, iv in tuned.groupby("label", sort=False):
        iv = iv.sort_values("size")
        ax.plot(iv["size"], iv.bleu, marker="o", color=palette[label], label=label)
        ax.fill_between(iv["size"], iv.ci_low, iv.ci_high, color=palette[label], alpha=0.2, lw=0)
        seeds = runs[runs.condition == iv.condition.iloc[0]]
        ax.scatter(seeds["size"], seeds.bleu, s=10, alpha=0.5, color=palette[label])
    for r in intervals[intervals.role == "base"].itertuples():
        ax.axhline(r.bleu, ls="--" if "zero" in r.condition else "-", lw=1, color="grey")
        ax.annotate(f"{r.condition} ({r.bleu:.1f})", (0, r.bleu), xycoords=ax.get_yaxis_transform(), xytext=(4, 3),
                    textcoords="offset points", fontsize=7, color="grey")
    ax.axhline(intervals.bleu_floor.iloc[0], ls=":", lw=1, color="black")
    ax.annotate("learned", (1, intervals.bleu_floor.iloc[0]), xycoords=ax.get_yaxis_transform(), xytext=(-30, 2),
                textcoords="offset points", fontsize=7)
    sizes = sorted(tuned["size"].unique())
    ax.set_xticks(sizes, [f"{int(s):,}" for s in sizes])
    seeds = int(tuned.seeds.max())
    only = "; intervals: test sentences only" if (tuned.interval == "sentences").all() else ""
    ax.set(xlabel="fine-tuning pairs", ylabel="BLEU (test)",
           title=f"E10: the base LLM fine-tuned on real or generated English ({seeds} seed{'s' if seeds > 1 else ''}"
                 f"{only})")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    table = pd.DataFrame({
        "condition": intervals.condition, "role": intervals.role, "pairs": intervals["size"], "seeds": intervals.seeds,
        "BLEU": [f"{r.bleu:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}]" for r in intervals.itertuples()],
        "chrF": [f"{r.chrf:.1f} [{r.chrf_ci_low:.1f}, {r.chrf_ci_high:.1f}]" for r in intervals.itertuples()],
        "interval": intervals.interval.map({"seeds-t": "t over seeds", "sentences": "test sentences only"}),
        "learned": intervals.learned.astype(bool).map({True: "yes", False: "no"})})
    return save(fig, out) + write_table(table, table_out, digits=1)


README_START = "<!-- results: written by `make figures` from paper/tables/readme_results.md; do not edit -->"
README_END = "<!-- end of results -->"


def results_block(table: pd.DataFrame, generators: pd.DataFrame, intervals: pd.DataFrame, findings_md: str,
                  out: Path, recursion_intervals: pd.DataFrame | None = None,
                  finetune_intervals: pd.DataFrame | None = None) -> list[Path]:
    """The README's results: BLEU per condition and size (seed mean, 95 % t-interval over seeds), which groups
    learned and the rule, the generators' own BLEU, and each claim's verdict, all from the results tables."""
    students = table[table.kind == "student"]
    experiment = students.groupby("condition").experiment.first()
    copy = table[(table.kind == "baseline") & (table.condition == "copy_source")].iloc[0]
    cells = {}
    for r in intervals.itertuples():
        mark = "" if r.learned else " ✗"
        cells.setdefault(r.condition, {})[int(r.train_size)] = f"{r.bleu:.1f} [{r.ci_low:.1f}, {r.ci_high:.1f}]{mark}"
    sizes = sorted({n for c in cells.values() for n in c})
    order = sorted(cells, key=lambda c: (experiment.get(c, "E9"), c != "real", c))
    lines = ["| condition | experiment | " + " | ".join(f"{n:,} pairs" for n in sizes) + " |",
             "| --- | --- | " + " | ".join("---" for _ in sizes) + " |"]
    lines += [f"| `{c}` | {experiment.get(c, '')} | " + " | ".join(cells[c].get(n, "") for n in sizes) + " |"
              for c in order]
    seeds = int(intervals.seeds.max()) if len(intervals) else 0
    bleu_floor, chrf_floor = ((float(intervals.bleu_floor.iloc[0]), float(intervals.chrf_floor.iloc[0]))
                              if len(intervals) else (float("nan"), float("nan")))
    kind = ("95 % t-interval over the seeds" if (intervals.interval == "seeds-t").all() else
            "95 % interval: t over the seeds, over the test sentences for a single run")
    gen = "; ".join(f"{g.generator} {g.test_bleu:.1f} BLEU / {g.test_chrf:.1f} chrF" for g in generators.itertuples())
    text = (f"Test BLEU, mean of {seeds} seeds [{kind}]; ✗: not learned. Learned: the lower end of its 95 % "
            f"interval over seeds above {bleu_floor:.1f} BLEU and {chrf_floor:.1f} chrF (max of an absolute level and "
            f"copying the German, which scores {copy.bleu:.1f} BLEU and {copy.chrf:.1f} chrF, by a margin; the "
            f"levels and margins, with their reasons, are params.yaml's significance.learned): a comparison a group "
            f"that did not learn wins, or calls even, decides nothing.\n\n" + "\n".join(lines) + "\n\n"
            f"E2, the generators' own quality on the test set: {gen}.\n\n"
            + ("E9, test BLEU generation after generation (generation 0 is E1's student; seeds pooled): "
               + "; ".join(f"{regime} " + " → ".join(f"{b:.1f}" for b in rows.sort_values("generation").bleu)
                           for regime, rows in recursion_intervals.groupby("regime", sort=False)) + ".\n\n"
               if recursion_intervals is not None and len(recursion_intervals) else "")
            + ("E10, test BLEU of the base LLM fine-tuned on each condition (seeds pooled), by fine-tuning pairs: "
               + "; ".join(f"{c} " + ", ".join(f"{b:.1f} ({int(n):,})" for n, b in zip(rows["size"], rows.bleu))
                           for c, rows in finetune_intervals[finetune_intervals.role != "base"].sort_values("size")
                           .groupby("condition", sort=False))
               + "; before fine-tuning: " + ", ".join(f"{r.condition.removeprefix('base ')} {r.bleu:.1f}" for r in
                                                      finetune_intervals[finetune_intervals.role == "base"].itertuples())
               + ".\n\n" if finetune_intervals is not None and len(finetune_intervals) else "")
            + "The claims (each decided by its Holm-corrected family of seed-pooled comparisons; the numbers are in "
            "[paper/findings/findings.md](paper/findings/findings.md)):\n\n"
            + "".join(line.split(".**")[0] + ".**\n" for line in findings_md.splitlines() if line.startswith("- **")))
    md = out.with_suffix(".md")
    md.write_text(text, encoding="utf-8")
    return [md]


def splice_readme(readme: Path, block: Path) -> None:
    """Put the generated results block between the README's markers (`make figures`, `make repro`)."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme}: no results markers ({README_START} ... {README_END})")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + README_START + "\n" + block.read_text(encoding="utf-8") + README_END + tail,
                      encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--readme", type=Path, help="only put paper/tables/readme_results.md into this README (no redraw)")
    ap.add_argument("--out-dir", type=Path, default=FIGURES_DIR)
    ap.add_argument("--tables-dir", type=Path, default=TABLES_DIR)
    a = ap.parse_args()
    if a.readme:
        splice_readme(a.readme, a.tables_dir / "readme_results.md")
        return
    a.out_dir.mkdir(parents=True, exist_ok=True)
    a.tables_dir.mkdir(parents=True, exist_ok=True)
    # Each experiment is drawn from its own table; one that is missing is named and skipped, the others drawn.
    t = results.load("figures")
    paths = bleu_vs_train_size(t["bleu"], a.out_dir / "bleu_vs_train_size")
    paths += generator_quality(t["generators"], a.tables_dir / "generator_quality")
    if "errors" in t:
        paths += error_rates(t["errors"], a.out_dir / "errors", a.tables_dir / "errors")
    if "diversity" in t:
        paths += lexical_diversity(t["diversity"], a.out_dir / "diversity", a.tables_dir / "diversity")
    paths += mitigations(t["bleu"], a.out_dir / "mitigations", a.tables_dir / "mitigations")
    if "significance" in t:
        paths += significance(t["significance"], a.tables_dir / "significance")
    if (e9 := results.experiment(t, results.E9)) and len(e9[1]):
        paths += recursion(e9[0], e9[1], a.out_dir / "recursion", a.tables_dir / "recursion")
    if (e10 := results.experiment(t, results.E10)) and len(e10[1]):
        paths += finetune(e10[0], e10[1], a.out_dir / "finetune", a.tables_dir / "finetune")
    findings_md = results.FINDINGS_DIR / "findings.md"  # the findings stage's verdicts, quoted in the README
    if "intervals" in t and findings_md.exists():
        paths += results_block(t["bleu"], t["generators"], t["intervals"], findings_md.read_text(encoding="utf-8"),
                               a.tables_dir / "readme_results",
                               recursion_intervals=e9[1] if e9 else None, finetune_intervals=e10[1] if e10 else None)
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()

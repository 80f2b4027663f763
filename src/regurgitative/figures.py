"""Stage `figures` (and `make figures`): paper/figures/ and paper/tables/ drawn from the aggregate tables
alone (results/bleu.csv, results/generators.csv), so it works without retraining and from pulled artefacts."""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from .aggregate import GENERATORS_TABLE, TABLE  # noqa: E402
from .config import FIGURES_DIR, TABLES_DIR  # noqa: E402


def bleu_vs_train_size(table: pd.DataFrame, out: Path) -> list[Path]:
    """E1: BLEU against training size per condition; the band is the spread over seeds (min to max),
    dots are single seeds; dashed lines are baselines."""
    students = table[table.kind == "student"]
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
    fig.tight_layout()
    paths = [out.with_suffix(".pdf"), out.with_suffix(".png")]
    for p in paths:
        fig.savefig(p, dpi=200)
    plt.close(fig)
    return paths


def generator_quality(generators: pd.DataFrame, out: Path) -> list[Path]:
    """E2: each generator's own BLEU and chrF on the human test set, and how often its pool outputs were
    flagged; Markdown for the README, LaTeX for the write-up."""
    table = generators[["generator", "model", "test_bleu", "test_chrf", "flagged_rate"]].copy()
    table["flagged_rate"] = (100 * table.flagged_rate).round(1)
    table = table.sort_values("test_bleu", ascending=False).rename(columns={
        "test_bleu": "BLEU", "test_chrf": "chrF", "flagged_rate": "flagged (%)"})
    md, tex = out.with_suffix(".md"), out.with_suffix(".tex")
    md.write_text(table.to_markdown(index=False, floatfmt=".1f") + "\n", encoding="utf-8")
    tex.write_text(table.style.hide(axis="index").format(precision=1).to_latex(hrules=True), encoding="utf-8")
    return [md, tex]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--table", type=Path, default=TABLE)
    ap.add_argument("--generators", type=Path, default=GENERATORS_TABLE)
    ap.add_argument("--out-dir", type=Path, default=FIGURES_DIR)
    ap.add_argument("--tables-dir", type=Path, default=TABLES_DIR)
    a = ap.parse_args()
    a.out_dir.mkdir(parents=True, exist_ok=True)
    a.tables_dir.mkdir(parents=True, exist_ok=True)
    paths = bleu_vs_train_size(pd.read_csv(a.table), a.out_dir / "bleu_vs_train_size")
    paths += generator_quality(pd.read_csv(a.generators), a.tables_dir / "generator_quality")
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()

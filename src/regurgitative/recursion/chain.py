"""E9's layout and regimes (a library: recursion@ writes what it lays out, collapse and figures read it): where each
generation of a chain lives, what a regime is, and the tables the collapse stage writes."""
from __future__ import annotations

from pathlib import Path

from regurgitative.params import param
from regurgitative.paths import RESULTS_DIR

CHAIN_DIR = Path("data/recursion")
CHAIN_RESULTS = RESULTS_DIR / "recursion"          # recursion@: one metrics file per generation
TABLE = RESULTS_DIR / "recursion.csv"              # collapse: one row per regime, seed and generation
INTERVALS = RESULTS_DIR / "recursion-intervals.csv"        # collapse: per regime and generation, seeds pooled
SIGNIFICANCE = RESULTS_DIR / "recursion-significance.csv"  # collapse: the comparisons of E9's claims
REGIME_KEYS = {"accumulate": bool, "real_share": float}


def link_dir(regime: str, seed: int, generation: int) -> Path:
    return CHAIN_DIR / regime / f"seed{seed}" / f"g{generation}"


def link_metrics(regime: str, seed: int, generation: int) -> Path:
    return CHAIN_RESULTS / f"{regime}-{seed}-g{generation}.json"


def regime_config(params: dict, regime: str) -> dict:
    """recursion.regimes.<regime>, checked: accumulate (bool), real_share (0 <= s < 1)."""
    cfg = param(params, f"recursion.regimes.{regime}")
    if not isinstance(cfg, dict):
        raise ValueError(f"params.yaml: recursion.regimes.{regime} must be a mapping with "  # noqa: TRY004 (a params error)
                         f"{', '.join(REGIME_KEYS)}")
    unknown = set(cfg) - set(REGIME_KEYS)
    if unknown:
        raise ValueError(f"params.yaml: recursion.regimes.{regime}.{min(unknown)} is not a regime setting "
                         f"(known: {', '.join(REGIME_KEYS)})")
    out = {"accumulate": bool(cfg.get("accumulate", False)), "real_share": float(cfg.get("real_share", 0.0))}
    if not 0 <= out["real_share"] < 1:
        raise ValueError(f"params.yaml: recursion.regimes.{regime}.real_share is {out['real_share']}; it must lie "
                         f"in [0, 1) (1 would be real data, generation 0)")
    return out

"""Stage `quality` (E5's scores): a quality score for every sentence of every generator's pool, so that a
mitigation can add high-quality data before low-quality data.

Reference-free (what a practitioner without human translations has):
- `agreement`: mean sentence chrF between this generator's English and each other generator's English for the
  same German sentence (cross-model agreement: independent systems agree where a translation is easy and right);
- `confidence`: the generator's own mean token log-probability of its answer: what it recorded while generating
  (fairseq teachers always; an LLM when its endpoint returned logprobs), else, for a local completions model
  (kind llama_cpp), its finished answers scored once under the model (confidence.py); else missing;
- `detector` (E7): the probability that the sentence is human-written, from a human-vs-generator classifier
  trained on the detector split only (detector.py); its held-out AUC says how separable the two are.
Reference-based, for analysis only (an upper bound no real user has):
- `oracle`: sentence chrF against the human reference.

Writes data/quality/<generator>.csv (index, German, score columns) and results/quality.json (per generator:
how well each reference-free score ranks sentences like the oracle does, as a Spearman correlation). Agreement
is measured against the other generators of the grid, so adding a generator changes it.
"""
from __future__ import annotations

import json

import pandas as pd
from sacrebleu.metrics import CHRF

from regurgitative.generators import generated, llama_server
from regurgitative.generators.generated import generated_items
from regurgitative.mitigations import confidence, detector
from regurgitative.params import generator_names, load_params, param
from regurgitative.paths import PREPARED_DIR, QUALITY_DIR, QUALITY_SUMMARY as SUMMARY
from regurgitative.text import read_lines

REFERENCE_FREE = ("agreement", "confidence", "detector")


def human_likeness(generator: str, params: dict) -> tuple[list[float | None], float | None]:
    """P(human) of each pool sentence of the generator, and the detector's held-out AUC."""
    start, count = generated.detector_lines(params)
    pool_de = read_lines(PREPARED_DIR / "pool.de")[:generated.pool_size(params, generator)]
    if count == 0:  # generate.detector_size 0: no detector split, no E7 (validation refuses a detector-ordered condition)
        return [None] * len(pool_de), None
    human = read_lines(PREPARED_DIR / "pool.en")[start:start + count]
    machine = generated.items_for(generator, "detector", read_lines(PREPARED_DIR / "pool.de")[start:start + count])
    pool = generated.items_for(generator, "pool", pool_de)
    return detector.human_likeness(human, [it["text"] for it in machine], [it["text"] for it in pool])


def own_confidence(generator: str, items: list[dict], params: dict) -> list[float | None]:
    """The generator's mean token log-probability of each pool answer (see the module docstring)."""
    recorded = [it.get("mean_logprob") for it in items]
    cfg = param(params, f"generators.{generator}")
    if all(v is not None for v in recorded) or cfg.get("kind") != "llama_cpp" or cfg.get("api") != "completions":
        return recorded
    return confidence.score(llama_server.gguf_path(cfg["model"]), int(param(params, "generate.server.n_threads")),
                            [it["prompt"] for it in items], [it["raw"] for it in items])


def scores(generator: str, others: list[str], detector_scores: list[float], params: dict) -> pd.DataFrame:
    chrf = CHRF()
    items = generated_items(generator, "pool")
    own = own_confidence(generator, items, params)
    references = read_lines(PREPARED_DIR / "pool.en")[:len(items)]
    other_texts = {}
    for o in others:
        o_items = generated_items(o, "pool")
        common = min(len(o_items), len(items))
        if [it["de"] for it in o_items[:common]] != [it["de"] for it in items[:common]]:
            raise ValueError(f"data/generated/{o}/items.jsonl and data/generated/{generator}/items.jsonl do not "
                             f"translate the same German pool; rerun both generators with the same params")
        other_texts[o] = [it["text"] for it in o_items]
    rows = []
    for i, (it, ref) in enumerate(zip(items, references)):
        # Agreement with the other generators that translated this sentence (a generator's pool may be shorter:
        # generators.<name>.pool_size); missing where none did.
        scored = [chrf.sentence_score(it["text"], [other_texts[o][i]]).score for o in others if i < len(other_texts[o])]
        agreement = sum(scored) / len(scored) if scored else None
        rows.append({"index": i, "de": it["de"], "agreement": agreement, "confidence": own[i],
                     "detector": detector_scores[i], "oracle": chrf.sentence_score(it["text"], [ref]).score})
    return pd.DataFrame(rows)


def main() -> None:
    params = load_params()
    names = generator_names(params)
    QUALITY_DIR.mkdir(parents=True, exist_ok=True)
    summary = {}
    for g in names:
        others = [o for o in names if o != g]
        human_probability, auc = human_likeness(g, params)
        table = scores(g, others, human_probability, params)
        table.to_csv(QUALITY_DIR / f"{g}.csv", index=False)
        summary[g] = {"agreement_with": others, "sentences": len(table), "detector_auc": None if auc is None else round(auc, 4),
                      **{f"spearman_{s}_vs_oracle": (round(float(table[s].corr(table.oracle, method="spearman")), 4)
                                                     if table[s].notna().all() else None) for s in REFERENCE_FREE}}
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""Stage `prepare`: read the real corpus named in params (corpus.*), clean it (clean.*), split it by
document (split.*) into the training pool, valid and test; write data/prepared/{split}.{de,en,doc}."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from . import corpus as C
from .config import LANGS, PARAMS, PREPARED_DIR, SPLITS, condition_pool, load_params, param


def read_corpus(params: dict) -> list[C.Pair]:
    source = param(params, "corpus.source")
    if source == "libreoffice":
        return C.read_tsv(param(params, "corpus.libreoffice.path"))
    if source == "europarl":
        from . import europarl
        cfg = param(params, "corpus.europarl")
        de, en = europarl.fetch(Path(cfg["cache_dir"]), url=cfg["url"], sha256=cfg.get("sha256"))
        return C.read_aligned(de, en, doc_block=int(cfg["doc_block"]))
    if source == "files":
        cfg = param(params, "corpus.files")
        if cfg.get("tsv"):
            return C.read_tsv(cfg["tsv"])
        if cfg.get("de") and cfg.get("en"):
            return C.read_aligned(cfg["de"], cfg["en"], doc_block=int(cfg.get("doc_block") or 0))
        raise C.CorpusError(f"{PARAMS}: corpus.source is 'files' but neither corpus.files.tsv nor both "
                            f"corpus.files.de and corpus.files.en are set")
    raise C.CorpusError(f"{PARAMS}: corpus.source must be libreoffice, europarl or files, not {source!r}")


def write_split(pairs: list[C.Pair], out_dir: Path, name: str) -> None:
    for field in (*LANGS, "doc"):
        text = "".join(getattr(p, field) + "\n" for p in pairs)
        (out_dir / f"{name}.{field}").write_text(text, encoding="utf-8")


def main() -> None:
    params = load_params()
    raw = read_corpus(params)
    rules = C.CleaningRules(**param(params, "clean"))
    pairs, dropped = C.clean(raw, rules)
    s = param(params, "split")
    split = C.split_by_document(pairs, valid_size=int(s["valid_size"]), test_size=int(s["test_size"]),
                                seed=int(s["seed"]), pool_size=s.get("pool_size"))
    PREPARED_DIR.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        write_split(getattr(split, name), PREPARED_DIR, name)
    # The real condition's pool is the prepared pool itself; every condition's pool lives in the same place.
    real = condition_pool("real")
    real.parent.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        shutil.copyfile(PREPARED_DIR / f"pool.{lang}", real.with_suffix(f".{lang}"))
    stats = {"source": param(params, "corpus.source"), "raw_pairs": len(raw), "clean_pairs": len(pairs),
             "dropped": dict(sorted(dropped.items())), "dropped_held_out_as_pool_duplicates": split.dropped_as_leak,
             **{f"{name}_pairs": len(getattr(split, name)) for name in SPLITS},
             **{f"{name}_docs": len({p.doc for p in getattr(split, name)}) for name in SPLITS}}
    (PREPARED_DIR / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats, indent=2), file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except (C.CorpusError, KeyError) as e:
        sys.exit(f"prepare: {e}")

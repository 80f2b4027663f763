"""Stage `prepare`: read the real corpus named in params (corpus.*), clean it (clean.*), split it by
document (split.*) into the training pool, valid and test; write data/prepared/{split}.{de,en,doc}."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from regurgitative.data import corpus as C
from regurgitative.params import PARAMS, load_params, param
from regurgitative.paths import LANGS, PREPARED_DIR, SPLITS, condition_pool


def read_corpus(params: dict) -> list[C.Pair]:
    source = param(params, "corpus.source")
    if source == "libreoffice":
        return C.read_tsv(param(params, "corpus.libreoffice.path"))
    if source == "europarl":
        from regurgitative.data import europarl
        cfg = param(params, "corpus.europarl")
        de, en = europarl.fetch(Path(cfg["cache_dir"]), url=cfg["url"], sha256=cfg.get("sha256"))
        return C.read_aligned(de, en, doc_block=int(cfg["doc_block"]))
    if source == "files":
        cfg = param(params, "corpus.files")
        corpus = read_files(params, "corpus.files", cfg)
        if corpus is None:
            raise C.CorpusError(f"{PARAMS}: corpus.source is 'files' but neither corpus.files.tsv nor both "
                                f"corpus.files.de and corpus.files.en are set")
        return corpus
    raise C.CorpusError(f"{PARAMS}: corpus.source must be libreoffice, europarl or files, not {source!r}")


def user_file(params: dict, key: str, name: str) -> Path:
    """A file of the user's corpus: a name in corpus.files.dir (or a path inside it). The stage depends on that
    directory, wherever it is, so a file outside it could change without rerunning prepare: refused."""
    folder = Path(param(params, "corpus.files.dir"))
    path = Path(name) if Path(name).is_absolute() else folder / name
    if not path.resolve().is_relative_to(folder.resolve()):
        raise C.CorpusError(f"{PARAMS}: {key} is {name!r}, outside corpus.files.dir ({folder}); prepare depends on "
                            f"that directory only, so put the file there or point corpus.files.dir at its directory")
    if not path.is_file():
        raise C.CorpusError(f"{PARAMS}: {key}: no such file {path}")
    return path


def read_files(params: dict, key: str, cfg: dict | str | None) -> list[C.Pair] | None:
    """A TSV (`tsv`, or a bare file name) or two aligned files (`de`, `en`) in corpus.files.dir; None when none
    is named."""
    if not cfg:
        return None
    if isinstance(cfg, str):
        cfg = {"tsv": cfg}
    block = int(param(params, "corpus.files.doc_block") or 0)
    if cfg.get("tsv"):
        return C.read_tsv(user_file(params, f"{key}.tsv", cfg["tsv"]), doc_block=block)
    if cfg.get("de") and cfg.get("en"):
        return C.read_aligned(user_file(params, f"{key}.de", cfg["de"]), user_file(params, f"{key}.en", cfg["en"]),
                              doc_block=block)
    if cfg.get("de") or cfg.get("en"):
        raise C.CorpusError(f"{PARAMS}: {key} names only one of de and en; two aligned files need both")
    return None


def held_out(params: dict, split: str) -> list[C.Pair] | None:
    """The user's own test or valid set (corpus.files.test / .valid), normalised, empty pairs refused by
    line; None: held out from the corpus (split.test_size / valid_size)."""
    pairs = read_files(params, f"corpus.files.{split}", param(params, "corpus.files").get(split))
    if pairs is None:
        return None
    out = []
    for i, p in enumerate(pairs, start=1):
        de, en = C.normalize(p.de), C.normalize(p.en)
        if not de or not en:
            raise C.CorpusError(f"corpus.files.{split}: pair {i} has an empty side; a held-out set is scored as it "
                                f"is, so fix or remove the line")
        out.append(C.Pair(p.doc, de, en))
    if not out:
        raise C.CorpusError(f"corpus.files.{split}: the file holds no pairs")
    return out


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
                                seed=int(s["seed"]), pool_size=s.get("pool_size"),
                                test_given=held_out(params, "test"), valid_given=held_out(params, "valid"))
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

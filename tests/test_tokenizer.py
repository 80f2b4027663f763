"""One SentencePiece model and one dictionary, learned on the real pool only, shared by every dataset."""
from __future__ import annotations


import pytest
from helpers import REPO, prepared_corpus

from regurgitative.students import dataset
from regurgitative import profile
from regurgitative.students import vocabulary

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A prepared pool of real pairs from the embedded corpus and a trained shared tokenizer."""
    root = tmp_path_factory.mktemp("tok")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        profile.write("ci", root / "params.yaml", REPO / "profiles")
        prepared_corpus(read=20000, pool=600, valid=100, test=100)
        yield root


def test_dictionary_is_the_sentencepiece_vocabulary(workdir):
    pieces = [line.split("\t")[0] for line in (workdir / "data/tokenizer/spm.vocab").read_text().splitlines()]
    words = [line.split(" ")[0] for line in (workdir / "data/tokenizer/dict.txt").read_text().splitlines()]
    assert words == [p for p in pieces if p not in ("<unk>", "<s>", "</s>")]
    assert len(pieces) == 500


def test_any_english_the_model_can_segment_maps_into_the_dictionary(workdir):
    sp = vocabulary.load(workdir / "data/tokenizer")
    words = {line.split(" ")[0] for line in (workdir / "data/tokenizer/dict.txt").read_text().splitlines()}
    # Text the pool never saw, like an LLM's paraphrase, still segments into dictionary pieces.
    unseen = "Nevertheless, the quick brown fox jumps over the lazy dog; generated text differs."
    assert set(sp.encode(unseen, out_type=str)) <= words


def test_datasets_of_two_sizes_share_dictionary_and_nest(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    small, large = dataset.build("real", 200), dataset.build("real", 400)
    for lang in ("de", "en"):
        assert (small / f"dict.{lang}.txt").read_bytes() == (workdir / "data/tokenizer/bin" / f"dict.{lang}.txt").read_bytes()
        assert (small / f"dict.{lang}.txt").read_bytes() == (large / f"dict.{lang}.txt").read_bytes()
        # valid and test are the shared ones, byte for byte
        for split in ("valid", "test"):
            name = f"{split}.de-en.{lang}.bin"
            assert (small / name).read_bytes() == (workdir / "data/tokenizer/bin" / name).read_bytes()
    # nesting: the 200-pair training set is the start of the 400-pair one
    s, big = (small / "train.de-en.en.bin").read_bytes(), (large / "train.de-en.en.bin").read_bytes()
    assert big.startswith(s) and len(big) > len(s)


def test_a_misaligned_condition_pool_is_refused_not_truncated(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    pool = workdir / "data/conditions/misaligned/pool"
    pool.parent.mkdir(parents=True)
    (pool.with_suffix(".de")).write_text("eins\nzwei\ndrei\n")
    (pool.with_suffix(".en")).write_text("one\ntwo\n")
    with pytest.raises(ValueError, match=r"misaligned/pool.de has 3 lines but .*pool.en has 2: .*not aligned"):
        dataset.build("misaligned", 2)


def test_a_training_size_beyond_the_pool_is_refused(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    with pytest.raises(ValueError, match=r"train_size 601 exceeds the 600 pairs of data/conditions/real/pool.de"):
        dataset.build("real", 601)

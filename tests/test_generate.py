"""The generate stage against an OpenAI-compatible server on 127.0.0.1 (the fault-injecting test server):
a generated condition keeps the German sentences of `real`, a re-run asks nothing, a killed run resumes
without losing or repeating an item, and the API key never reaches an output."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fault_server import MODEL, FaultServer, translate
from helpers import REPO

from regurgitative import profile
from regurgitative.data import corpus
from regurgitative.generators import generate, translation
from regurgitative.generators.response_cache import request_key
from regurgitative.params import ParamsError
from regurgitative.paths import PREPARED_DIR

pytestmark = pytest.mark.integration  # the test tier (tests/conftest.py)

KEY_ENV = "REGURGITATIVE_TEST_KEY"
SECRET = "sk-test-do-not-leak-42"


def write_workdir(root: Path, base_url: str, api: str = "completions", concurrency: int = 2) -> None:
    """A prepared real corpus (30 pool, 10 valid, 8 test pairs of the embedded corpus) and a params.yaml
    whose only generator is the test server."""
    pairs = corpus.read_tsv(REPO / "data/corpus/libreoffice-help.de-en.tsv.xz")[:3000]
    pairs, _ = corpus.clean(pairs, corpus.CleaningRules(min_words=3))
    (root / PREPARED_DIR).mkdir(parents=True)
    for name, part in (("pool", pairs[:30]), ("valid", pairs[30:40]), ("test", pairs[40:48])):
        for field in ("de", "en", "doc"):
            (root / PREPARED_DIR / f"{name}.{field}").write_text("".join(getattr(p, field) + "\n" for p in part))
    params = profile.render("ci", REPO / "profiles")
    params["generators"]["fake"] = {"kind": "openai", "base_url": base_url, "api_key_env": KEY_ENV,
                                    "model": MODEL, "api": api, "prompt": "few_shot" if api == "completions" else "instruct",
                                    "decoding": {"max_tokens": 16, "temperature": 0.0},
                                    "price_per_million_tokens": {"input": 1.0, "output": 2.0}}
    params["prompts"]["few_shot"]["shots"] = 2
    params["grid"].update(conditions=["real", "fake"], generators=["fake"], teachers=[], train_sizes=[20, 30],
                          mitigations=[])
    params["generate"].update(pool_size=30, test_size=None, detector_size=0, concurrency=concurrency,
                              timeout_seconds=5, max_retries=3)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_ENV, SECRET)
    return tmp_path


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_a_generated_condition_keeps_exactly_the_german_of_real(workdir):
    with FaultServer() as server:
        write_workdir(workdir, server.base_url)
        metrics = generate.generate("fake")
    pool_de = lines(workdir / "data/prepared/pool.de")
    assert lines(workdir / "data/conditions/fake/pool.de") == pool_de[:30]
    assert lines(workdir / "data/conditions/fake/pool.en") == [translate(de) for de in pool_de[:30]]
    assert metrics["requests"] == 38 and metrics["cache_hits"] == 0 and metrics["condition_pairs"] == 30
    assert metrics["prompt_tokens"] == 380 and metrics["cost_usd"] == pytest.approx((380 * 1 + 190 * 2) / 1e6)
    assert 0 <= metrics["test_bleu"] <= 100


def test_few_shot_examples_are_typical_length_validation_pairs_from_distinct_documents(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / PREPARED_DIR).mkdir(parents=True)
    valid = [("Kurz.", "Short.", "a"),                                     # 1 word
             ("Eins zwei drei vier fünf.", "One two three four five.", "a"),  # 5 words
             ("Das ist ein Satz mit sechs.", "That is a sentence with six.", "a"),  # 6, same document
             ("Vier Wörter sind hier.", "Four words are here.", "b"),        # 4
             ("Ein sehr langer Satz " * 5, "A very long sentence " * 5, "c")]  # 20
    for k, field in enumerate(("de", "en", "doc")):
        (tmp_path / PREPARED_DIR / f"valid.{field}").write_text("".join(v[k] + "\n" for v in valid))
    pool = ["eins zwei drei vier fünf", "a b c d e f", "a b c d"]             # median: 5 words
    # Closest to 5 words: the 5-word pair; its document's 6-word pair is skipped; then the 4-word pair.
    assert translation.few_shot_examples(2, pool) == [valid[1][:2], valid[3][:2]]
    assert translation.few_shot_examples(0, pool) == []


def test_every_prompt_is_recorded_and_its_examples_come_from_validation_only(workdir):
    with FaultServer() as server:
        write_workdir(workdir, server.base_url)
        generate.generate("fake")
        sent = [r["body"]["prompt"] for r in server.requests]
    items = [json.loads(x) for x in lines(workdir / "data/generated/fake/items.jsonl")]
    assert sorted(it["prompt"] for it in items) == sorted(sent)
    valid_de = set(lines(workdir / "data/prepared/valid.de"))
    held_de = set(lines(workdir / "data/prepared/pool.de")) | set(lines(workdir / "data/prepared/test.de"))
    for it in items:
        examples = [ln[len("German: "):] for ln in it["prompt"].splitlines() if ln.startswith("German: ")][:-1]
        assert len(examples) == 2 and set(examples) <= valid_de and not set(examples) & held_de
        assert it["prompt"].endswith(f"German: {it['de']}\nEnglish:")


def test_a_rerun_asks_nothing(workdir):
    with FaultServer() as server:
        write_workdir(workdir, server.base_url)
        generate.generate("fake")
        first = len(server.requests)
        again = generate.generate("fake")
    assert len(server.requests) == first and again["requests"] == 0 and again["cache_hits"] == 38


def test_a_remote_generator_sends_no_llama_cpp_field_and_keeps_its_cache_key(workdir):
    """An openai-kind generator's requests carry no repeat_penalty (OpenAI's API refuses unknown fields), even
    though the profile's local generators state it; its cache key is what it always was (endpoint and model,
    the request, the decoding: nothing of this machine's llama.cpp build, and never the key); a repeat_penalty
    in its params is refused with the key named, before anything is sent."""
    with FaultServer() as server:
        write_workdir(workdir, server.base_url)
        params = yaml.safe_load((workdir / "params.yaml").read_text())
        assert params["generators"]["smollm2-135m"]["decoding"]["repeat_penalty"] == 1.1
        generate.generate("fake")
        sent = len(server.requests)
        assert sent == 38 and not any("repeat_penalty" in r["body"] for r in server.requests)
        params["generators"]["fake"]["decoding"]["repeat_penalty"] = 1.1
        (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        with pytest.raises(ParamsError, match=r"generators\.fake\.decoding\.repeat_penalty is for llama_cpp"):
            generate.generate("fake")
        assert len(server.requests) == sent
    for line in lines(workdir / "data/llm-cache/fake.jsonl"):
        record = json.loads(line)
        assert record["request"] == {"model_id": f"{server.base_url.rstrip('/')}|{MODEL}", "api": "completions",
                                     "prompt": record["request"]["prompt"], "max_tokens": 16, "temperature": 0.0}
        assert record["key"] == request_key(record["request"])


def test_the_api_key_reaches_no_output(workdir):
    with FaultServer() as server:
        write_workdir(workdir, server.base_url)
        generate.generate("fake")
    for path in [*workdir.rglob("*")]:
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path


def test_flagged_items_can_be_dropped_and_are_reported(workdir):
    with FaultServer(blank_every=3) as server:  # requests 3, 6, ..., 30 (pool items 2, 5, ..., 29) answer ''
        write_workdir(workdir, server.base_url, concurrency=1)
        params = yaml.safe_load((workdir / "params.yaml").read_text())
        params["generate"]["flagged"] = "drop"
        (workdir / "params.yaml").write_text(yaml.safe_dump(params))
        metrics = generate.generate("fake")
    left_out = json.loads((workdir / "data/conditions/fake/left_out.json").read_text())
    kept = lines(workdir / "data/conditions/fake/pool.de")
    assert {item["index"] for item in left_out if item["flags"] == ["empty"]} == set(range(2, 30, 3))
    assert metrics["left_out"] == len(left_out) and len(kept) + len(left_out) == 30
    assert metrics["flag_rates"]["empty"] == pytest.approx(10 / 30, abs=1e-4)
    assert not {item["de"] for item in left_out} & set(kept)


def test_a_killed_generation_resumes_without_losing_or_repeating_an_item(workdir):
    with FaultServer(delay=0.15) as server:
        write_workdir(workdir, server.base_url, concurrency=1)
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        cmd = [sys.executable, "-m", "regurgitative.generators.generate", "--generator", "fake"]
        proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cache = workdir / "data/llm-cache/fake.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not cache.exists() or len(cache.read_bytes().splitlines()) < 10):
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        answered_before = len(cache.read_bytes().splitlines())
        assert 10 <= answered_before < 38, "the kill came too late to test resuming"
        done = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((workdir / "results/generators/fake.json").read_text())
    prompts = [r["body"]["prompt"] for r in server.requests]
    # Nothing lost: every sentence has its answer; nothing repeated: the resumed run asked only the rest.
    assert metrics["cache_hits"] == answered_before and metrics["requests"] == 38 - answered_before
    assert len(lines(cache)) == 38 and len({json.loads(x)["key"] for x in lines(cache)}) == 38
    # At most the one request in flight at the kill (concurrency 1) was sent twice: its answer never arrived.
    assert len(prompts) - len(set(prompts)) <= 1

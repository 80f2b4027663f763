"""A rerun that reproduces a result writes the same bytes: no time, speed or timestamp in what DVC hashes (outs and
metrics), so that `dvc status` and `git diff dvc.lock` after a rerun tell an identical result from a different one.
Times go to logs/times/<stage>.json (regurgitative.timing), fairseq's timestamped logs to logs/fairseq/, and a
checkpoint keeps only what translation needs. The integration test trains and scores the same tiny student in two
repository copies and compares every output file's hash."""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import REPO, prepared_corpus

from regurgitative import profile, timing
from regurgitative.students import fairseq

# A fairseq json log as --log-format json writes it: stamped lines, per-epoch wall time and speed.
LOG = """\
2025-01-02 10:00:00 | INFO | fairseq_cli.train | task: TranslationTask
2025-01-02 10:00:05 | INFO | valid | {"epoch": 1, "valid_loss": "9.5", "valid_nll_loss": "9.4", "valid_ppl": "724.08", "valid_wps": "5120.3", "valid_wpb": "100", "valid_bsz": "5", "valid_num_updates": "10"}
2025-01-02 10:00:05 | INFO | train | {"epoch": 1, "train_loss": "10.1", "train_wps": "1000", "train_train_wall": "4", "train_wall": "5"}
2025-01-02 10:00:09 | INFO | valid | {"epoch": 2, "valid_loss": "9.25", "valid_nll_loss": "9.1", "valid_ppl": "608.9", "valid_wps": "4980.1", "valid_wpb": "100", "valid_bsz": "5", "valid_num_updates": "20"}
2025-01-02 10:00:09 | INFO | train | {"epoch": 2, "train_loss": "9.3", "train_wps": "2000", "train_train_wall": "1", "train_wall": "9"}
2025-01-02 10:00:10 | INFO | fairseq_cli.train | done training in 9.8 seconds
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hashes(root: Path, folders: list[str]) -> dict[str, str]:
    """Every file below the folders (relative to root) -> its hash."""
    return {str(p.relative_to(root)): sha256(p) for f in folders for p in sorted((root / f).rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------------ unit
@pytest.mark.unit
def test_the_summary_has_no_time_and_the_times_are_read_apart(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(LOG)
    summary, times = fairseq.summarize_log(log), fairseq.training_times(log)
    assert summary == {"epochs": 2, "best_epoch": 2, "best_valid_loss": 9.25, "best_valid_ppl": 608.9, "updates": 20,
                       "valid_losses": [9.5, 9.25]}
    assert times == {"fairseq_train_wall_seconds": 5.0, "target_words_per_second": 1200.0,
                     "fairseq_loop_seconds": 9.8}
    # a time-free summary: changing every time and speed in the log changes none of it
    other = tmp_path / "other.log"
    other.write_text(LOG.replace("10:00", "23:59").replace('"train_wps": "1000"', '"train_wps": "3"')
                     .replace('"valid_wps": "5120.3"', '"valid_wps": "1"').replace("9.8 seconds", "99 seconds"))
    assert fairseq.summarize_log(other) == summary and fairseq.training_times(other) != times


@pytest.mark.unit
def test_fairseqs_logs_go_below_logs_mirroring_the_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fairseq.log_path(Path("models/real/100/seed1/train.log")) == Path("logs/fairseq/models/real/100/seed1/train.log")
    assert fairseq.log_path(tmp_path / "results/eval/r/generate.log") == Path("logs/fairseq/results/eval/r/generate.log")
    assert fairseq.log_path(Path("/elsewhere/x.log")) == Path("logs/fairseq/elsewhere/x.log")


@pytest.mark.unit
def test_times_are_recorded_under_logs_and_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = timing.record("train@real-100-1", train_seconds=12.3456, target_words_per_second=None, updates=60)
    assert path == Path("logs/times/train@real-100-1.json")
    assert json.loads(path.read_text()) == {"stage": "train@real-100-1", "train_seconds": 12.346,
                                            "target_words_per_second": None, "updates": 60}
    assert "train@real-100-1" in capsys.readouterr().out and "12.346" in path.read_text()
    assert timing.read("train@real-100-1")["train_seconds"] == 12.346
    with pytest.raises(FileNotFoundError, match=r"logs/times/evaluate@x\.json: no times of stage evaluate@x"):
        timing.read("evaluate@x")


@pytest.mark.integration  # torch's import alone would add seconds to the unit tier
def test_a_checkpoint_keeps_what_translation_needs_and_saves_the_same_bytes(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    weights = {"encoder.w": torch.randn(8, 8), "decoder.w": torch.randn(8, 8)}

    def checkpoint(path: Path, wall: float, port: int, key: str) -> Path:
        """As fairseq-train saves it: the optimizer's state and resumption's timers next to weights and cfg."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # fairseq's cfg holds one key in two places, the same string object in one run and two equal ones in the
        # next: pickle writes the first once and refers to it, the second twice (two runs' bytes differed so)
        torch.save({"args": None, "cfg": {"common": {"no_progress_bar": False}, "checkpoint": {key: False},
                                          "model": argparse.Namespace(arch="transformer"),
                                          "task": {"data": "data/datasets/real/100"},
                                          "distributed_training": {"distributed_init_method": f"tcp://localhost:{port}",
                                                                   "distributed_port": port}},
                    "model": weights, "criterion": None, "task_state": {},
                    "optimizer_history": [{"criterion_name": "LabelSmoothedCrossEntropyCriterion",
                                           "optimizer_name": "FairseqAdam", "lr_scheduler_state": {"best": 9.25},
                                           "num_updates": 20}],
                    "last_optimizer_state": {"state": {0: {"exp_avg": torch.randn(8, 8), "exp_avg_sq": torch.randn(8, 8)}}},
                    "extra_state": {"metrics": {"train": {"wall": wall}}, "previous_training_time": wall,
                                    "train_iterator": {"epoch": 2, "iterations_in_epoch": 0}, "val_loss": 9.25,
                                    "best": 9.25}}, path)
        return path

    a = checkpoint(tmp_path / "a/checkpoint_best.pt", 12.5, 12345, "no_progress_bar")
    b = checkpoint(tmp_path / "b/other_name.pt", 99.0, 54321, "".join(["no_", "progress_bar"]))
    assert sha256(a) != sha256(b)
    before, after = fairseq.strip_checkpoint(a)
    fairseq.strip_checkpoint(b)
    assert sha256(a) == sha256(b) and after == a.stat().st_size < before
    state = torch.load(a, weights_only=False)
    assert set(state) == {"args", "cfg", "model", "criterion", "task_state", "optimizer_history", "extra_state"}
    assert state["extra_state"] == {"val_loss": 9.25, "best": 9.25}
    assert state["cfg"]["distributed_training"] == {"distributed_init_method": None, "distributed_port": -1}
    assert all(torch.equal(state["model"][k], v) for k, v in weights.items())
    # fairseq-generate loading a stripped checkpoint: the integration test below


@pytest.mark.unit
def test_a_local_fine_tunes_times_stay_out_of_its_training_json(tmp_path, monkeypatch):
    """E10's local backend: the training seconds and tokens per second that local.train returns go to the stage's
    times, not into models/finetune/<run>/training.json (LoRA itself stood in for)."""
    import sys
    import types

    import regurgitative.finetune as package
    from regurgitative.finetune import train as finetune
    from regurgitative.generators import llama_server
    saved: dict = {}
    fake = types.SimpleNamespace(
        load=lambda gguf, threads=None: ("model", "tokenizer"), prompt_text=lambda tok, payload: "prompt",
        answer_text=lambda tok, payload, english, template: english, encode=lambda tok, prompt, answer, n: answer,
        train=lambda model, tok, examples, hp, seed: {"examples": len(examples), "seconds": 2.5, "tokens_per_second": 4.0,
                                                      "curve": [{"epoch": 1, "step": 1, "train_loss": 1.5}],
                                                      "model": "peft"},
        environment=lambda: {"device": "cpu"}, save_adapter=lambda model, out, record: saved.update(record),
        translate=lambda model, tok, prompts, decoding, batch_size: ["x"] * len(prompts))
    monkeypatch.setitem(sys.modules, "regurgitative.finetune.local", fake)
    monkeypatch.setattr(package, "local", fake, raising=False)
    monkeypatch.setattr(llama_server, "gguf_path", lambda model: tmp_path / "base.gguf")
    monkeypatch.setattr(llama_server, "file_sha256", lambda path: "0" * 64)
    params = {"finetune": {"local": {"max_length": 64, "decode_batch_size": 2}}}
    record, answers, times = finetune._local_run(params, {"model": "m", "api": "chat", "decoding": {}},
                                                 {"user": "{de}"}, [("a", "b")], ["c", "d"], 1, tmp_path / "adapter")
    assert answers == ["x", "x"] and saved == record and saved["final_train_loss"] == 1.5
    assert not [k for k in saved if "second" in k], saved
    assert times["train_seconds"] == 2.5 and times["train_tokens_per_second"] == 4.0 and "translate_seconds" in times


# ------------------------------------------------------------------------------------------------ integration
@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A repository root with the ci profile, a prepared pool of real pairs from the embedded corpus and the shared
    tokenizer: what a student's stages start from."""
    root = tmp_path_factory.mktemp("determinism") / "a"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        profile.write("ci", root / "params.yaml", REPO / "profiles")
        params = yaml.safe_load((root / "params.yaml").read_text())
        # A ci student barely learns and loops to fairseq's length limit: 12 pieces keep its translation quick.
        params["evaluate"]["fairseq_args"].update({"max-len-a": 0, "max-len-b": 12})
        params["train"]["fairseq_args"]["max-update"] = 20    # a few epochs, each validated and checkpointed
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        prepared_corpus(read=5000, pool=200, valid=30, test=20)
    return root


def run_student(root: Path) -> None:
    """dataset@real-100, train@real-100-1 and evaluate@real-100-1 in `root`, as `dvc repro` runs them."""
    from regurgitative.students import dataset, evaluate, train
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        dataset.build("real", 100)
        train.train("real", 100, 1)
        evaluate.evaluate("real", 100, 1)


@pytest.mark.integration
def test_the_same_student_trained_twice_gives_the_same_bytes_and_its_times_go_to_logs(prepared):
    first, second = prepared, prepared.parent / "b"
    shutil.copytree(first, second)          # the same inputs in another directory: no absolute path may leak in
    run_student(first)
    run_student(second)
    outputs = ["data/datasets/real/100", "models/real/100/seed1", "results/eval/real-100-1", "results/runs"]
    a, b = hashes(first, outputs), hashes(second, outputs)
    assert "models/real/100/seed1/checkpoint_best.pt" in a and "results/runs/real-100-1.json" in a
    assert a == b, {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    # no fairseq log in the model or the results (fairseq-preprocess's own preprocess.log in the data-bin holds no
    # time); the times and fairseq's logs are below logs/
    assert not [k for k in a if k.endswith(".log") and not k.startswith("data/")], sorted(a)
    model = first / "models/real/100/seed1"
    summary = json.loads((model / "train.json").read_text())
    assert summary["updates"] > 0 and not [k for k in summary if "second" in k or "wall" in k]
    run = json.loads((first / "results/runs/real-100-1.json").read_text())
    assert run["bleu"] >= 0 and not [k for k in run if "second" in k or "wall" in k]
    for root in (first, second):
        trained = json.loads((root / "logs/times/train@real-100-1.json").read_text())
        assert trained["train_seconds"] > 0 and trained["fairseq_loop_seconds"] > 0, trained
        assert "fairseq_train_wall_seconds" in trained and "target_words_per_second" in trained, trained
        evaluated = json.loads((root / "logs/times/evaluate@real-100-1.json").read_text())
        assert evaluated["generate_seconds"] > 0, evaluated
        assert "done training in" in (root / "logs/fairseq/models/real/100/seed1/train.log").read_text()
        assert "H-0\t" in (root / "logs/fairseq/results/eval/real-100-1/generate.log").read_text()
    # what stays in the checkpoint: the weights and cfg that fairseq-generate loaded above, nothing to resume from
    torch = pytest.importorskip("torch")
    state = torch.load(model / "checkpoint_best.pt", weights_only=False)
    assert "last_optimizer_state" not in state and set(state["extra_state"]) <= {"val_loss", "best"}
    assert state["model"] and state["cfg"]["model"].arch == "transformer"   # fairseq keeps an arch's cfg as a Namespace

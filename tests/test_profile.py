"""Profiles: overlays on the default, chosen with one command."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from helpers import REPO

from regurgitative import profile
from regurgitative.params import ParamsError, param
from regurgitative.validation import check_grid

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)


def test_overlay_replaces_leaves_and_lists_and_keeps_the_rest():
    base = {"grid": {"train_sizes": [1, 2, 3], "seeds": [1]}, "train": {"fairseq_args": {"lr": 1, "arch": "t"}}}
    merged = profile.merge(base, {"grid": {"train_sizes": [5]}, "train": {"fairseq_args": {"lr": 2}}})
    assert merged == {"grid": {"train_sizes": [5], "seeds": [1]}, "train": {"fairseq_args": {"lr": 2, "arch": "t"}}}
    assert base["grid"]["train_sizes"] == [1, 2, 3]


@pytest.mark.parametrize("name", ["default", "ci", "study", "paper"])
def test_every_profile_renders_with_the_keys_the_stages_read(name):
    params = profile.render(name, REPO / "profiles")
    for key in ("corpus.source", "clean", "split.test_size", "tokenizer.vocab_size", "grid.conditions",
                "grid.train_sizes", "grid.seeds", "train.device", "train.fairseq_args", "evaluate.fairseq_args"):
        param(params, key)
    assert params["grid"]["conditions"][0] == "real"


def test_a_typo_in_a_profile_is_refused(tmp_path):
    (tmp_path / "default.yaml").write_text("grid:\n  seeds: [1]\n")
    (tmp_path / "typo.yaml").write_text("grid:\n  sedes: [1, 2]\n")
    with pytest.raises(SystemExit, match=r"typo\.yaml: key grid\.sedes is not in default\.yaml"):
        profile.render("typo", tmp_path)


def test_switching_writes_params_yaml(tmp_path):
    profile.write("ci", tmp_path / "params.yaml", REPO / "profiles")
    text = (tmp_path / "params.yaml").read_text()
    assert text.startswith("# Profile 'ci'")
    assert yaml.safe_load(text) == profile.render("ci", REPO / "profiles")


def test_missing_key_error_names_the_key_and_file():
    with pytest.raises(ParamsError, match=r"params\.yaml: missing key 'train\.fairseq_args' \(no 'fairseq_args' under train\)"):
        param({"train": {"device": "cpu"}}, "train.fairseq_args")


# ------------------------------------------------------------------------------ a grid that names what exists
@pytest.mark.parametrize("name", ["default", "ci", "study", "paper"])
def test_every_profile_passes_the_grid_check(name):
    check_grid(profile.render(name, REPO / "profiles"))


@pytest.mark.parametrize("change, message", [
    (lambda p: p["grid"]["conditions"].append("gpt-5-mini"),
     r"grid\.conditions names 'gpt-5-mini', which no stage builds; conditions are `real`, a generator of "
     r"grid\.generators \(gemma3-270m\) or of grid\.teachers \(teacher-low\)"),
    (lambda p: p["grid"]["conditions"].append("gpt-4o-mini"),
     r"'gpt-4o-mini', which no stage builds; add it to grid\.generators \(an LLM\)"),
    (lambda p: p["grid"]["conditions"].append("gemma3-270m-by-oracle"),
     r"it is a mitigation: name it in grid\.mitigations"),
    (lambda p: p["grid"]["teachers"].append("gemma3-270m"),
     r"grid\.teachers names 'gemma3-270m', whose generators\.gemma3-270m\.kind is 'llama_cpp': name it in "
     r"grid\.generators instead"),
    (lambda p: p["grid"]["mitigations"].append("mix-gemma-teachers"),
     r"mitigations\.mix-gemma-teachers draws on generator 'teacher-high', which is in neither"),
    (lambda p: p["grid"]["mitigations"].append("no-such-recipe"),
     r"grid\.mitigations names 'no-such-recipe', which is not under `mitigations`"),
    (lambda p: p["grid"]["train_sizes"].append(4000),
     r"grid\.train_sizes goes up to 4000, but the generators translate generate\.pool_size = 2500"),
    (lambda p: (p["grid"]["mitigations"].append("gemma3-270m-by-agreement"),
                p["mitigations"]["gemma3-270m-by-agreement"].update(score="bleu")),
     r"mitigations\.gemma3-270m-by-agreement\.score is 'bleu'; it must be one of agreement"),
    (lambda p: p["grid"]["mitigations"].append("gemma3-270m-by-detector"),
     r"mitigations\.gemma3-270m-by-detector orders by the detector, but generate\.detector_size is 0"),
    (lambda p: p["grid"]["conditions"].append("gemma3-270m"),
     r"generators\.gemma3-270m\.pool_size is 200, but gemma3-270m trains at up to 2000 pairs"),
    (lambda p: p["generators"]["gemma3-270m"].update(pool_size=3000),
     r"generators\.gemma3-270m\.pool_size is 3000; it must be a whole number from 1 to generate\.pool_size"),
])
def test_a_grid_naming_what_does_not_exist_is_refused_with_the_key_and_the_fix(change, message):
    params = profile.render("default", REPO / "profiles")
    change(params)
    with pytest.raises(ParamsError, match=message):
        check_grid(params)


def test_every_stage_refuses_such_a_grid_before_any_work(tmp_path):
    """What the issue saw: a condition that is no generator ended in `No such file` inside dataset@."""
    params = profile.render("default", REPO / "profiles")
    params["grid"]["conditions"].append("gpt-5-mini")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for cmd in (["regurgitative.validation"], ["regurgitative.students.dataset", "--condition", "gpt-5-mini", "--train-size", "1000"]):
        done = subprocess.run([sys.executable, "-m", *cmd], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode != 0 and "grid.conditions names 'gpt-5-mini'" in done.stderr, done.stderr[-1500:]
        assert "No such file" not in done.stderr
    assert not (tmp_path / "data").exists()

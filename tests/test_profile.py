"""Profiles: overlays on the default, chosen with one command."""
from __future__ import annotations

import pytest
import yaml
from helpers import REPO

from regurgitative import profile
from regurgitative.config import ParamsError, param


def test_overlay_replaces_leaves_and_lists_and_keeps_the_rest():
    base = {"grid": {"train_sizes": [1, 2, 3], "seeds": [1]}, "train": {"fairseq_args": {"lr": 1, "arch": "t"}}}
    merged = profile.merge(base, {"grid": {"train_sizes": [5]}, "train": {"fairseq_args": {"lr": 2}}})
    assert merged == {"grid": {"train_sizes": [5], "seeds": [1]}, "train": {"fairseq_args": {"lr": 2, "arch": "t"}}}
    assert base["grid"]["train_sizes"] == [1, 2, 3]


@pytest.mark.parametrize("name", ["default", "ci", "paper"])
def test_every_profile_renders_with_the_keys_the_stages_read(name):
    params = profile.render(name, REPO / "profiles")
    for key in ("corpus.source", "clean", "split.test_size", "tokenizer.vocab_size", "grid.conditions",
                "grid.train_sizes", "grid.seeds", "train.device", "train.fairseq_args", "evaluate.fairseq_args"):
        param(params, key)
    assert params["grid"]["conditions"][0] == "real"


def test_a_typo_in_a_profile_is_refused(tmp_path):
    (tmp_path / "default.yaml").write_text("grid:\n  seeds: [1]\n")
    (tmp_path / "typo.yaml").write_text("grid:\n  sedes: [1, 2]\n")
    with pytest.raises(SystemExit, match=r"typo\.yaml: keys not in default\.yaml .*grid\.sedes"):
        profile.render("typo", tmp_path)


def test_switching_writes_params_yaml(tmp_path):
    profile.write("ci", tmp_path / "params.yaml", REPO / "profiles")
    text = (tmp_path / "params.yaml").read_text()
    assert text.startswith("# Profile 'ci'")
    assert yaml.safe_load(text) == profile.render("ci", REPO / "profiles")


def test_missing_key_error_names_the_key_and_file():
    with pytest.raises(ParamsError, match=r"params\.yaml: missing key 'train\.fairseq_args' \(no 'fairseq_args' under train\)"):
        param({"train": {"device": "cpu"}}, "train.fairseq_args")

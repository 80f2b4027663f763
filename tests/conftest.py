import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, tests/ci_run.py, tests/remote_servers.py

import ci_run as _ci_run  # noqa: E402

# Every test belongs to exactly one tier (pyproject.toml's markers; docs/tests.md): `make test-fast` runs `unit`,
# `make test` all four. A test without a tier, or with two, is an error at collection, so none is skipped unseen.
TIERS = ("unit", "integration", "e2e", "remote")


def pytest_collection_modifyitems(config, items):
    wrong = [f"{item.nodeid}: {tiers or 'no tier'}" for item in items
             if len(tiers := sorted({m.name for m in item.iter_markers() if m.name in TIERS})) != 1]
    if wrong:
        raise pytest.UsageError("each test needs exactly one of the markers " + ", ".join(TIERS) + ":\n  "
                                + "\n  ".join(wrong))


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory) -> Path:
    """ONE ci-profile run per pytest session (minutes of CPU), shared by the e2e, remote and queue tests: a copy
    of the working tree after `dvc repro`, its results committed. Tests that change it copy or clone it first."""
    reuse = os.environ.get("REGURGITATIVE_CI_RUN")
    if reuse:  # a developer's shortcut: the assertions again, against a ci run built by an earlier session
        return Path(reuse)
    return _ci_run.build(tmp_path_factory.mktemp("e2e") / "repo")

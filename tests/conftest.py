import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py, tests/ci_run.py, tests/remote_servers.py

import ci_run as _ci_run  # noqa: E402

# Every test belongs to exactly one tier (pyproject.toml's markers; docs/tests.md): `make test-fast` runs `unit`,
# `make test` all four. A test without a tier, or with two, is an error at collection, so none is skipped unseen.
TIERS = ("unit", "integration", "e2e", "remote")


def tier(item) -> list[str]:
    return sorted({m.name for m in item.iter_markers() if m.name in TIERS})


def pytest_collection_modifyitems(config, items):
    wrong = [f"{item.nodeid}: {tiers or 'no tier'}" for item in items if len(tiers := tier(item)) != 1]
    if wrong:
        raise pytest.UsageError("each test needs exactly one of the markers " + ", ".join(TIERS) + ":\n  "
                                + "\n  ".join(wrong))
    # Tier by tier, in TIERS' order (file order within a tier): the seconds-long tiers report first. The ci run
    # is not built in the background meanwhile: two llama.cpp servers on 2 cores (the ci run's and an
    # integration test's) spin-wait against each other, and a test that times a dying server failed that way.
    items.sort(key=lambda item: TIERS.index(tier(item)[0]))


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory) -> Path:
    """ONE ci-profile run per pytest session (minutes of CPU), shared by the e2e, remote and queue tests: a copy
    of the working tree after `dvc repro`, its results committed. Tests that change it copy or clone it first."""
    reuse = os.environ.get("REGURGITATIVE_CI_RUN")
    if reuse:  # a developer's shortcut: the assertions again, against a ci run built by an earlier session
        return Path(reuse)
    return _ci_run.build(tmp_path_factory.mktemp("e2e") / "repo")

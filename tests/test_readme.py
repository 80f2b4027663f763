"""The README's results block is the one `make figures` writes, never a hand-typed copy."""
from __future__ import annotations

from pathlib import Path

import pytest

from regurgitative import figures

REPO = Path(__file__).resolve().parents[1]


def test_the_committed_readme_shows_the_committed_results():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = (REPO / "paper/tables/readme_results.md").read_text(encoding="utf-8")
    assert figures.README_START + "\n" + block + figures.README_END in readme, \
        "README.md's results block is not paper/tables/readme_results.md: run `make figures`"


def test_splicing_replaces_only_the_block(tmp_path):
    readme, block = tmp_path / "README.md", tmp_path / "block.md"
    readme.write_text(f"intro\n{figures.README_START}\nold numbers\n{figures.README_END}\nrest\n")
    block.write_text("| new | table |\n")
    figures.splice_readme(readme, block)
    assert readme.read_text() == f"intro\n{figures.README_START}\n| new | table |\n{figures.README_END}\nrest\n"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="no results markers"):
        figures.splice_readme(readme, block)

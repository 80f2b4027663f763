"""The README's results block is the one `make figures` writes, never a hand-typed copy."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from regurgitative.report import figures

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)

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


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return "".join(c for c in heading.strip().lower().replace(" ", "-") if c.isalnum() or c in "-_")


@pytest.mark.parametrize("page", ["README.md", *sorted(p.relative_to(REPO).as_posix()
                                                      for p in (REPO / "docs").glob("*.md"))])
def test_every_link_of_the_front_page_and_the_docs_resolves(page):
    """Relative links point at files that exist, and #anchors at headings of the page they name."""
    path = REPO / page
    text = path.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if target.startswith(("http://", "https://")):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", dest.read_text(encoding="utf-8"),
                                                          flags=re.S), flags=re.M)
            if anchor not in {_anchor(h) for h in headings}:
                broken.append(target)
    assert not broken, f"{page}: links that lead nowhere: {broken}"

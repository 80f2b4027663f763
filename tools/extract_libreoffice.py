"""Build the embedded German-English corpus from Debian's LibreOffice help packages.

The help packs ``libreoffice-help-de`` and ``libreoffice-help-en-us`` hold the same file tree
(``usr/share/libreoffice/help/<lang>/text/...``), and every paragraph and heading carries the same
``par_id...``/``hd_id...`` attribute in both languages, so joining on (help file, element id) gives
exact, human-translated sentence pairs without any alignment heuristics.

Debian ships the help *compiled to HTML* (``.html``); the XML sources (``.xhp``) use the same ids, so
both dialects are read by one tolerant parser. Output is an xz-compressed TSV with the columns
``doc, id, de, en`` plus ``README.md`` (provenance, counts, hash) and ``LICENSE`` (MPL-2.0) beside it.

Run ``python tools/extract_libreoffice.py`` from the repository root. Standard library only,
so it runs before the project's virtual environment exists.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import lzma
import re
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

PACKAGES = {"de": "libreoffice-help-de", "en": "libreoffice-help-en-us"}
LANG_DIRS = {"de": "de", "en": "en-US"}  # directory names under HELP_ROOT
HELP_ROOT = Path("usr/share/libreoffice/help")
HELP_SUFFIXES = (".html", ".xhp")
DEFAULT_OUT = Path("data/corpus/libreoffice-help.de-en.tsv.xz")
HEADER = ("doc", "id", "de", "en")
MPL_URL = "https://www.mozilla.org/MPL/2.0/"
MPL_LOCAL = Path("/usr/share/common-licenses/MPL-2.0")
SHA_LINE = "Corpus SHA-256:"  # README marker that --check reads back

# Elements that carry one translatable unit: HTML paragraphs/headings (`<h>` occurs in 7.4's HTML as a
# typo for a heading) and the XML sources' <paragraph>.
UNIT_TAGS = frozenset({"p", "h", "h1", "h2", "h3", "h4", "h5", "h6", "paragraph"})
UNIT_ID = re.compile(r"^(?:par|hd)_id")
# HTML elements that never have an end tag; without this list they would swallow the rest of the file.
VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "wbr"}
)
# Content that is not running text: images and their alt text, index entries, scripts, comments.
SKIP_TAGS = frozenset(
    {"script", "style", "img", "image", "alt", "bookmark", "bookmark_value", "comment", "embedvar", "object"}
)
# Elements whose boundaries separate words (e.g. "<li>a</li><li>b</li>" must not become "ab").
BREAK_TAGS = frozenset(
    {"br", "p", "div", "li", "td", "th", "tr", "table", "ul", "ol", "pre", "paragraph", "listitem",
     "tablecell", "tablerow", "section"} | {f"h{i}" for i in range(1, 7)}
)
# C0/C1 control characters other than whitespace (whitespace is collapsed separately); soft hyphen and
# zero-width characters are invisible formatting that would only split tokens.
_INVISIBLE = re.compile("[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u00ad\u200b-\u200d\u2060\ufeff]")


# --------------------------------------------------------------------------------------------------
# Parsing: a tolerant mini-DOM on top of html.parser (the shipped .html is not well-formed XML:
# <meta>, <br>, <img> are unclosed), which also reads the .xhp XML dialect.
# --------------------------------------------------------------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list = field(default_factory=list)  # Node or str, in document order


class _TreeBuilder(HTMLParser):
    """Builds a Node tree and counts structural problems instead of failing on them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.problems = 0  # mismatched or unclosed tags

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: (v or "") for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):  # <x/> in XHTML/XML: never opened
        self.stack[-1].children.append(Node(tag, {k: (v or "") for k, v in attrs}))

    def handle_endtag(self, tag):
        if tag in VOID_TAGS:
            return
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                self.problems += len(self.stack) - 1 - depth  # elements closed implicitly
                del self.stack[depth:]
                return
        self.problems += 1  # stray end tag: ignore it

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse_markup(text: str) -> tuple[Node, int]:
    """Parse HTML or .xhp text; return (root node, number of structural problems)."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    unclosed = len(builder.stack) - 1
    return builder.root, builder.problems + unclosed


def _is_switch(node: Node) -> bool:
    if node.tag in ("switch", "switchinline"):  # .xhp
        return True
    return node.tag == "span" and node.attrs.get("class") in ("switch", "switchinline")  # .html


def _is_default_case(node: Node) -> bool:
    # .xhp: <defaultinline>/<default>; .html: <span hidden id="default...">
    return node.tag in ("default", "defaultinline") or node.attrs.get("id", "").startswith("default")


def _choose_case(node: Node) -> Node | None:
    """Pick the one variant of a switch that is rendered as text.

    A switch holds alternatives (e.g. "Command" on macOS vs "Ctrl" elsewhere); concatenating them gives
    "CommandCtrl+N". The default case is what most readers see; without one the first case is used.
    The rule is the same in both languages, so the two sides stay parallel.
    """
    cases = [c for c in node.children if isinstance(c, Node)]
    for case in cases:
        if _is_default_case(case):
            return case
    return cases[0] if cases else None


def _render(node: Node, out: list[str]) -> None:
    if node.tag in SKIP_TAGS:
        return
    if _is_switch(node):
        case = _choose_case(node)
        if case is not None:
            _render(case, out)
        return
    brk = node.tag in BREAK_TAGS
    if brk:
        out.append(" ")
    for child in node.children:
        if isinstance(child, str):
            out.append(child)
        else:
            _render(child, out)
    if brk:
        out.append(" ")


def normalize_text(text: str) -> str:
    """NFC, drop invisible characters, collapse all whitespace (tabs, newlines, NBSP) to single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    return " ".join(text.split())


def element_text(node: Node) -> str:
    """Plain text of an element: markup removed, inline text kept, whitespace normalised."""
    out: list[str] = []
    for child in node.children:  # the element itself is not a word break
        if isinstance(child, str):
            out.append(child)
        else:
            _render(child, out)
    return normalize_text("".join(out))


def extract_units(text: str) -> tuple[list[tuple[str, str]], int]:
    """Return ([(element id, plain text)] in document order, structural problems) for one help file.

    Units nested inside another unit are part of the outer unit's text and are not reported again.
    """
    root, problems = parse_markup(text)
    units: list[tuple[str, str]] = []
    todo = [root]
    while todo:  # iterative pre-order walk: deep files cannot hit the recursion limit here
        node = todo.pop()
        ident = node.attrs.get("id", "")
        if node.tag in UNIT_TAGS and UNIT_ID.match(ident):
            units.append((ident, element_text(node)))
            continue
        todo.extend(reversed([c for c in node.children if isinstance(c, Node)]))
    return units, problems


# --------------------------------------------------------------------------------------------------
# Joining the two languages
# --------------------------------------------------------------------------------------------------


@dataclass
class Stats:
    files: dict[str, int] = field(default_factory=lambda: {"de": 0, "en": 0})
    files_joined: int = 0
    files_only_one_side: int = 0
    files_unreadable: list[str] = field(default_factory=list)
    files_with_markup_problems: int = 0
    markup_problems: int = 0
    units: dict[str, int] = field(default_factory=lambda: {"de": 0, "en": 0})
    ids_only_one_side: int = 0
    empty_dropped: int = 0
    repeats_dropped: int = 0
    pairs: int = 0
    docs_with_pairs: int = 0
    distinct_pairs: set = field(default_factory=set, repr=False)  # (de, en) over all docs
    identical_sides: int = 0  # de == en: code, numbers, names (kept; prepare decides)


def list_help_files(lang_root: Path) -> dict[str, Path]:
    """Map relative path (posix) -> file for every help file under one language directory."""
    return {
        p.relative_to(lang_root).as_posix(): p
        for p in lang_root.rglob("*")
        if p.is_file() and p.suffix in HELP_SUFFIXES
    }


def _read_units(path: Path, stats: Stats, rel: str) -> list[tuple[str, str]] | None:
    try:
        text = path.read_text(encoding="utf-8")
        units, problems = extract_units(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        # Recorded and reported, not fatal: one broken page should not lose the whole corpus.
        stats.files_unreadable.append(f"{path.parent.name}/{rel}: {type(exc).__name__}: {exc}")
        return None
    if problems:
        stats.files_with_markup_problems += 1
        stats.markup_problems += problems
    return units


def _keyed(units: list[tuple[str, str]]) -> list[tuple[tuple[str, int], str]]:
    """Key each unit by (id, occurrence): a page that embeds the same section twice repeats its ids."""
    seen: dict[str, int] = {}
    keyed = []
    for ident, text in units:
        n = seen.get(ident, 0)
        seen[ident] = n + 1
        keyed.append(((ident, n), text))
    return keyed


def join_help_trees(de_root: Path, en_root: Path, stats: Stats | None = None):
    """Yield (doc, id, de, en) for every unit present and non-empty in both languages.

    Order: docs sorted by relative path, units in German document order (the same as English).
    Exact repeats of an (id, de, en) triple within one doc are dropped (they come from embedded
    sections). The same id with different text is kept, so `id` is not always unique within a doc.
    """
    stats = stats if stats is not None else Stats()
    de_files, en_files = list_help_files(de_root), list_help_files(en_root)
    stats.files["de"], stats.files["en"] = len(de_files), len(en_files)
    stats.files_only_one_side = len(de_files.keys() ^ en_files.keys())
    for doc in sorted(de_files.keys() & en_files.keys()):
        de_units = _read_units(de_files[doc], stats, doc)
        en_units = _read_units(en_files[doc], stats, doc)
        if de_units is None or en_units is None:
            continue
        stats.files_joined += 1
        stats.units["de"] += len(de_units)
        stats.units["en"] += len(en_units)
        en_by_key = dict(_keyed(en_units))
        de_keys = set()
        emitted: set[tuple[str, str, str]] = set()
        doc_pairs = 0
        for key, de_text in _keyed(de_units):
            de_keys.add(key)
            if key not in en_by_key:
                stats.ids_only_one_side += 1
                continue
            en_text = en_by_key[key]
            if not de_text or not en_text:
                stats.empty_dropped += 1
                continue
            triple = (key[0], de_text, en_text)
            if triple in emitted:
                stats.repeats_dropped += 1
                continue
            emitted.add(triple)
            stats.distinct_pairs.add((de_text, en_text))
            stats.identical_sides += de_text == en_text
            doc_pairs += 1
            yield doc, key[0], de_text, en_text
        stats.ids_only_one_side += len(en_by_key.keys() - de_keys)
        stats.pairs += doc_pairs
        stats.docs_with_pairs += doc_pairs > 0


def write_tsv_xz(rows, out: Path) -> None:
    """Write header + rows as UTF-8 TSV, xz preset 9 (deterministic for a given liblzma)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")  # never leave a truncated corpus under the real name
    with lzma.open(tmp, "wb", format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9) as fh:
        fh.write(("\t".join(HEADER) + "\n").encode("utf-8"))
        for row in rows:
            if any("\t" in f or "\n" in f or "\r" in f for f in row):  # normalisation guarantees this
                raise ValueError(f"field with tab/newline in {row[:2]}")
            fh.write(("\t".join(row) + "\n").encode("utf-8"))
    tmp.replace(out)


# --------------------------------------------------------------------------------------------------
# Debian packages
# --------------------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def deb_field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], check=True, capture_output=True, text=True
    ).stdout.strip()


def apt_download(dest: Path, version: str | None) -> list[Path]:
    """Download both help packs with apt-get into dest (no root needed for `apt-get download`)."""
    specs = [f"{p}={version}" if version else p for p in PACKAGES.values()]
    subprocess.run(["apt-get", "download", *specs], cwd=dest, check=True)
    return sorted(dest.glob("*.deb"))


def identify_debs(debs: list[Path]) -> dict[str, dict]:
    """Map language -> {path, package, version, sha256}; fail unless both help packs are given."""
    found: dict[str, dict] = {}
    wanted = {pkg: lang for lang, pkg in PACKAGES.items()}
    for deb in debs:
        package = deb_field(deb, "Package")
        if package in wanted:
            found[wanted[package]] = {
                "path": deb,
                "package": package,
                "version": deb_field(deb, "Version"),
                "sha256": sha256_file(deb),
            }
    missing = [PACKAGES[lang] for lang in PACKAGES if lang not in found]
    if missing:
        raise SystemExit(f"error: no .deb for {', '.join(missing)} among {[str(d) for d in debs]}")
    return found


# --------------------------------------------------------------------------------------------------
# README / LICENSE / --check
# --------------------------------------------------------------------------------------------------


def write_license(path: Path) -> None:
    """Write LICENSE: a notice plus the full MPL-2.0 text when this machine has it."""
    notice = (
        "The German-English sentence pairs in this directory are extracted from the LibreOffice help\n"
        "(Debian packages libreoffice-help-de and libreoffice-help-en-us).\n\n"
        "Copyright 2000, 2010 Oracle and/or its affiliates.\n"
        "Copyright (c) 2000, 2010 LibreOffice contributors and/or their affiliates.\n\n"
        "This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0.\n"
        f"If a copy of the MPL was not distributed with this file, you can obtain one at {MPL_URL}\n\n"
        "The Debian copyright file also notes that some files include Apache-2.0 licensed material\n"
        "(originally from Apache OpenOffice): http://www.apache.org/licenses/LICENSE-2.0\n"
    )
    body = ""
    if MPL_LOCAL.is_file():
        body = "\n" + "=" * 78 + "\n\n" + MPL_LOCAL.read_text(encoding="utf-8")
    path.write_text(notice + body, encoding="utf-8")


def write_readme(path: Path, out: Path, debs: dict[str, dict], stats: Stats, corpus_sha: str,
                 command: str) -> None:
    size = out.stat().st_size
    today = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    version = debs["de"]["version"]
    deb_rows = "\n".join(
        f"| `{d['package']}` | `{d['version']}` | `{d['path'].name}` | `{d['sha256']}` |"
        for d in (debs["de"], debs["en"])
    )
    pinned = " ".join(f"{d['package']}={d['version']}" for d in (debs["de"], debs["en"]))
    unreadable = "\n".join(f"  - {u}" for u in stats.files_unreadable) or "  - none"
    text = f"""# LibreOffice help, German-English (`{out.name}`)

Human-translated German-English pairs from the LibreOffice help, the repository's default corpus
(used when the Europarl download is not available). Built on {today} by
`tools/extract_libreoffice.py`.

## Format

xz-compressed UTF-8 TSV, one header line `doc<TAB>id<TAB>de<TAB>en`, then one pair per line:

- `doc`: the help file's path relative to the language directory (e.g. `text/shared/01/01010000.html`).
  It is the *document* unit: split train/valid/test by `doc`, not by line, so boilerplate does not leak.
- `id`: the paragraph/heading id (`par_id...`/`hd_id...`) shared by both languages.
- `de`, `en`: plain text (markup removed, text of inline elements kept; for platform/application
  switches only the default variant is kept, e.g. "Ctrl" rather than "Command"), Unicode NFC,
  whitespace collapsed; no tabs or newlines.

Rows are sorted by `doc`, then document order. Only light normalisation was done here: headings, short
items and code snippets are kept; the prepare stage filters and deduplicates. Pages that embed another
page's section repeat that section's text (with its ids) in a second `doc`, so deduplicate test against
train. Within one `doc` an exact repeat of (id, de, en) was dropped; the same id with different text is
kept, so `id` is not always unique within a `doc`.

## Provenance

Debian 12 (bookworm) binary packages from deb.debian.org, extracted with `dpkg-deb -x`; the help is
shipped compiled to HTML under `usr/share/libreoffice/help/{{de,en-US}}/`.

| package | version | file | sha256 |
| --- | --- | --- | --- |
{deb_rows}

Rebuild (from the repository root):

```
{command}
```

or, pinned to the versions above (if the mirror still has them; otherwise fetch the two .deb files from
https://snapshot.debian.org/package/libreoffice/{version.split(':', 1)[-1]}/ and pass `--debs A.deb B.deb`):

```
mkdir -p /tmp/lo && (cd /tmp/lo && apt-get download {pinned})
python tools/extract_libreoffice.py --debs /tmp/lo/*.deb
```

Check an existing file against the hash below:

```
python tools/extract_libreoffice.py --check
```

Debian point releases replace package versions (security and stable updates), and the mirror then no
longer serves the old ones, so a rebuild with plain `apt-get download` may produce a different corpus.
That is why the hash of the produced file is recorded here; the experiments use the committed file.

## Counts

| | |
| --- | --- |
| help files (de / en) | {stats.files['de']} / {stats.files['en']} |
| help files joined | {stats.files_joined} |
| help files in one language only | {stats.files_only_one_side} |
| help files that could not be read/parsed | {len(stats.files_unreadable)} |
| help files with tag mismatches, parsed tolerantly (mismatches) | {stats.files_with_markup_problems} \
({stats.markup_problems}) |
| paragraphs/headings (de / en) | {stats.units['de']} / {stats.units['en']} |
| ids present in one language only (dropped) | {stats.ids_only_one_side} |
| pairs with an empty side (dropped) | {stats.empty_dropped} |
| exact repeats within a doc (dropped) | {stats.repeats_dropped} |
| **pairs written** | **{stats.pairs}** |
| distinct (de, en) pairs over all docs | {len(stats.distinct_pairs)} |
| pairs with identical de and en (code, numbers, names; kept) | {stats.identical_sides} |
| docs with at least one pair | {stats.docs_with_pairs} |
| compressed size | {size} bytes |

Files that could not be parsed:

{unreadable}

{SHA_LINE} `{corpus_sha}`

## Licence

The LibreOffice help is licensed under the Mozilla Public License 2.0 (MPL-2.0), {MPL_URL}.
Copyright 2000, 2010 Oracle and/or its affiliates; Copyright (c) 2000, 2010 LibreOffice contributors
and/or their affiliates. Debian's copyright file notes that some files include Apache-2.0 licensed
material. The extracted pairs in this directory remain under MPL-2.0 (see `LICENSE`), independent of the
licence of the code in this repository.
"""
    path.write_text(text, encoding="utf-8")


def recorded_sha(readme: Path) -> str | None:
    if not readme.is_file():
        return None
    match = re.search(re.escape(SHA_LINE) + r"\s*`?([0-9a-f]{64})", readme.read_text(encoding="utf-8"))
    return match.group(1) if match else None


def check(out: Path, readme: Path) -> int:
    """Compare the corpus hash with the one recorded in README.md; return an exit status."""
    expected = recorded_sha(readme)
    if expected is None:
        print(f"CHECK FAILED: no '{SHA_LINE}' line in {readme}", file=sys.stderr)
        return 2
    if not out.is_file():
        print(f"CHECK FAILED: {out} does not exist", file=sys.stderr)
        return 1
    actual = sha256_file(out)
    if actual != expected:
        print(f"CHECK FAILED: {out} has sha256 {actual}, {readme} records {expected}", file=sys.stderr)
        return 1
    print(f"OK: {out} matches the sha256 recorded in {readme} ({actual})")
    return 0


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def build(out: Path, deb_paths: list[Path] | None, apt_version: str | None, command: str) -> Stats:
    with tempfile.TemporaryDirectory(prefix="lo-help-") as tmp:
        tmp_path = Path(tmp)
        if not deb_paths:
            dl = tmp_path / "debs"
            dl.mkdir()
            deb_paths = apt_download(dl, apt_version)
        debs = identify_debs([Path(p) for p in deb_paths])
        root = tmp_path / "root"
        for info in debs.values():
            subprocess.run(["dpkg-deb", "-x", str(info["path"]), str(root)], check=True)
        stats = Stats()
        rows = join_help_trees(root / HELP_ROOT / LANG_DIRS["de"], root / HELP_ROOT / LANG_DIRS["en"], stats)
        write_tsv_xz(rows, out)
        if stats.files_joined == 0:
            raise SystemExit(f"error: no help files found under {HELP_ROOT} in the packages")
        corpus_sha = sha256_file(out)
        write_license(out.parent / "LICENSE")
        write_readme(out.parent / "README.md", out, debs, stats, corpus_sha, command)
    print(
        f"wrote {out}: {stats.pairs} pairs ({len(stats.distinct_pairs)} distinct) from "
        f"{stats.docs_with_pairs} docs, {out.stat().st_size} bytes, "
        f"sha256 {corpus_sha}"
    )
    print(
        f"dropped: {stats.empty_dropped} empty, {stats.ids_only_one_side} one-sided ids, "
        f"{stats.repeats_dropped} repeats; {stats.files_only_one_side} files in one language only"
    )
    if stats.files_unreadable:
        print(f"WARNING: {len(stats.files_unreadable)} help files could not be parsed:", file=sys.stderr)
        for item in stats.files_unreadable:
            print(f"  {item}", file=sys.stderr)
    if stats.files_with_markup_problems:
        print(
            f"note: {stats.files_with_markup_problems} files had {stats.markup_problems} tag mismatches "
            "(parsed tolerantly)",
            file=sys.stderr,
        )
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output .tsv.xz (default {DEFAULT_OUT}); README.md and LICENSE go beside it")
    parser.add_argument("--debs", type=Path, nargs="+", metavar="DEB",
                        help="use these already-downloaded .deb files instead of apt-get download")
    parser.add_argument("--apt-version", metavar="VERSION",
                        help="pin both packages to this Debian version, e.g. 4:7.4.7-1+deb12u14")
    parser.add_argument("--check", action="store_true",
                        help="only verify --out against the sha256 recorded in README.md beside it")
    args = parser.parse_args(argv)
    if args.check:
        status = check(args.out, args.out.parent / "README.md")
    else:
        command = "python tools/extract_libreoffice.py"
        if args.out != DEFAULT_OUT:
            command += f" --out {args.out}"
        build(args.out, args.debs, args.apt_version, command)
        status = 0
    return status


if __name__ == "__main__":
    sys.exit(main())

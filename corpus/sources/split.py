"""Which documents form the held-out general suite and the shipped training sample.

The held-out suite is chosen by document id, whole documents only, from public-domain sources, and is
committed (corpus/heldout/); its manifest is then the authority: training excludes those ids. The
selection rules below only matter when the suite is rebuilt (`python -m corpus build-suite`).

Reading order interleaves sources (one document from each in turn), so any prefix of the suite text, such
as the first 20,000 characters a quick gate reads, mixes registers instead of being all Austen.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from corpus.sources.document import Document

# Whole chapters, books and pages; sizes in characters as extracted (corpus/heldout/SOURCES.md).
HELDOUT_IDS: tuple[str, ...] = (
    # Persuasion, chapters 2-4 (37 KB)
    "austen/persuasion-002", "austen/persuasion-003", "austen/persuasion-004",
    # The Man Who Was Thursday, chapters I-II (35 KB)
    "gutenberg/chesterton-thursday-002", "gutenberg/chesterton-thursday-003",
    # Ruth, Jonah, Philemon, Jude and James (37 KB)
    "web/ruth-001", "web/ruth-002", "web/ruth-003", "web/ruth-004",
    "web/jonah-001", "web/jonah-002", "web/jonah-003", "web/jonah-004",
    "web/phlm-001", "web/jude-001",
    "web/jas-001", "web/jas-002", "web/jas-003", "web/jas-004", "web/jas-005",
    # SQLite pages (29 KB)
    "sqlite/serverless", "sqlite/selfcontained", "sqlite/nulls", "sqlite/inmemorydb", "sqlite/lang_attach",
    "sqlite/lang_savepoint", "sqlite/gencol", "sqlite/rowidtable", "sqlite/lang_naming", "sqlite/about",
    # The Devil's Dictionary, letters J and K (7 KB)
    "devil/j", "devil/k",
)  # fmt: skip
# Plus the "Introduction" (Background) document of every FACTBOOK_EVERY-th profile in id order (~55 KB).
FACTBOOK_EVERY = 6
FACTBOOK_OFFSET = 3

# Shipped training sample: characters per source (about 0.8 MB of files in all; the limit is 1 MB).
SAMPLE_BUDGET: dict[str, int] = {
    "austen": 160_000,
    "gutenberg": 180_000,
    "web": 150_000,
    "factbook": 130_000,
    "sqlite": 110_000,
    "devil": 50_000,
}
SAMPLE_SEED = 20240601


def heldout_selection(documents: Iterable[Document]) -> list[Document]:
    """The held-out documents, in interleaved reading order. KeyError if a listed id is missing."""
    by_id = {d.id: d for d in documents}
    ids = list(HELDOUT_IDS)
    intros = sorted(i for i in by_id if i.startswith("factbook/") and i.endswith("-introduction"))
    ids += [i for k, i in enumerate(intros) if k % FACTBOOK_EVERY == FACTBOOK_OFFSET]
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise KeyError(f"held-out documents missing from the corpus: {', '.join(missing[:5])}")
    return interleave([by_id[i] for i in ids])


def interleave(documents: Sequence[Document]) -> list[Document]:
    """Round-robin over sources (in order of first appearance), keeping each source's own order."""
    queues: dict[str, list[Document]] = {}
    for d in documents:
        queues.setdefault(d.source, []).append(d)
    out: list[Document] = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                out.append(queue.pop(0))
    return out


def sample_selection(
    documents: Iterable[Document],
    excluded_ids: set[str],
    budget: dict[str, int] = SAMPLE_BUDGET,
    seed: int = SAMPLE_SEED,
) -> list[Document]:
    """A seeded pick of training documents per source, each source filled up to its character budget."""
    rng = random.Random(seed)
    by_source: dict[str, list[Document]] = {}
    for d in sorted(documents, key=lambda d: d.id):
        if d.source in budget and d.id not in excluded_ids:
            by_source.setdefault(d.source, []).append(d)
    out: list[Document] = []
    for source in sorted(by_source):
        pool = by_source[source]
        rng.shuffle(pool)
        used = 0
        for d in pool:
            if used + len(d.text) <= budget[source]:
                out.append(d)
                used += len(d.text)
    return sorted(out, key=lambda d: d.id)

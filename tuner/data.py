"""What the tuner learns from: memory items, the queries about them, and general text for the anchor.

A *query* is a prompt and the answer the model should give to it:
  cloze  "User: My sister is called"                      -> " Ana"
  qa     "User: What's my sister's name?\\n\\nAssistant:"  -> " Your sister is called Ana.\\n\\n"
The student sees only the query, starting from the trainable state; the teacher sees the memory items in
its context first (chat-formatted), then the same query. Queries carry the id of the item they are about,
so a forgotten item's queries can never be used.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from model.chat_format import format_messages, memory_turns, normalize_content


@dataclass(frozen=True)
class MemoryText:
    id: int
    text: str  # kept (redacted) text, as the user said it


@dataclass(frozen=True)
class Query:
    item_id: int  # the item it is about (for a negative: the item whose context the teacher reads)
    prompt: str
    answer: str  # the target continuation (a checked query's becomes the teacher's own words)
    kind: str = "qa"  # "cloze" | "qa" | "negative" (the right answer is "I don't know.")
    value: str | None = None  # what a right answer contains whole; set: the teacher is checked (verify.py)
    hard: bool = False  # the target is `answer` itself (one-hot), not the teacher's distribution


@dataclass
class TrainingSet:
    items: list[MemoryText]  # tonight's items
    queries: list[Query]  # about tonight's items
    replay_items: list[MemoryText] = field(default_factory=list)  # earlier, still active items
    replay_queries: list[Query] = field(default_factory=list)
    general_texts: list[str] = field(default_factory=list)  # for the anchor term
    # "I don't know." questions, each tied to the item (tonight's or a replayed one) the teacher reads
    negatives: list[Query] = field(default_factory=list)

    def check(self) -> None:
        ids = {m.id for m in self.items}
        replay_ids = {m.id for m in self.replay_items}
        for q in self.queries:
            if q.item_id not in ids:
                raise ValueError(f"query about item {q.item_id}, which is not in tonight's items")
        for q in self.negatives:
            if q.item_id not in ids | replay_ids:
                raise ValueError(f"negative question tied to item {q.item_id}, which is not in the night")
        for q in self.replay_queries:
            if q.item_id not in replay_ids:
                raise ValueError(f"replay query about item {q.item_id}, which is not a replay item")
        if not self.queries and not self.replay_queries:
            raise ValueError("nothing to learn: no queries")

    def all_texts(self) -> list[str]:
        """Every string that goes into training (for audits such as the secrets check)."""
        out = [m.text for m in self.items + self.replay_items]
        out += [q.prompt + q.answer for q in self.queries + self.replay_queries + self.negatives]
        return out + list(self.general_texts)


def teacher_contexts(
    query: Query, items: Sequence[MemoryText], n_variants: int, max_items: int, rng: random.Random
) -> list[str]:
    """Chat transcripts holding the query's item among (at most max_items-1) others, in varied orders."""
    own = [m for m in items if m.id == query.item_id]
    others = [m for m in items if m.id != query.item_id]
    out = []
    for _ in range(n_variants):
        chosen = own + rng.sample(others, min(len(others), max_items - len(own)))
        rng.shuffle(chosen)
        out.append(format_messages(memory_turns([m.text for m in chosen])))
    return out


def qa_query(
    item_id: int, question: str, reply: str, kind: str = "qa", value: str | None = None, hard: bool = False
) -> Query:
    prompt = format_messages([{"role": "user", "content": question}], add_generation_prompt=True)
    return Query(item_id, prompt, " " + normalize_content(reply) + "\n\n", kind, value, hard)


def cloze_query(item_id: int, prompt: str, answer: str, value: str | None = None) -> Query:
    return Query(item_id, prompt, answer, "cloze", value)

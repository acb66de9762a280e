"""Exact teacher targets: the student learns what its teacher says, so the teacher's answers are checked
before they become targets.

For every query with a value (self-study questions, probes), the frozen model reads the asked item alone
in its context (a small model with eight facts in context blends and truncates rare names: "Raddeus" for
Radomir next to Thaddeus, and the state learns exactly that) and answers greedily. The query is kept only
if the answer contains the value whole, and its target becomes the teacher's own words. A fact none of
whose questions the teacher answers is *not learnable by this model*: reported, never trained on as a
near miss.

For a negative (the right answer is "I don't know."), the teacher reads the item the question neighbours
(where the temptation to leak is) and answers. If it abstains, its own answer is the target; if it names a
value instead, the target is "I don't know." by construction (a one-hot target, not its distribution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from model.chat_format import STOP_STRINGS, format_messages, memory_turns
from model.generate import SamplingConfig, generate
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import TrieTokenizer
from tuner.data import MemoryText, Query
from world.facts import find_span, mentions
from world.scoring import ABSTAIN_ANSWER, is_abstention, score_answer

TEACHER_TOKENS = 32
_QA = SamplingConfig(max_tokens=TEACHER_TOKENS, temperature=0.0, stop=(*STOP_STRINGS, "\n"))
_CLOZE = SamplingConfig(max_tokens=12, temperature=0.0, stop=(*STOP_STRINGS, "\n"))


@dataclass(frozen=True)
class Check:
    query: Query  # the query as trained (its answer is the teacher's words, or the constructed one)
    said: str  # what the teacher said
    ok: bool  # a value query: the teacher said the value whole; a negative: the teacher abstained


@dataclass
class Verification:
    checks: list[Check] = field(default_factory=list)

    @property
    def kept(self) -> list[Query]:
        """Queries that train: every negative, and value queries the teacher got right about a value it
        says to a question (a lucky cloze on a value no question draws out is a near miss, not a fact)."""
        learn = self.learnability()

        def trains(c: Check) -> bool:
            if c.query.kind == "negative":
                return True
            value = c.query.value
            if not c.ok or value is None or c.query.kind == "override":
                return c.ok
            return learn.get(c.query.item_id, {}).get(value, False)

        return [c.query for c in self.checks if trains(c)]

    def learnability(self) -> dict[int, dict[str, bool]]:
        """Per item, per value: whether any question about it was answered exactly by the teacher.

        Questions decide when an item has any; an item with cloze probes only is judged by those."""
        by_item: dict[int, dict[str, list[Check]]] = {}
        for c in self.checks:
            if c.query.value is not None and c.query.kind != "override":  # an override asks another value
                by_item.setdefault(c.query.item_id, {}).setdefault(c.query.value, []).append(c)
        out: dict[int, dict[str, bool]] = {}
        for item, values in by_item.items():
            out[item] = {}
            for value, checks in values.items():
                qa = [c for c in checks if c.query.kind != "cloze"]
                out[item][value] = any(c.ok for c in (qa or checks))
        return out

    def misses(self) -> list[dict[str, str]]:
        """What the teacher said instead, for the values it never said (for the report)."""
        learn = self.learnability()
        seen: set[tuple[int, str]] = set()
        out = []
        for c in self.checks:
            v = c.query.value
            if v is None or c.query.kind == "override":
                continue
            if learn.get(c.query.item_id, {}).get(v, True) or (c.query.item_id, v) in seen:
                continue
            seen.add((c.query.item_id, v))
            item = str(c.query.item_id)
            out.append(
                {"item_id": item, "value": v, "question": question_of(c.query), "said": c.said.strip()}
            )
        return out

    def summary(self) -> dict[str, int]:
        value = [c for c in self.checks if c.query.value is not None]
        neg = [c for c in self.checks if c.query.kind == "negative"]
        learn = self.learnability()
        facts = [ok for values in learn.values() for ok in values.values()]
        return {
            "value_queries": len(value),
            "value_queries_exact": sum(c.ok for c in value),
            "negatives": len(neg),
            "negatives_teacher_abstained": sum(c.ok for c in neg),
            "values": len(facts),
            "values_learnable": sum(facts),
        }


def question_of(query: Query) -> str:
    """The user's question of a QA query (its prompt is a chat transcript); a cloze prompt as it is."""
    if query.kind == "cloze":
        return query.prompt
    return query.prompt.removeprefix("User: ").split("\n\n", 1)[0]


def teacher_context(item: MemoryText) -> str:
    """The asked item alone, as the user's turn of a chat (acknowledged), the way facts were pretrained."""
    return format_messages(memory_turns([item.text]))


def _say(model: RWKV7, tok: TrieTokenizer, text: str, state: State, cfg: SamplingConfig) -> str:
    return generate(model, tok, text, state.clone(), cfg).text


def check_query(model: RWKV7, tok: TrieTokenizer, query: Query, item: MemoryText, base_state: State) -> Check:
    context = teacher_context(item)
    if query.kind == "negative":
        said = _say(model, tok, context + query.prompt, base_state, _QA)
        if is_abstention(said):
            return Check(replace(query, answer=said.rstrip() + "\n\n", hard=False), said, True)
        return Check(replace(query, answer=" " + ABSTAIN_ANSWER + "\n\n", hard=True), said, False)
    if query.value is None:  # an unchecked query keeps its written answer
        return Check(query, query.answer, True)
    if query.kind == "cloze":
        said = _say(model, tok, context + query.prompt, base_state, _CLOZE)
        span = find_span(said, query.value)
        # The value must open the continuation (after at most a space or an article-free word gap).
        ok = span is not None and not said[: span[0]].strip()
        answer = said[: span[1]] if ok and span is not None else query.answer
        return Check(replace(query, answer=answer), said, ok)
    said = _say(model, tok, context + query.prompt, base_state, _QA)
    ok = score_answer(said, query.value) and mentions(said, query.value)
    answer = said.rstrip() + "\n\n" if ok else query.answer
    return Check(replace(query, answer=answer), said, ok)


def verify(
    model: RWKV7,
    tok: TrieTokenizer,
    queries: Sequence[Query],
    items: Sequence[MemoryText],
    base_state: State,
) -> Verification:
    """Check every query against the teacher (see the module docstring)."""
    by_id = {m.id: m for m in items}
    out = Verification()
    for q in queries:
        out.checks.append(check_query(model, tok, q, by_id[q.item_id], base_state))
    return out

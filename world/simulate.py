"""The persona world: a seeded simulation of one user talking to an assistant over many days.

Each day the user, over a few conversations,
- reveals new facts about themselves (one fact per statement, among small talk),
- updates earlier facts (moves city, changes job, gets a new pet after the old one died, ...),
- chats about unrelated things (several kinds of small talk),
- sometimes asks about a fact stated earlier in the same conversation; the assistant answers correctly.

At the end of each day the world records ground-truth questions, held out from everything the system
trains on:
- acquisition: facts revealed that day;
- update: facts changed that day (`answer` is the new value, `wrong_answers` every older one);
- retention: facts stated on earlier days and still current (`wrong_answers`: their older values);
- abstention: relations never revealed in the whole world (`answer` is `ABSTAIN_ANSWER`);
- override: a short conversation (`context`) states a value that conflicts with the stored one; the
  in-context value is the answer and the stored value is wrong.
Questions use held-out phrasings (plus, for acquisition and update, some train phrasings marked as
such, to measure the gap). Everything is deterministic in the seed: `random.Random("sleepd-world/<seed>")`
is the only source of randomness.

Generation has two phases: `_plan` decides every event and value of every day first, so that rendering
knows all values the persona will ever have and can keep any of them out of unrelated text.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from world import compose, phrasings
from world.facts import RELATIONS, Fact, Relation, overlaps, relation, sample_value
from world.pools import POOLS
from world.scoring import ABSTAIN_ANSWER
from world.seeds import check_eval_seed
from world.templates import HELDOUT, TRAIN, render_ack, render_answer, render_update_ack

QUESTION_KINDS = ("acquisition", "update", "retention", "abstention", "override")


@dataclass(frozen=True)
class WorldConfig:
    """Shape of a simulated world. Ranges are inclusive (lo, hi)."""

    days: int = 10
    start_date: str = "2026-01-05"
    conversations_per_day: tuple[int, int] = (2, 4)
    first_day_reveals: tuple[int, int] = (4, 6)
    reveals_per_day: tuple[int, int] = (1, 3)
    updates_per_day: tuple[int, int] = (0, 2)
    first_update_day: int = 2
    # Relations never revealed anywhere in the world: the abstention questions ask about these.
    never_revealed: int = 4
    smalltalk_per_conversation: tuple[int, int] = (2, 5)
    greeting_prob: float = 0.6
    closing_prob: float = 0.4
    lead_prob: float = 0.2
    recall_prob: float = 0.5
    max_recalls_per_conversation: int = 2
    # Which statement templates the user's own messages use: "all", "train" or "heldout".
    statement_split: str = "all"
    heldout_phrasings_per_fact: int = 2
    train_phrasings_per_fact: int = 1
    retention_phrasings_per_fact: int = 1
    abstentions_per_day: int = 3
    overrides_per_day: int = 3

    def validate(self) -> None:
        if not 1 <= self.days <= 366:
            raise ValueError(f"days must be in [1, 366], got {self.days}")
        dt.date.fromisoformat(self.start_date)
        for name in (
            "conversations_per_day",
            "first_day_reveals",
            "reveals_per_day",
            "updates_per_day",
            "smalltalk_per_conversation",
        ):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (lo, hi) with 0 <= lo <= hi, got {(lo, hi)}")
        if self.conversations_per_day[0] < 1:
            raise ValueError("conversations_per_day must allow at least one conversation")
        if not 0 <= self.never_revealed < len(RELATIONS):
            raise ValueError(f"never_revealed must be in [0, {len(RELATIONS)})")
        if self.statement_split not in ("all", TRAIN, HELDOUT):
            raise ValueError("statement_split must be 'all', 'train' or 'heldout'")
        for name in ("greeting_prob", "closing_prob", "lead_prob", "recall_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")


@dataclass(frozen=True)
class Message:
    id: str
    role: str
    content: str
    created_at: str


@dataclass(frozen=True)
class Conversation:
    id: str
    day: int
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class Event:
    """A fact entering the world: first reveal or update. `previous` is the fact it superseded."""

    day: int
    type: str  # "reveal" | "update"
    relation: str
    fact: Fact
    previous: Fact | None
    conversation_id: str
    message_id: str
    template_id: str
    template_split: str


@dataclass(frozen=True)
class RecallCheck:
    """An in-conversation question answered from earlier in the same conversation."""

    conversation_id: str
    relation: str
    fact_id: str
    answer: str
    statement_message_id: str
    question_message_id: str
    answer_message_id: str
    question: str
    template_id: str


@dataclass(frozen=True)
class Question:
    """A ground-truth question, asked at the end of `day` (after all that day's conversations).

    fact_id/fact_day: the current fact the answer comes from and the day it was stated (None for
    abstention and override). context: only for override items, the messages to put in the
    conversation before asking.
    """

    id: str
    day: int
    kind: str
    relation: str
    question: str
    answer: str
    wrong_answers: tuple[str, ...]
    fact_id: str | None
    fact_day: int | None
    template_id: str
    template_split: str
    context: tuple[dict[str, str], ...] = ()

    @property
    def abstain(self) -> bool:
        return self.kind == "abstention"


@dataclass(frozen=True)
class Day:
    day: int
    date: str
    conversations: tuple[Conversation, ...]
    events: tuple[Event, ...]
    recall_checks: tuple[RecallCheck, ...]
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class World:
    seed: int
    config: WorldConfig
    never_revealed: tuple[str, ...]
    days: tuple[Day, ...] = field(repr=False)

    @property
    def id(self) -> str:
        return world_id(self.seed)

    @property
    def conversations(self) -> tuple[Conversation, ...]:
        return tuple(c for d in self.days for c in d.conversations)

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(e for d in self.days for e in d.events)

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for d in self.days for q in d.questions)

    @property
    def recall_checks(self) -> tuple[RecallCheck, ...]:
        return tuple(r for d in self.days for r in d.recall_checks)

    def facts_at(self, day: int) -> dict[str, Fact]:
        """Current fact per relation at the end of `day` (replaying reveal and update events)."""
        current: dict[str, Fact] = {}
        for event in self.events:
            if event.day <= day:
                current[event.relation] = event.fact
        return current


def world_id(seed: int) -> str:
    return f"w{seed:03d}"


# ---------------------------------------------------------------------------------------------------------
# Phase 1: plan every event and value.


@dataclass(frozen=True)
class _Planned:
    type: str
    rel: Relation
    value: str
    old: str | None


def _has_free_value(rel: Relation, used: list[str]) -> bool:
    # Cheap exact-match filter first; the overlap check only runs on values not used verbatim.
    taken = {u.lower() for u in used}
    return any(v.lower() not in taken and not any(overlaps(v, u) for u in used) for v in POOLS[rel.pool])


def _plan(
    rng: random.Random, cfg: WorldConfig
) -> tuple[tuple[Relation, ...], list[list[_Planned]], list[str]]:
    order = list(RELATIONS)
    rng.shuffle(order)
    never = tuple(order[: cfg.never_revealed])
    pending = order[cfg.never_revealed :]
    used: list[str] = []
    current: dict[str, str] = {}
    plan: list[list[_Planned]] = []
    for day in range(1, cfg.days + 1):
        k_reveal = rng.randint(*(cfg.first_day_reveals if day == 1 else cfg.reveals_per_day))
        k_update = rng.randint(*cfg.updates_per_day) if day >= cfg.first_update_day else 0
        reveals, pending = pending[:k_reveal], pending[k_reveal:]
        candidates = [r for r in order if r.key in current and r.mutable and _has_free_value(r, used)]
        updates = rng.sample(candidates, min(k_update, len(candidates)))
        if not reveals and not updates and candidates and day >= cfg.first_update_day:
            updates = [rng.choice(candidates)]  # every night should have something new to learn
        events: list[_Planned] = []
        for rel in reveals:
            value = sample_value(rng, rel, used)
            used.append(value)
            current[rel.key] = value
            events.append(_Planned("reveal", rel, value, None))
        for rel in updates:
            value = sample_value(rng, rel, used)
            used.append(value)
            events.append(_Planned("update", rel, value, current[rel.key]))
            current[rel.key] = value
        plan.append(events)
    return never, plan, used


# ---------------------------------------------------------------------------------------------------------
# Phase 2: render conversations and questions.


class _Builder:
    def __init__(self, seed: int, cfg: WorldConfig, rng: random.Random, values: list[str]) -> None:
        self.seed = seed
        self.cfg = cfg
        self.rng = rng
        self.guard = compose.ValueGuard(values)
        self.wid = world_id(seed)
        self.n_facts = 0
        self.current: dict[str, Fact] = {}
        self.history: dict[str, list[Fact]] = {}

    def new_fact(self, rel: Relation, value: str, day: int, message_id: str) -> tuple[Fact, Fact | None]:
        self.n_facts += 1
        previous = self.current.get(rel.key)
        fact = Fact(
            f"{self.wid}-f{self.n_facts:03d}",
            rel.key,
            value,
            day,
            message_id,
            previous.id if previous else None,
        )
        self.current[rel.key] = fact
        self.history.setdefault(rel.key, []).append(fact)
        return fact, previous

    def conversation(
        self, day: int, index: int, date: dt.date, start_s: int, planned: list[_Planned]
    ) -> tuple[Conversation, list[Event], list[RecallCheck]]:
        rng, cfg = self.rng, self.cfg
        conv_id = f"{self.wid}-d{day:03d}-c{index + 1}"
        segments: list[tuple[str, Any]] = [("event", p) for p in planned]
        segments += [("small", None)] * rng.randint(*cfg.smalltalk_per_conversation)
        rng.shuffle(segments)
        n_recalls = 0
        for p in planned:
            if n_recalls < cfg.max_recalls_per_conversation and rng.random() < cfg.recall_prob:
                pos = segments.index(("event", p))
                segments.insert(rng.randint(pos + 1, len(segments)), ("recall", p))
                n_recalls += 1
        if rng.random() < cfg.greeting_prob:
            segments.insert(0, ("greet", None))
        if rng.random() < cfg.closing_prob:
            segments.append(("close", None))

        messages: list[Message] = []
        events: list[Event] = []
        recalls: list[RecallCheck] = []
        stated_in: dict[str, tuple[Fact, str]] = {}  # relation -> (fact, statement message id)
        clock = start_s

        def add(role: str, content: str) -> str:
            nonlocal clock
            clock += rng.randint(15, 120)
            mid = f"{conv_id}-m{len(messages) + 1:03d}"
            stamp = dt.datetime.combine(date, dt.time()) + dt.timedelta(seconds=clock)
            messages.append(Message(mid, role, content, stamp.strftime("%Y-%m-%dT%H:%M:%SZ")))
            return mid

        for seg, p in segments:
            if seg == "greet" or seg == "close":
                user, assistant = compose.opener(rng, self.guard, closing=seg == "close")
                add("user", user)
                add("assistant", assistant)
            elif seg == "small":
                _, user, assistant = compose.distractor(rng, self.guard)
                add("user", user)
                add("assistant", assistant)
            elif seg == "event":
                events.append(self._event(day, conv_id, p, add, stated_in))
            else:
                recalls.append(self._recall(conv_id, p, add, stated_in))
        return Conversation(conv_id, day, tuple(messages)), events, recalls

    def _event(self, day: int, conv_id: str, p: _Planned, add: Any, stated_in: dict) -> Event:
        rng, cfg = self.rng, self.cfg
        if p.type == "reveal":
            r = compose.statement(
                rng, p.rel, p.value, split=cfg.statement_split, guard=self.guard, lead_prob=cfg.lead_prob
            )
            ack = render_ack(rng, p.rel, p.value, r.noun)
        else:
            r = compose.update_statement(
                rng, p.rel, p.value, p.old or "", split="all", guard=self.guard, lead_prob=cfg.lead_prob
            )
            ack = render_update_ack(rng, p.rel, p.value, p.old or "", r.noun)
        if not self.guard.clean(ack, allowed=(p.value, p.old)):
            ack = rng.choice(phrasings.GENERIC_ACKS)
        mid = add("user", r.text)
        add("assistant", ack)
        fact, previous = self.new_fact(p.rel, p.value, day, mid)
        stated_in[p.rel.key] = (fact, mid)
        assert r.template is not None
        return Event(day, p.type, p.rel.key, fact, previous, conv_id, mid, r.template.id, r.template.split)

    def _recall(self, conv_id: str, p: _Planned, add: Any, stated_in: dict) -> RecallCheck:
        rng = self.rng
        fact, statement_mid = stated_in[p.rel.key]
        lead = rng.choice(phrasings.RECALL_LEADS) if rng.random() < 0.3 else None
        q = compose.question(rng, p.rel, split=TRAIN, guard=self.guard, lead=lead)
        qid = add("user", q.text)
        aid = add("assistant", render_answer(rng, p.rel, fact.value, q.noun))
        assert q.template is not None
        return RecallCheck(
            conv_id, p.rel.key, fact.id, fact.value, statement_mid, qid, aid, q.text, q.template.id
        )

    # -- questions ---------------------------------------------------------------------------------------

    def questions(self, day: int, events: list[Event], never: tuple[Relation, ...]) -> list[Question]:
        rng, cfg = self.rng, self.cfg
        out: list[Question] = []

        def ask(
            kind: str,
            rel: Relation,
            answer: str,
            wrong: tuple[str, ...],
            fact: Fact | None,
            split: str,
            n: int,
            context: tuple[dict[str, str], ...] = (),
        ) -> None:
            used: list[str] = []
            for _ in range(n):
                q = compose.question(rng, rel, split=split, guard=self.guard, exclude=used)
                assert q.template is not None
                used.append(q.template.id)
                out.append(
                    Question(
                        id=f"{self.wid}-d{day:03d}-q{len(out) + 1:03d}",
                        day=day,
                        kind=kind,
                        relation=rel.key,
                        question=q.text,
                        answer=answer,
                        wrong_answers=wrong,
                        fact_id=fact.id if fact else None,
                        fact_day=fact.day if fact else None,
                        template_id=q.template.id,
                        template_split=q.template.split,
                        context=context,
                    )
                )

        def older(key: str) -> tuple[str, ...]:
            return tuple(f.value for f in self.history[key][:-1])

        today = {e.relation for e in events}
        for e in events:
            rel = relation(e.relation)
            kind = "acquisition" if e.type == "reveal" else "update"
            ask(kind, rel, e.fact.value, older(e.relation), e.fact, HELDOUT, cfg.heldout_phrasings_per_fact)
            ask(kind, rel, e.fact.value, older(e.relation), e.fact, TRAIN, cfg.train_phrasings_per_fact)
        for key, fact in self.current.items():
            if key not in today:
                ask(
                    "retention",
                    relation(key),
                    fact.value,
                    older(key),
                    fact,
                    HELDOUT,
                    cfg.retention_phrasings_per_fact,
                )
        for rel in rng.sample(never, min(cfg.abstentions_per_day, len(never))):
            ask("abstention", rel, ABSTAIN_ANSWER, (), None, HELDOUT, 1)
        taken = list(self.guard.values)
        # In very long worlds a small pool (colours, weekdays) can run out of unused values.
        known = [k for k in sorted(self.current) if _has_free_value(relation(k), taken)]
        for key in rng.sample(known, min(cfg.overrides_per_day, len(known))):
            rel, stored = relation(key), self.current[key]
            alt = sample_value(rng, rel, taken)
            taken.append(alt)
            context = self._override_context(rel, alt, stored.value)
            ask("override", rel, alt, (*older(key), stored.value), None, HELDOUT, 1, context)
        return out

    def _override_context(self, rel: Relation, alt: str, stored: str) -> tuple[dict[str, str], ...]:
        rng = self.rng
        guard = compose.ValueGuard(self.guard.values)
        guard.add(alt)
        if rel.mutable:
            r = compose.update_statement(rng, rel, alt, stored, split="all", guard=guard)
            ack = render_update_ack(rng, rel, alt, stored, r.noun)
        else:
            r = compose.statement(rng, rel, alt, split="all", guard=guard)
            ack = render_ack(rng, rel, alt, r.noun)
        if not guard.clean(ack, allowed=(alt, stored)):
            ack = rng.choice(phrasings.GENERIC_ACKS)
        return ({"role": "user", "content": r.text}, {"role": "assistant", "content": ack})


def simulate_world(seed: int, config: WorldConfig | None = None, *, days: int | None = None) -> World:
    """Simulate a world for an evaluation seed (0 <= seed < 1000). Same seed and config, same world."""
    check_eval_seed(seed)
    cfg = config or WorldConfig()
    if days is not None:
        cfg = replace(cfg, days=days)
    cfg.validate()
    rng = random.Random(f"sleepd-world/{seed}")
    never, plan, values = _plan(rng, cfg)
    builder = _Builder(seed, cfg, rng, values)
    start = dt.date.fromisoformat(cfg.start_date)
    out_days: list[Day] = []
    for day, planned in enumerate(plan, start=1):
        date = start + dt.timedelta(days=day - 1)
        n_conv = rng.randint(*cfg.conversations_per_day)
        assignment = [rng.randint(0, n_conv - 1) for _ in planned]
        window = (16 * 3600) // n_conv  # conversations spread over 07:00-23:00, one per window
        convs, events, recalls = [], [], []
        for index in range(n_conv):
            start_s = 7 * 3600 + index * window + rng.randint(0, window // 3)
            mine = [p for p, a in zip(planned, assignment, strict=True) if a == index]
            conv, conv_events, conv_recalls = builder.conversation(day, index, date, start_s, mine)
            convs.append(conv)
            events += conv_events
            recalls += conv_recalls
        questions = builder.questions(day, events, never)
        out_days.append(
            Day(day, date.isoformat(), tuple(convs), tuple(events), tuple(recalls), tuple(questions))
        )
    return World(seed, cfg, tuple(r.key for r in never), tuple(out_days))


def world_stats(world: World) -> dict[str, Any]:
    """Counts for reports: conversations, messages, words (a rough token proxy), questions by kind."""
    messages = [m for c in world.conversations for m in c.messages]
    words = sum(len(m.content.split()) for m in messages)
    return {
        "seed": world.seed,
        "days": len(world.days),
        "conversations": len(world.conversations),
        "messages": len(messages),
        "user_messages": sum(m.role == "user" for m in messages),
        "words": words,
        "reveals": sum(e.type == "reveal" for e in world.events),
        "updates": sum(e.type == "update" for e in world.events),
        "recall_checks": len(world.recall_checks),
        "questions": len(world.questions),
        "questions_by_kind": dict(sorted(Counter(q.kind for q in world.questions).items())),
        "questions_by_split": dict(sorted(Counter(q.template_split for q in world.questions).items())),
        "never_revealed": list(world.never_revealed),
    }

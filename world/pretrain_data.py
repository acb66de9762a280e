"""Standalone persona chats: pretraining text for the default model, and the in-context recall eval set.

A chat: the user states 3-8 facts (one per turn, mixed with small talk; sometimes one fact is then
updated), then asks 2-4 questions that the assistant answers (or, with `ChatConfig.ask_stated`, one about
every stated fact). About 15% of questions (`abstain_prob`) ask about a relation the chat never stated;
the assistant replies with the canonical `ABSTAIN_ANSWER` ("I don't know."). Rendered in the RWKV chat
format ("User: ...\\n\\nAssistant: ...\\n\\n").

Separation from evaluation (see `seeds`):
- pretraining chats (`iter_pretrain_chats`, `pretrain_texts`) use seeds >= 1_000_000 and only "train"
  statement and question templates;
- the in-context eval set (`incontext_eval_items`) uses evaluation seeds < 1000 and only "heldout"
  templates, so it measures in-context recall on personas and phrasings the model never saw.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import count as counter

from model.chat_format import format_messages
from world import compose, everyday
from world.everyday import EverydayFact, sample_everyday
from world.facts import RELATIONS, Relation, sample_persona, sample_value
from world.scoring import ABSTAIN_ANSWER
from world.seeds import PRETRAIN_SEED_MIN, check_eval_seed, check_pretrain_seed
from world.templates import (
    HELDOUT,
    TRAIN,
    render_ack,
    render_answer,
    render_everyday_ack,
    render_kind_answer,
    render_update_ack,
)


@dataclass(frozen=True)
class ChatConfig:
    facts: tuple[int, int] = (3, 8)
    questions: tuple[int, int] = (2, 4)
    abstain_prob: float = 0.15
    smalltalk: tuple[int, int] = (0, 3)
    # Chance that one stated (mutable) fact is changed later in the same chat; the question then wants
    # the newest value, which teaches "the latest statement wins" (the context-override gate).
    update_prob: float = 0.1
    greeting_prob: float = 0.3
    lead_prob: float = 0.15
    # Ask about every stated fact (random order) instead of `questions` of them, plus unstated ones at
    # random positions so that about `abstain_prob` of the questions are abstentions. Every fact then
    # carries a recall example, several times the signal per token of 2-4 questions.
    ask_stated: bool = False
    # Everyday facts (world/everyday.py: a named parrot, a purchase, where an uncle lives, ...) stated
    # besides the persona facts, each asked about, with an "I don't know." question about a near
    # neighbour (another noun of the same kind) for about `abstain_prob` of them.
    everyday: tuple[int, int] = (0, 0)
    # Chats with no fact at all (small talk, then questions): every answer is "I don't know.".
    no_facts_prob: float = 0.0
    # Values of one split only (pools.value_split); None: any value. Pretraining uses "train".
    value_split: str | None = None


@dataclass(frozen=True)
class ChatQuestion:
    relation: str
    question: str
    answer: str  # the value, or ABSTAIN_ANSWER
    reply: str  # the assistant's reply in the chat
    wrong_answers: tuple[str, ...]
    abstain: bool
    template_id: str


@dataclass(frozen=True)
class PersonaChat:
    seed: int
    split: str
    persona: tuple[tuple[str, str], ...]  # every relation's value (sorted pairs), stated or not
    stated: tuple[str, ...]
    context: tuple[dict[str, str], ...]  # the messages before the first question
    questions: tuple[ChatQuestion, ...]
    statement_template_ids: tuple[str, ...]  # templates of the fact and update statements

    @property
    def messages(self) -> list[dict[str, str]]:
        out = list(self.context)
        for q in self.questions:
            out += [{"role": "user", "content": q.question}, {"role": "assistant", "content": q.reply}]
        return out

    @property
    def text(self) -> str:
        return format_messages(self.messages)

    @property
    def context_text(self) -> str:
        return format_messages(self.context)


@dataclass(frozen=True)
class RecallItem:
    """One in-context recall question: answer `question` given `context_text` (may be empty)."""

    seed: int
    relation: str
    context_text: str
    question: str
    answer: str
    wrong_answers: tuple[str, ...]
    abstain: bool
    template_id: str

    @property
    def prompt(self) -> str:
        """Context plus the question, ending in the generation prompt "Assistant:"."""
        return self.context_text + format_messages([{"role": "user", "content": self.question}], True)

    def without_context(self) -> RecallItem:
        return replace(self, context_text="")


def _chat_rng(seed: int) -> random.Random:
    return random.Random(f"sleepd-chat/{seed}")


def chat_persona(seed: int) -> dict[str, str]:
    """The full persona (every relation's value) behind `make_chat(seed, ...)`, without building the chat."""
    return sample_persona(_chat_rng(seed))


def make_chat(
    seed: int, *, split: str, config: ChatConfig | None = None, ask_all: bool = False
) -> PersonaChat:
    """One chat. split "train" needs a pretraining seed, "heldout" an evaluation seed.

    ask_all: ask about every stated relation plus one unstated one (the eval set), instead of 2-4
    random questions.
    """
    if split == TRAIN:
        check_pretrain_seed(seed)
    elif split == HELDOUT:
        check_eval_seed(seed)
    else:
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    cfg = config or ChatConfig()
    rng = _chat_rng(seed)
    persona = sample_persona(rng, split=cfg.value_split)
    guard = compose.ValueGuard(persona.values())
    no_facts = bool(cfg.no_facts_prob) and rng.random() < cfg.no_facts_prob

    stated = [] if no_facts else rng.sample(RELATIONS, rng.randint(*cfg.facts))
    unstated = [r for r in RELATIONS if r not in stated]
    segments: list[tuple[str, Relation | EverydayFact | None]] = [("fact", r) for r in stated]
    everyday_facts: list[EverydayFact] = []
    if cfg.everyday != (0, 0) and not no_facts:
        for _ in range(rng.randint(*cfg.everyday)):
            held = [f.relation for f in everyday_facts]
            taken = [*guard.values, *(f.noun for f in everyday_facts)]  # a value is never another's noun
            fact = sample_everyday(rng, split, taken=taken, held=held)
            while not guard.clean(fact.noun):  # "football match" for a persona whose sport is football
                fact = sample_everyday(rng, split, taken=taken, held=held)
            guard.add(fact.value)
            everyday_facts.append(fact)
            segments.append(("everyday", fact))
    segments += [("small", None)] * rng.randint(*cfg.smalltalk)
    rng.shuffle(segments)
    mutable = [r for r in stated if r.mutable]
    updated = None
    if mutable and rng.random() < cfg.update_prob:
        updated = rng.choice(mutable)
        pos = segments.index(("fact", updated))
        segments.insert(rng.randint(pos + 1, len(segments)), ("update", updated))
    if rng.random() < cfg.greeting_prob:
        segments.insert(0, ("greet", None))

    values = dict(persona)
    wrong: dict[str, tuple[str, ...]] = {}
    context: list[dict[str, str]] = []
    template_ids: list[str] = []

    def add(user: str, assistant: str) -> None:
        context.extend(({"role": "user", "content": user}, {"role": "assistant", "content": assistant}))

    for kind, item in segments:
        if kind == "greet":
            add(*compose.opener(rng, guard))
        elif kind == "small":
            _, user, assistant = compose.distractor(rng, guard)
            add(user, assistant)
        elif kind == "everyday":
            assert isinstance(item, EverydayFact)
            r = compose.everyday_statement(rng, item, split=split, guard=guard, lead_prob=cfg.lead_prob)
            ack = render_everyday_ack(rng, item)
            template_ids.append(r.template.id if r.template else "")
            add(r.text, ack if guard.clean(ack, allowed=(item.value,)) else "Got it.")
        elif kind == "fact":
            assert isinstance(item, Relation)
            rel = item
            r = compose.statement(
                rng, rel, values[rel.key], split=split, guard=guard, lead_prob=cfg.lead_prob
            )
            ack = render_ack(rng, rel, values[rel.key], r.noun)
            template_ids.append(r.template.id if r.template else "")
            add(r.text, ack if guard.clean(ack, allowed=(values[rel.key],)) else "Got it.")
        else:
            assert isinstance(item, Relation)
            rel = item
            old = values[rel.key]
            new = sample_value(rng, rel, [*guard.values, *(f.noun for f in everyday_facts)], cfg.value_split)
            guard.add(new)
            values[rel.key] = new
            wrong[rel.key] = (old,)
            r = compose.update_statement(
                rng, rel, new, old, split=split, guard=guard, lead_prob=cfg.lead_prob
            )
            ack = render_update_ack(rng, rel, new, old, r.noun)
            template_ids.append(r.template.id if r.template else "")
            add(r.text, ack if guard.clean(ack, allowed=(new, old)) else "Got it.")

    if no_facts:
        asked = rng.sample(RELATIONS, rng.randint(1, 3))
    elif ask_all:
        asked = [*rng.sample(stated, len(stated)), rng.choice(unstated)] if stated else []
    elif cfg.ask_stated:
        asked = rng.sample(stated, len(stated))
        expected = cfg.abstain_prob / (1 - cfg.abstain_prob) * len(stated)
        n_unstated = min(len(unstated), int(expected) + (rng.random() < expected - int(expected)))
        for rel in rng.sample(unstated, n_unstated):
            asked.insert(rng.randint(0, len(asked)), rel)
    else:
        asked = []
        remaining = rng.sample(stated, len(stated))
        free = list(unstated)
        for _ in range(rng.randint(*cfg.questions)):
            if remaining and not (free and rng.random() < cfg.abstain_prob):
                asked.append(remaining.pop())
            elif free:
                asked.append(free.pop(rng.randrange(len(free))))
    questions: list[ChatQuestion] = []
    for rel in asked:
        q = compose.question(rng, rel, split=split, guard=guard)
        assert q.template is not None
        if rel in stated:
            value = values[rel.key]
            reply = render_answer(rng, rel, value, q.noun)
            questions.append(
                ChatQuestion(rel.key, q.text, value, reply, wrong.get(rel.key, ()), False, q.template.id)
            )
        else:
            questions.append(
                ChatQuestion(rel.key, q.text, ABSTAIN_ANSWER, ABSTAIN_ANSWER, (), True, q.template.id)
            )
    if everyday_facts:
        questions = _everyday_questions(rng, everyday_facts, questions, split, guard, cfg, ask_all)
    return PersonaChat(
        seed=seed,
        split=split,
        persona=tuple(sorted(persona.items())),
        stated=tuple(r.key for r in stated) + tuple(f.relation for f in everyday_facts),
        context=tuple(context),
        questions=tuple(questions),
        statement_template_ids=tuple(template_ids),
    )


def _everyday_questions(
    rng: random.Random,
    facts: list[EverydayFact],
    persona_questions: list[ChatQuestion],
    split: str,
    guard: compose.ValueGuard,
    cfg: ChatConfig,
    ask_all: bool,
) -> list[ChatQuestion]:
    """A question about every everyday fact, and "I don't know." questions about near neighbours (the same
    kind with another noun: the cat when the parrot was told), mixed in among the persona questions."""
    out = list(persona_questions)
    stated = {f.relation for f in facts}
    for fact in facts:
        q = compose.everyday_question(rng, fact.kind, fact.noun, split=split, guard=guard)
        reply = render_kind_answer(rng, fact.template_kind, fact.value, fact.noun)
        out.insert(
            rng.randint(0, len(out)),
            ChatQuestion(
                fact.relation, q.text, fact.value, reply, (), False, q.template.id if q.template else ""
            ),
        )
        if not ask_all and rng.random() >= cfg.abstain_prob / (1 - cfg.abstain_prob):
            continue
        others = [n for n in everyday.nouns(fact.kind, split) if n != fact.noun and guard.clean(n)]
        noun = rng.choice(others) if others else None
        neighbour = EverydayFact(fact.kind, noun, "") if noun else None
        if neighbour is None or neighbour.relation in stated:
            continue
        q = compose.everyday_question(rng, fact.kind, noun, split=split, guard=guard)
        out.insert(
            rng.randint(0, len(out)),
            ChatQuestion(
                neighbour.relation,
                q.text,
                ABSTAIN_ANSWER,
                ABSTAIN_ANSWER,
                (),
                True,
                q.template.id if q.template else "",
            ),
        )
    return out


def iter_pretrain_chats(
    start_seed: int = PRETRAIN_SEED_MIN, count: int | None = None, config: ChatConfig | None = None
) -> Iterator[PersonaChat]:
    """Pretraining chats for seeds start_seed, start_seed+1, ... (endless when count is None)."""
    check_pretrain_seed(start_seed)
    seeds = counter(start_seed) if count is None else range(start_seed, start_seed + count)
    for seed in seeds:
        yield make_chat(seed, split=TRAIN, config=config)


def pretrain_texts(
    start_seed: int = PRETRAIN_SEED_MIN, count: int | None = None, config: ChatConfig | None = None
) -> Iterator[str]:
    """The chats of `iter_pretrain_chats` as transcript text, one string per chat."""
    for chat in iter_pretrain_chats(start_seed, count, config):
        yield chat.text


def incontext_eval_items(
    seeds: Iterable[int] = range(100), config: ChatConfig | None = None
) -> list[RecallItem]:
    """The in-context recall eval set: per evaluation seed, one held-out-phrased chat and one item per
    stated relation, plus one abstention item about a relation the chat never stated."""
    items: list[RecallItem] = []
    for seed in seeds:
        chat = make_chat(seed, split=HELDOUT, config=config, ask_all=True)
        for q in chat.questions:
            items.append(
                RecallItem(
                    seed,
                    q.relation,
                    chat.context_text,
                    q.question,
                    q.answer,
                    q.wrong_answers,
                    q.abstain,
                    q.template_id,
                )
            )
    return items


def no_context_items(items: Iterable[RecallItem]) -> list[RecallItem]:
    """The same questions with the facts removed (what a model knows without the chat)."""
    return [item.without_context() for item in items]


# The everyday held-out set: chats of everyday facts only, with nouns, phrasings and values pretraining
# never uses (everyday.nouns(..., "heldout"), heldout templates, pools.value_split "heldout").
EVERYDAY_EVAL = ChatConfig(facts=(0, 0), everyday=(3, 5), value_split=HELDOUT)


def everyday_eval_items(seeds: Iterable[int] = range(100)) -> list[RecallItem]:
    """Per evaluation seed, one chat of 3-5 everyday facts: a question about each, and an "I don't know."
    question about a near neighbour of each (the same kind with a noun the chat never used)."""
    return incontext_eval_items(seeds, EVERYDAY_EVAL)

"""Probes for kept memory items: questions whose answers show whether the state learned the item.

Two kinds (docs/ARCHITECTURE.md, "Probes"):
- *cloze*: the item's own words up to a salient span, which is masked: "User: we moved to" -> "Lisbon".
  No model needed. Spans, best first: the values of the item's slots (city, employer, names of people and
  pets, ...), then dates, then names, then numbers; never part of a redaction mask.
- *qa*: a question and its short answer.
  - Written by the model when it can: it is asked for one question about the item whose answer is the span,
    and the question is kept only if it passes checks (one line, ends with "?", 3-25 words, does not give
    the answer away, shares a content word with the item). A weak model fails them; after
    `qa_model_give_up_after` rejections in a row it is not asked again that night, and a model that failed
    the judge's self-check (scorers.py) is not asked at all.
  - And, for every fact the user states (stated.py: persona relations and everyday facts), question
    templates of the fact's kind (world/templates.py): `qa_train_per_fact` "train"-split phrasings for
    self-study and one "heldout"-split phrasing for scoring, so acquisition is scored on a phrasing never
    trained on. Templates speak in the first person, so they are used only when the subject is the user
    ("Where do I live?"), not a named third party.

Splits: "train" probes may be used by the tuner; "eval" probes never are. The first cloze probe of an item
is "train", the second "eval"; model-written questions are "train"; template questions follow the template's
split. `reply` is an assistant-style sentence stating the answer, for QA training targets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from model.bundle import ModelBundle
from model.chat_format import ROLE_PREFIXES, STOP_STRINGS, format_messages
from model.generate import SamplingConfig, generate
from model.state import State
from reflection.config import ReflectionConfig
from reflection.redact import MASK_PREFIX
from reflection.slots import Slot
from reflection.stated import StatedFact, fact_questions
from world.templates import HELDOUT, TRAIN


@dataclass(frozen=True)
class ProbeSpec:
    kind: str  # "cloze" | "qa"
    prompt: str  # cloze: "User: <text before the span>"; qa: the question as the user would ask it
    answer: str  # the bare answer, for scoring
    split: str  # "train" | "eval"
    source: str  # "slot:<relation>", "span:<date|name|number>", "template:<id>", "model"
    reply: str | None = None  # qa: an assistant reply stating the answer


# --------------------------------------------------------------------------------------------- spans

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
)
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}:\d{{2}}(?:\s*[ap]\.?m\.?)?|\d{{1,2}}\s*[ap]m"
    rf"|(?:19|20)\d\d|{_DAY})\b"
)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.])")
_NAME = re.compile(r"\b[A-Z][a-zà-ÿ'’-]+(?:\s+[A-Z][a-zà-ÿ'’-]+)*")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NOT_NAME = _words(
    "I I'm I've I'd I'll The A An And But So Yes No Oh Hey Hi Hello Thanks Wow OK Okay My Our We You It This "
    "That There Here What When Where Why How Who Which Just Also Then Well Sure Please Remember"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_STOP = _words(
    "the a an and or but of to in on at for with from by is am are was were be been it its this that my your "
    "our their his her i you we they he she what which who when where why how do does did have has had "
    "about into over than then there here"
)


def _sentence_start(text: str, i: int) -> bool:
    before = text[:i].rstrip()
    return not before or before[-1] in ".!?\n:\"'“"


def _in_mask(text: str, start: int, end: int) -> bool:
    for m in re.finditer(re.escape(MASK_PREFIX) + r"[a-z_]+\]", text):
        if m.start() < end and start < m.end():
            return True
    return False


def salient_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of dates, names and numbers, in that order of preference, not overlapping."""
    found: list[tuple[int, int, str]] = []

    def add(start: int, end: int, kind: str) -> None:
        if _in_mask(text, start, end) or any(s < end and start < e for s, e, _ in found):
            return
        found.append((start, end, kind))

    for m in _DATE.finditer(text):
        add(m.start(), m.end(), "date")
    for m in _NAME.finditer(text):
        words = [
            (m.start() + w.start(), m.start() + w.end(), w.group(0)) for w in re.finditer(r"\S+", m.group(0))
        ]
        while words and (words[0][2] in _NOT_NAME or _sentence_start(text, words[0][0])):
            words = words[1:]
        if words:
            end = words[-1][1] - (2 if words[-1][2].endswith(("'s", "’s")) else 0)
            add(words[0][0], end, "name")
    for m in _NUMBER.finditer(text):
        add(m.start(), m.end(), "number")
    return found


# --------------------------------------------------------------------------------------------- cloze


def cloze(
    text: str, role: str, span: tuple[int, int], *, max_prompt_chars: int = 300
) -> tuple[str, str] | None:
    """(prompt, answer) masking `span`, or None when fewer than two words precede it."""
    start, end = span
    answer = text[start:end].strip()
    prefix = text[:start].rstrip()
    if not answer or len(prefix.split()) < 2:
        return None
    if len(prefix) > max_prompt_chars:  # keep the tail, cut at a word boundary
        cut = prefix[-max_prompt_chars:]
        prefix = cut[cut.find(" ") + 1 :] if " " in cut else cut
    return f"{ROLE_PREFIXES.get(role, 'User')}: {prefix}", answer


def cloze_probes(
    text: str, role: str, slots: Sequence[Slot], max_n: int = 2, facts: Sequence[StatedFact] = ()
) -> list[ProbeSpec]:
    """Cloze probes over the slot values and stated facts' values first; at most `max_n`. Salient spans
    (names, dates, numbers) only for an item that states no fact: in "My gym day is Sunday now, not
    Thursday." the other span is the value the item replaces, and a probe asking for it measured
    nothing the memory should hold."""
    spans: list[tuple[int, int, str]] = [(s.span[0], s.span[1], f"slot:{s.relation}") for s in slots]
    spans += [(f.span[0], f.span[1], f"fact:{f.relation}") for f in facts]
    if not spans:
        spans += [(start, end, f"span:{kind}") for start, end, kind in salient_spans(text)]
    out: list[ProbeSpec] = []
    seen: set[str] = set()
    for start, end, source in spans:
        if len(out) >= max_n:
            break
        made = cloze(text, role, (start, end))
        if made is None or made[1].lower() in seen:
            continue
        seen.add(made[1].lower())
        out.append(ProbeSpec("cloze", made[0], made[1], "train" if not out else "eval", source))
    return out


# --------------------------------------------------------------------------------------------- QA


_QUESTION_OK = re.compile(r"^[A-Z][^\n]{8,200}\?$")


def valid_question(question: str, answer: str, text: str) -> bool:
    """The checks a model-written question must pass (see the module docstring)."""
    q = question.strip()
    if not _QUESTION_OK.match(q) or not 3 <= len(q.split()) <= 25:
        return False
    if answer.lower() in q.lower() or q.lower() in text.lower():
        return False
    if sum(ch.isalpha() or ch.isspace() for ch in q) < 0.8 * len(q):
        return False
    words = {w.lower() for w in _WORD.findall(q)} - _STOP
    return bool(words & ({w.lower() for w in _WORD.findall(text)} - _STOP))


def model_question(
    bundle: ModelBundle, state: State | None, text: str, answer: str, *, max_tokens: int = 40
) -> str | None:
    """Ask the model for a question about `text` whose answer is `answer`; None if it fails the checks."""
    prompt = format_messages(
        [
            {
                "role": "user",
                "content": f'Here is something I told you: "{text}"\nWrite one short question about it '
                f'whose answer is "{answer}". Reply with the question only.',
            }
        ],
        add_generation_prompt=True,
    )
    cfg = SamplingConfig(max_tokens=max_tokens, temperature=0.0, stop=(*STOP_STRINGS, "\n"))
    try:
        out = generate(bundle.model, bundle.tokenizer, prompt, state, cfg).text.strip()
    except ValueError:
        return None
    return out if valid_question(out, answer, text) else None


@dataclass
class ModelQA:
    """Tracks the model's questions over a night: gives up after too many rejections in a row."""

    bundle: ModelBundle | None
    state: State | None
    config: ReflectionConfig
    asked: int = 0
    accepted: int = 0
    rejected_in_a_row: int = 0

    @property
    def available(self) -> bool:
        c = self.config
        return (
            self.bundle is not None
            and c.qa_from_model
            and self.asked < c.qa_model_max_items
            and self.rejected_in_a_row < c.qa_model_give_up_after
        )

    def ask(self, text: str, answer: str) -> ProbeSpec | None:
        if not self.available or self.bundle is None:
            return None
        self.asked += 1
        q = model_question(self.bundle, self.state, text, answer)
        if q is None:
            self.rejected_in_a_row += 1
            return None
        self.rejected_in_a_row = 0
        self.accepted += 1
        return ProbeSpec("qa", q, answer, "train", "model", f"{answer}.")

    def note(self) -> str:
        if self.bundle is None or not self.config.qa_from_model:
            return "QA probes from templates only (model questions off)"
        gave_up = self.rejected_in_a_row >= self.config.qa_model_give_up_after
        tail = "; gave up: the model's questions failed the checks" if gave_up else ""
        return f"model-written questions: {self.accepted} accepted of {self.asked} asked{tail}"


def fact_qa_probes(facts: Sequence[StatedFact], per_fact: int, seed: str) -> list[ProbeSpec]:
    """For each stated fact: `per_fact` train-split questions (self-study) and one heldout-split question
    (scoring). The value is the answer; the tuner's teacher writes the reply (tuner/verify.py)."""
    out: list[ProbeSpec] = []
    for f in facts:
        for split, probe_split, n in ((TRAIN, "train", per_fact), (HELDOUT, "eval", 1)):
            for q in fact_questions(f, split, n, seed):
                out.append(ProbeSpec("qa", q, f.value, probe_split, f"fact:{f.relation}"))
    return out


def item_probes(
    text: str,
    role: str,
    slots: Sequence[tuple[Slot, str]],
    config: ReflectionConfig,
    qa: ModelQA,
    facts: Sequence[StatedFact] = (),
) -> list[ProbeSpec]:
    """Every probe for one item. `slots` are (slot with span into `text`, subject); `facts` what the user
    states about themselves in it (first-person questions are asked about those only)."""
    probes = cloze_probes(text, role, [s for s, _ in slots], config.cloze_per_item, facts)
    target = next((p.answer for p in probes), None)
    asked = qa.ask(text, target) if target is not None else None
    if asked is not None:
        probes.append(asked)
    return probes + fact_qa_probes(facts, config.qa_train_per_fact, seed=text)

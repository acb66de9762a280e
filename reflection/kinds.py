"""What a candidate part is, for the budget: a stated fact, a request to remember, a stock reply, a bare
question, or anything else.

- *fact*: the user states something about themselves or their world that has a value a question can ask
  for (stated.py: a persona relation or an everyday fact).
- *request*: the user asks for something to be remembered ("Remember this: ...").
  Facts and requests go first, up to the night's capacity; what does not fit is deferred, never dropped.
- *stock*: an assistant acknowledgement ("Got it.", "Thanks for telling me, I'll keep that in mind.") or
  an answer that says it does not know. Never kept: it holds nothing about the user, and a tuned state
  that learned it would answer every question with it.
- *question*: a user message that only asks ("What is my mother's name?"). Never kept: a question states
  no fact, and keeping it would teach the state the question, not an answer.
- *other*: everything else; it competes for the day's fraction budget as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reflection.salience import _SENT_SPLIT, _content_words, _names, is_small_talk
from reflection.stated import StatedFact, stated_facts
from world.scoring import is_abstention

FACT, REQUEST, STOCK, QUESTION, OTHER = "fact", "request", "stock", "question", "other"
PRIORITY = frozenset({FACT, REQUEST})
NEVER = frozenset({STOCK, QUESTION})

# Acknowledgement phrases an assistant uses whatever the user said.
_ACK = re.compile(
    r"\b(?:got\s+it|noted|understood|will\s+do|of\s+course|sure(?:\s+thing)?|no\s+problem|okay|ok|alright|"
    r"thanks?(?:\s+you)?(?:\s+(?:so\s+much|a\s+lot))?(?:\s+for\s+(?:telling|sharing\s+(?:that|this)|sharing|"
    r"letting\s+me\s+know|the\s+(?:context|update|info(?:rmation)?)|that))?(?:\s+(?:me|with\s+me))?|"
    r"i(?:'ll|\s+will)\s+(?:keep\s+(?:that|this|it)\s+in\s+mind|remember\s+(?:that|this|it)|make\s+a\s+note"
    r"(?:\s+of\s+(?:that|it|this))?|note\s+(?:that|it)(?:\s+down)?)|consider\s+it\s+(?:noted|done)|"
    r"good\s+to\s+know|makes\s+sense|sounds\s+good|happy\s+to\s+help|glad\s+to\s+hear\s+(?:it|that)|"
    r"i\s+see|ah|oh|great|nice|cool|lovely|interesting|perfect|wonderful)\b",
    re.I,
)
_CUE = re.compile(
    r"\b(?:(?:please\s+)?remember\s+(?:that|this|my|me|to|i|we)\b|don'?t\s+forget\b|do\s+not\s+forget\b|"
    r"make\s+a\s+note\b|take\s+note\b|for\s+the\s+record\b|keep\s+in\s+mind\b|note\s+that\b)",
    re.I,
)


@dataclass(frozen=True)
class PartKind:
    kind: str
    reason: str
    facts: tuple[StatedFact, ...] = ()


def is_stock_reply(text: str) -> bool:
    """An answer that says it does not know, or an acknowledgement with nothing else in it."""
    text = text.strip()
    if not text:
        return True
    if is_abstention(text):
        return True
    sentences = [s for s in _SENT_SPLIT.split(text) if s.strip()]
    if _names(sentences):
        return False
    rest = _ACK.sub(" ", text.replace("’", "'"))
    return len(_content_words(rest)) <= 1 or all(is_small_talk(s) for s in sentences)


def is_bare_question(text: str) -> bool:
    sentences = [s for s in _SENT_SPLIT.split(text.strip()) if s.strip()]
    return (
        bool(sentences)
        and all(s.rstrip().endswith("?") or is_small_talk(s) for s in sentences)
        and any(s.rstrip().endswith("?") for s in sentences)
    )


def classify(text: str, role: str) -> PartKind:
    """The kind of one part (see the module docstring)."""
    if role == "user":
        facts = tuple(stated_facts(text))
        if facts:
            what = ", ".join(f"{f.relation} = {f.value}" for f in facts[:3])
            return PartKind(FACT, f"states a fact ({what})", facts)
        if _CUE.search(text):
            return PartKind(REQUEST, "asked to be remembered")
        if is_bare_question(text):
            return PartKind(QUESTION, "a question, not a fact: never kept")
        return PartKind(OTHER, "")
    if role == "assistant" and is_stock_reply(text):
        what = "an answer that does not know" if is_abstention(text) else "an acknowledgement"
        return PartKind(STOCK, f"assistant's stock reply ({what}): never kept")
    return PartKind(OTHER, "")

"""Scoring a generated answer against a ground-truth span.

The answer window is the first sentence of the first non-empty line, after skipping filler sentences
("Sure!", "Hmm."). A reply is correct when the answer span occurs there as whole words
(case-insensitive) and no wrong answer (a superseded value) does. Looking only at the first sentence
stops a model from scoring by listing every name it knows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from difflib import SequenceMatcher

from world.facts import mentions

# The canonical reply for "never told" questions, used by the pretraining chats and as the `answer` of
# abstention questions; `score_answer` scores such questions with `is_abstention`.
ABSTAIN_ANSWER = "I don't know."

_FILLER = {
    "sure",
    "hmm",
    "hm",
    "ok",
    "okay",
    "well",
    "yes",
    "yeah",
    "right",
    "so",
    "oh",
    "ah",
    "great",
    "of course",
    "certainly",
    "absolutely",
    "let me think",
    "let me see",
    "good question",
    "sure thing",
    "sorry",
    "hmm sorry",
    "oh sorry",
    "let me check",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ABSTAIN = re.compile(
    r"\b("
    r"i\s+(do\s+not|don'?t|dont)\s+(know|remember|recall)"
    r"|i\s+(do\s+not|don'?t|dont)\s+have\s+(that|this|any|enough)\s+(info|information|details?)"
    r"|i'?m\s+not\s+sure|not\s+sure"
    r"|no\s+idea"
    r"|(you\s+)?(haven'?t|have\s+not|never|didn'?t|did\s+not)\s+(told|tell|mentioned|mention|said|say|shared|share)"
    r"|i\s+(can'?t|cannot)\s+(recall|remember|say|tell)"
    r"|i\s+was\s+never\s+told"
    r"|unknown"
    r")\b"
)


def _first_line(text: str) -> str:
    for line in text.replace("\r", "\n").split("\n"):
        if line.strip():
            return line.strip()
    return ""


def answer_window(text: str) -> str:
    """The part of a reply that is scored: first non-filler sentence of the first non-empty line."""
    sentences = [s for s in _SENTENCE_END.split(_first_line(text)) if s.strip()]
    for sentence in sentences:
        core = " ".join(re.sub(r"[^a-z ]+", " ", sentence.lower()).split())
        if core not in _FILLER:
            return sentence
    return ""


def is_abstention(text: str) -> bool:
    """True if the reply's answer window says, in any usual phrasing, that the answer is unknown.

    Only the window counts: "Ana. I'm not sure though." names a value first, so it is an answer, not an
    abstention.
    """
    window = answer_window(text).lower().replace("\u2019", "'")
    return _ABSTAIN.search(window) is not None


def score_answer(generated_text: str, answer: str, wrong_answers: Iterable[str] = ()) -> bool:
    """Correct if `answer` is in the answer window and no wrong answer is.

    If `answer` is ABSTAIN_ANSWER, the reply is correct when it abstains. A reply that hedges ("I don't
    know, maybe Ana?") is not a correct answer to a question that has one.
    """
    if answer.strip().lower() == ABSTAIN_ANSWER.lower():
        return is_abstention(generated_text)
    window = answer_window(generated_text)
    if not window or is_abstention(window):
        return False
    return mentions(window, answer) and not any(mentions(window, w) for w in wrong_answers if w.strip())


# Words of an answer that are never a value, whatever they resemble ("and" is not a near miss of "Ana").
_NOT_VALUES = frozenset(
    (
        "your", "you", "you're", "is", "are", "was", "were", "called", "named", "name", "names", "my", "the",
        "a", "an", "that", "that's", "it", "it's", "its", "and", "in", "on", "at", "to", "of", "for", "with",
        "live", "lives", "living", "work", "works", "working", "i", "don't", "know", "not", "sure", "he",
        "she", "they", "his", "her", "their", "this", "there", "what", "who", "where", "when", "which", "yes",
        "no",
    )
)  # fmt: skip
_WORDS = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)


def _prefix(a: str, b: str) -> int:
    """Length of the common leading characters of two strings."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _similar_word(c: str, v: str) -> bool:
    prefix = _prefix(c, v)
    ratio = SequenceMatcher(None, c, v).ratio()
    short = len(v) <= 4
    return (
        ratio >= (0.75 if short else 0.6)
        or (prefix >= 3 and prefix >= len(v) // 3)
        or (2 <= len(c) < len(v) and v.startswith(c) and not short)  # cut off: "Tarra" for "Tarragona"
    )


def _similar(candidate: str, value: str) -> bool:
    """Word by word: some word like the value's, none different beyond that ("Haliversity Logistics")."""
    c, v = candidate.lower().split(), value.lower().split()
    if c == v:
        return False
    return any(cw == vw or _similar_word(cw, vw) for cw, vw in zip(c, v, strict=True)) and any(
        cw != vw and _similar_word(cw, vw) for cw, vw in zip(c, v, strict=True)
    )


def near_miss(generated_text: str, answer: str) -> str | None:
    """The near miss a wrong reply gives instead of `answer` ("Sunny" for "Sunniva", "Raddeus" for
    "Radomir", "Tarra" for "Tarragona"), or None when the reply is right, abstains or names something
    else entirely. A near miss is a miss everywhere; it is counted apart so that "almost learned" shows."""
    if answer.strip().lower() == ABSTAIN_ANSWER.lower() or score_answer(generated_text, answer):
        return None
    window = answer_window(generated_text)
    if not window or is_abstention(window):
        return None
    words = _WORDS.findall(window)
    n = max(1, len(answer.split()))
    for i in range(len(words) - n + 1):
        span = words[i : i + n]
        if span[0].lower() in _NOT_VALUES:
            continue
        candidate = " ".join(span)
        if _similar(candidate, answer):
            return candidate
    return None


def blend(miss: str, answer: str, others: Iterable[str]) -> str | None:
    """The other value a near miss borrows from ("Raddeus": Radomir's head, Thaddeus's tail), or None."""
    m = miss.lower()
    for other in others:
        o = other.lower()
        if o == answer.lower() or not o:
            continue
        tail = _prefix(m[::-1], o[::-1])
        head = _prefix(m, o)
        if tail >= 3 or head >= 3:
            return other
    return None


def truncated(generated_text: str, answer: str) -> bool:
    """The reply gives the value cut off ("Tarra" for "Tarragona"): a miss, reported as its own figure."""
    miss = near_miss(generated_text, answer)
    return miss is not None and len(miss) < len(answer) and answer.lower().startswith(miss.lower())

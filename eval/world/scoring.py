"""Scoring a generated answer against a ground-truth span.

The answer window is the first sentence of the first non-empty line, after skipping filler sentences
("Sure!", "Hmm."). A reply is correct when the answer span occurs there as whole words
(case-insensitive) and no wrong answer (a superseded value) does. Looking only at the first sentence
stops a model from scoring by listing every name it knows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from eval.world.facts import mentions

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

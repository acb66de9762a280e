"""The RWKV chat transcript format (World / G1 models).

A conversation is plain text, one turn per paragraph:

    System: You are terse.\\n\\n          (optional)
    User: What is 2+2?\\n\\n
    Assistant: 4\\n\\n
    User: And 3+3?\\n\\n
    Assistant:                          (generation prompt)

Decisions:
- "\\n\\n" is the turn separator and nothing else. `normalize_content` removes blank lines inside a message
  (runs of them collapse to one "\\n"), so no message can contain "\\n\\n" and `parse_transcript` can split
  on it without ambiguity. This is the RWKV convention (ChatRWKV and the G1 templates collapse them too).
- A completed turn is `Role: content` with one space after the colon. The generation prompt is
  "Assistant:" with NO trailing space: the world vocabulary has space-prefixed word tokens (" Paris"), and
  the model emits the space as part of its first token. A prompt ending in a space would force the
  unnatural split " " + "Paris". `extract_reply` strips that leading space from the generated text.
- G1 models can also think inside `<think>...</think>` after "Assistant:"; this module leaves that to the
  caller (it is just text in the assistant content).

Generation stops at the first of `STOP_STRINGS`: the model finishes a reply with "\\n\\n" and then, being a
language model of transcripts, goes on to write the next turn's header itself. Stopping on "\\n\\n" plus a
role prefix (rather than on "\\n\\n" alone) lets a model that does emit a paragraph break keep going while
still cutting it off before it speaks for the user. Token id 0 (end of document) also ends generation;
that is the sampler's business, not text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

TURN_SEPARATOR = "\n\n"
ROLE_PREFIXES: dict[str, str] = {"system": "System", "user": "User", "assistant": "Assistant"}
GENERATION_PROMPT = "Assistant:"
STOP_STRINGS: tuple[str, ...] = ("\n\nUser:", "\n\nSystem:", "\n\nAssistant:")

_ROLE_OF_PREFIX = {prefix: role for role, prefix in ROLE_PREFIXES.items()}
_TURN_RE = re.compile(r"(System|User|Assistant): ?(.*)", re.DOTALL)


def normalize_content(text: str) -> str:
    """Message text made safe for the transcript.

    - CRLF and lone CR become LF.
    - Blank (empty or whitespace-only) lines are removed, which collapses every run of blank lines, so
      "\\n\\n" never appears inside a message.
    - Trailing whitespace is stripped from every line, and leading whitespace from the message (the
      format supplies the single space after "Role:").
    Indentation of every line but the first is kept (code).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line).lstrip()


def _turn(role_prefix: str, content: str) -> str:
    # An empty message is "Role:" with no dangling space.
    return f"{role_prefix}: {content}" if content else f"{role_prefix}:"


def format_messages(messages: Iterable[Mapping[str, Any]], add_generation_prompt: bool = False) -> str:
    """Render messages ({"role": "system"|"user"|"assistant", "content": str}) as an RWKV transcript.

    Every message becomes "Role: content\\n\\n" with normalized content. With add_generation_prompt the
    text ends in "Assistant:" (no space), ready for the model to write the reply. Other keys (id, name,
    created_at) are ignored. A bad role or non-string content raises ValueError naming the message index.
    """
    parts: list[str] = []
    for index, message in enumerate(messages):
        try:
            role, content = message["role"], message["content"]
        except (KeyError, TypeError):
            raise ValueError(f"message {index}: needs 'role' and 'content'") from None
        if role not in ROLE_PREFIXES:
            raise ValueError(f"message {index}: role must be one of {sorted(ROLE_PREFIXES)}, got {role!r}")
        if not isinstance(content, str):
            raise ValueError(f"message {index}: content must be a string, got {type(content).__name__}")
        parts.append(_turn(ROLE_PREFIXES[role], normalize_content(content)) + TURN_SEPARATOR)
    if add_generation_prompt:
        parts.append(GENERATION_PROMPT)
    return "".join(parts)


def parse_transcript(text: str) -> list[dict[str, str]]:
    """Inverse of `format_messages`: transcript text back to [{"role", "content"}].

    Turns are split on "\\n\\n". A final turn without a separator is kept (a prompt plus the model's
    reply parses as the whole conversation), except a bare trailing generation prompt "Assistant:",
    which is dropped. So parse_transcript(format_messages(m, g)) equals m with normalized content for
    both values of g. Raises ValueError naming the turn that does not start with a role prefix.
    """
    chunks = text.split(TURN_SEPARATOR)
    if chunks and chunks[-1] in ("", GENERATION_PROMPT):
        chunks.pop()
    messages: list[dict[str, str]] = []
    for index, chunk in enumerate(chunks):
        match = _TURN_RE.fullmatch(chunk)
        if match is None:
            raise ValueError(f"turn {index}: expected 'System:', 'User:' or 'Assistant:', got {chunk[:40]!r}")
        messages.append({"role": _ROLE_OF_PREFIX[match.group(1)], "content": match.group(2)})
    return messages


def find_stop(text: str, stop_strings: Iterable[str] = STOP_STRINGS) -> int:
    """Index of the earliest stop string in `text`, or -1."""
    hits = [i for i in (text.find(s) for s in stop_strings) if i >= 0]
    return min(hits) if hits else -1


def stop_holdback(text: str, stop_strings: Iterable[str] = STOP_STRINGS) -> int:
    """How many trailing characters of `text` a streaming server must hold back: the longest suffix that
    is a proper prefix of a stop string (it may turn into one with the next token)."""
    longest = 0
    for stop in stop_strings:
        for k in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:k]):
                longest = k
                break
    return longest


def extract_reply(generated: str, stop_strings: Iterable[str] = STOP_STRINGS) -> str:
    """The assistant's message from text generated after the "Assistant:" prompt: cut at the first stop
    string, drop the leading space the model writes after the colon, and normalize."""
    cut = find_stop(generated, stop_strings)
    if cut >= 0:
        generated = generated[:cut]
    return normalize_content(generated)


# How a memory is put in a chat for the teacher, the ceilings and the baselines: the user says it, the
# assistant acknowledges it, the way facts were stated in the default model's pretraining chats.
MEMORY_ACK = "Got it."


def memory_turns(texts: Iterable[str]) -> list[dict[str, str]]:
    """Memory texts as the user's turns of a chat, each acknowledged."""
    turns: list[dict[str, str]] = []
    for text in texts:
        turns += [
            {"role": "user", "content": normalize_content(text)},
            {"role": "assistant", "content": MEMORY_ACK},
        ]
    return turns

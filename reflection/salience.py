"""Salience without a language model: cheap, deterministic features that say why a message is worth keeping.

Each feature yields a component (in [0, 1]; feedback in [-1, 1]) and, when it fires, a reason a person can
read in `sleepd reflect --dry-run`. The score is a logistic model over the components:

    value = sigmoid(bias + sum(weight[c] * component[c]))

so `value` reads as "how likely this message is needed later", which is what the "density" budget
strategy (value per token) wants. Speaker-describing components (disclosure, plans, cues, corrections) are
scaled by the role weight: the user's "I moved to Lisbon" is a fact about the user, the assistant's "I am
happy to help" is not. System messages score 0: restated system prompts were the largest class of junk in
mem0's memory audit (mem0#4573).

Features:
- explicit cues ("remember that", "for the record"), corrections ("actually, it's ...") and user feedback:
  the user telling us what matters or what changed. No public data measures them, so their weights are set
  by hand, large enough to dominate.
- self-disclosure, names, dates/times, numbers, plans, media shared, content words: what later questions ask
  about (who, when, how many, what next).
- context (needs the neighbouring messages, see `score_segments`): the message answers another speaker's
  question; it opens a session (people lead with their news); `specificity`, how many of its content words
  are rare in the batch being reflected on.
- small talk, bare questions and assistant boilerplate ("As an AI ...") push the score down.

The weights of the measurable features were fitted once with a logistic regression on the LoCoMo evidence
labels (4 conversations) and rounded; reflection/locomo.py reports recall with them and with leave-one-
conversation-out fits. Selection itself never sees any QA. The model-based scorers (surprise, judge)
and embedding novelty combine with the `components` dict.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from reflection.segments import Segment

# --------------------------------------------------------------------------------------------- config

COMPONENTS: tuple[str, ...] = (
    "cue",
    "correction",
    "feedback",
    "self_disclosure",
    "names",
    "temporal",
    "numbers",
    "plans",
    "information",
    "specificity",
    "media",
    "answer",
    "opener",
    "phatic",
    "question",
    "listener_focus",
    "boilerplate",
)
ROLE_SCALED = frozenset({"cue", "correction", "self_disclosure", "plans"})


@dataclass(frozen=True)
class SalienceConfig:
    # Weight per component (w_<component>). cue, correction, feedback, plans and boilerplate are set by hand
    # (LoCoMo has no labels for them); the rest are a logistic fit on LoCoMo evidence labels, rounded.
    bias: float = -2.8
    w_cue: float = 4.0
    w_correction: float = 3.0
    w_feedback: float = 2.0
    w_self_disclosure: float = 0.9
    w_names: float = 1.8
    w_temporal: float = 2.1
    w_numbers: float = 0.5
    w_plans: float = 0.3
    w_information: float = 0.3
    w_specificity: float = 0.7
    w_media: float = 0.5
    w_answer: float = 1.2
    w_opener: float = 0.85
    w_phatic: float = -0.35
    w_question: float = -0.5
    w_listener_focus: float = -0.75
    w_boilerplate: float = -4.0
    # Multiplies ROLE_SCALED components. A system message scores 0 whatever it says.
    role_user: float = 1.0
    role_assistant: float = 0.35
    role_tool: float = 0.2
    role_system: float = 0.0
    # Saturation points: this many hits make a component 1.
    names_full: int = 3
    numbers_full: int = 2
    temporal_full: int = 2
    disclosure_full: int = 3
    information_full: int = 25  # content words
    specificity_full: float = 8.0  # sum of normalised IDF over a message's content words
    session_gap_minutes: float = 30.0  # a longer silence starts a new session

    def weight(self, component: str) -> float:
        return getattr(self, f"w_{component}", 0.0)

    def role_weight(self, role: str) -> float:
        return getattr(self, f"role_{role}", 0.0)


@dataclass(frozen=True)
class Context:
    """What a message's neighbours say about it. Built by `contexts_for`; all optional."""

    answers_question: bool = False  # the previous message, by another speaker, asked a question
    opens_session: bool = False  # first message of a conversation, or after a long silence
    doc_freq: Mapping[str, int] | None = None  # content word -> messages of the batch containing it
    n_docs: int = 0


@dataclass(frozen=True)
class Score:
    value: float  # in [0, 1]
    reasons: list[str]
    components: dict[str, float]


# --------------------------------------------------------------------------------------------- lexicons

_CUE = re.compile(
    r"\b(?:(?:please\s+)?remember\s+(?:that|this|my|me|to|i|we)\b|don'?t\s+forget\b|do\s+not\s+forget\b"
    r"|never\s+forget\b|note\s+that\b|make\s+a\s+note\b|take\s+note\b|for\s+the\s+record\b|keep\s+in\s+mind\b"
    r"|bear\s+in\s+mind\b|fyi\b|from\s+now\s+on\b|going\s+forward\b|in\s+the\s+future\b|important:)",
    re.I,
)
_CORRECTION = re.compile(
    r"(?:^|[.!?]\s+)(?:actually|no|nope|wait|oops|sorry)\s*[,!.:-]"
    r"|\bactually,|\bi\s+meant\b|\bi\s+mean,|\bcorrection\b|\bto\s+clarify\b|\bscratch\s+that\b"
    r"|\bthat'?s\s+(?:wrong|not\s+right|incorrect|not\s+true)\b|\bi\s+was\s+wrong\b|\bno\s+longer\b"
    r"|\bnot\s+anymore\b|\bchanged\s+my\s+mind\b|\bno,\s+(?:it|i|my|we|she|he|they)(?:'s|\s+is|\s+am|\s+was)\b"
    r"|\bnot\s+\w+(?:\s+\w+){0,2},?\s+but\b",
    re.I,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PAST_IRREGULAR = _words(
    "went got took made met saw bought began became brought built caught chose came did drew drove ate felt "
    "found flew forgot gave grew had heard held kept knew learnt led left lent lost meant paid put quit ran "
    "read rode rang rose said sold sent set shot showed sang sat slept spoke spent stood stole swam taught "
    "told thought threw understood woke wore won wrote"
)
_FACT_VERBS = _words(
    "am was have has own work live moved started start finished joined adopted visited studied graduated "
    "married volunteer volunteered play played signed applied decided plan planned love loved like liked "
    "hate prefer enjoy enjoyed use need teach run attend attended celebrated tried learned painted "
    "received lost won created organized organised raised"
)
# "I" + verb: the verb says whether a fact follows. Reactions ("I think", "I guess") do not count.
_I_VERB = re.compile(
    r"\b(?:i|we)(?:'m|'ve|'d|'ll|\s+(?:just|recently|finally|also|still|really|actually|already|even|"
    r"have|had|was|were|am|are|will|would|used\s+to|can|got|been|never|always|often|usually))*"
    r"\s+([a-z]+)",
    re.I,
)
_REACTION_VERBS = _words(
    "think guess mean know hope wish wonder see agree bet bet appreciate feel understand believe suppose "
    "imagine hear glad sorry so too totally really can can't cannot couldn't don't do did"
)
_I_AM = re.compile(
    r"\b(?:i'm|i\s+am|we're|we\s+are)\s+(?:(?:a|an|now|currently|still|from|in|at|based|"
    r"living|working|studying|going|moving|planning|starting|married|engaged|pregnant)\b)",
    re.I,
)
_POSSESSIVE = re.compile(r"\b(?:my|our)\s+(?!god\b|goodness\b|gosh\b|pleasure\b|bad\b)([a-z]+)", re.I)
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself|you're|you've|you'll|you'd|ya)\b", re.I)
_FIRST_PERSON = re.compile(r"\b(?:i|me|my|mine|myself|i'm|i've|i'll|i'd|we|us|our|ours|we're|we've)\b", re.I)
_MASK = re.compile(r"\[REDACTED:[a-z_]+\]")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_MONTH_NAMES = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_MONTHS = _MONTH_NAMES.split()
_WEEKDAY_NAMES = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun"
)
_WEEKDAYS = _WEEKDAY_NAMES.split()
_TEMPORAL = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|(?:last|next|this|coming|past)\s+(?:week|weekend|month|year|"
    r"summer|winter|spring|fall|autumn|night|morning|evening|time|" + "|".join(_WEEKDAYS[:7]) + r")|"
    r"\d+\s+(?:days?|weeks?|months?|years?)\s+ago|(?:a|one|two|three|few|couple\s+of)\s+(?:days?|weeks?|months?"
    r"|years?)\s+ago|ago|recently|lately|since|until|anniversary|birthday|"
    r"(?:19|20)\d\d|\d{1,2}:\d\d(?:\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\b|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?|"
    + "|".join(_MONTHS[:12])
    + "|"
    + "|".join(_WEEKDAYS[:7])
    + r")\b",
    re.I,
)
_NUMBER = re.compile(
    r"\b\d+(?:[.,]\d+)?\b|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|dozen|first|second|third)\b",
    re.I,
)
_PLANS = re.compile(
    r"\b(?:i'm\s+going\s+to|i\s+am\s+going\s+to|we're\s+going\s+to|i\s+will|i'll|we'll|we\s+will|"
    r"(?:plan|plans|planning|planned)\s+(?:to|on)|gonna|next\s+(?:week|weekend|month|year|time|summer|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)|tomorrow|upcoming|soon|can't\s+wait|"
    r"looking\s+forward|this\s+(?:weekend|week|month|summer)|appointment|deadline|scheduled|booked|"
    r"sign(?:ed)?\s+up|(?:want|hope|intend|aim)\s+to)\b",
    re.I,
)
_PHATIC = re.compile(
    r"\b(?:hi|hey|hello|thanks|thank\s+you|thx|congrats|congratulations|awesome|amazing|wow|cool|nice|great|"
    r"lol|haha|yay|bye|goodbye|cheers|glad|sounds\s+(?:great|good|fun|awesome|amazing)|good\s+luck|take\s+care|"
    r"see\s+you|you\s+too|same\s+here|agreed|totally|absolutely|definitely|exactly|sure|ok|okay|yeah|yes|"
    r"love\s+(?:it|that|this)|so\s+(?:happy|proud|glad)\s+for\s+you|proud\s+of\s+you|that's\s+(?:great|awesome|"
    r"amazing|so\s+cool|wonderful|lovely)|keep\s+it\s+up|you\s+got\s+this)\b",
    re.I,
)
_BOILERPLATE = re.compile(
    r"\b(?:as\s+an\s+ai|i'?m\s+an?\s+(?:ai|language\s+model|assistant)|i\s+am\s+an?\s+(?:ai|language\s+model|"
    r"assistant)|language\s+model|i\s+don'?t\s+have\s+(?:personal|feelings|access)|i\s+(?:can'?t|cannot)\s+"
    r"(?:browse|access)|how\s+can\s+i\s+(?:help|assist)|is\s+there\s+anything\s+else|happy\s+to\s+help|"
    r"you\s+are\s+a\s+helpful|system\s+prompt|i\s+hope\s+this\s+helps)\b",
    re.I,
)
_MEDIA = re.compile(
    r"\[(?:shares?|shared|sent|attached)\s+(?:a|an)\s+(?:photo|image|picture|file|video|link)", re.I
)
_STOPWORDS = _words(
    """
    a an the and or but if so of to in on at for with from by as is am are was were be been being it its it's
    this that these those there here i i'm i've i'd i'll me my mine we we're our us you you're your yours he
    she him her his they them their what which who whom when where why how all any both each few more most
    other some such no nor not only own same than too very can will just don't should now do does did doing
    have has had having would could also really just like get got go going oh yeah yes okay ok well much
    lot lots thing things something anything everything one ones about up out over again then once
    """
)
_NAME_STOP = frozenset(
    {"I", "I'm", "I've", "I'd", "I'll", "OK", "Ok", "Oh", "Hey", "Hi", "Hello", "Thanks", "Yes", "No", "Wow"}
)


# --------------------------------------------------------------------------------------------- features


def _sentences(text: str) -> list[str]:
    return [s for s in _SENT_SPLIT.split(text.strip()) if s]


_GREETINGS = _words(
    "hey hi hello thanks thank wow yeah yes no oh aw aww congrats congratulations sure ok okay bye dear haha "
    "great cool nice awesome sorry hmm um well morning night"
)


def _names(sentences: list[str]) -> list[str]:
    """Capitalised words that are not the first word of a sentence: people, places, organisations.

    Vocatives ("Thanks, Mel!", "That's great, Caroline!") name the listener, not a fact, so they do not count.
    """
    found: list[str] = []
    for sent in sentences:
        matches = list(_WORD.finditer(sent))
        for k in range(1, len(matches)):
            w = matches[k].group(0)
            base = w[:-2] if w.endswith("'s") else w
            if not base[:1].isupper() or len(base) < 2 or base in _NAME_STOP:
                continue
            if base.lower() in _MONTHS or base.lower() in _WEEKDAYS:
                continue
            before = sent[: matches[k].start()].rstrip()
            after = sent[matches[k].end() : matches[k].end() + 1]
            if matches[k - 1].group(0).lower() in _GREETINGS or (
                before.endswith(",") and after in ("", "!", "?", ".", ",")
            ):
                continue
            found.append(base)
    return found


def _disclosures(text: str) -> list[str]:
    hits: list[str] = []
    for m in _I_VERB.finditer(text):
        verb = m.group(1).lower()
        if verb in _REACTION_VERBS:
            continue
        if verb in _FACT_VERBS or verb in _PAST_IRREGULAR or (verb.endswith("ed") and len(verb) > 4):
            hits.append(m.group(0))
    hits.extend(m.group(0) for m in _I_AM.finditer(text))
    hits.extend(m.group(0) for m in _POSSESSIVE.finditer(text) if m.group(1).lower() not in _STOPWORDS)
    return hits


def _content_words(text: str) -> list[str]:
    return [w for w in (x.lower() for x in _WORD.findall(text)) if len(w) > 2 and w not in _STOPWORDS]


def _specificity(content: list[str], ctx: Context) -> tuple[float, list[str]]:
    """Sum over distinct content words of log(n/df)/log(n): 1 for a word no other message uses, 0 for one
    every message uses. Normalised so a batch of 20 messages and one of 500 give comparable values."""
    if not ctx.doc_freq or ctx.n_docs < 2:
        return 0.0, []
    log_n = math.log(ctx.n_docs)
    total, rare = 0.0, []
    for w in dict.fromkeys(content):
        df = max(1, ctx.doc_freq.get(w, 1))
        idf = max(0.0, math.log(ctx.n_docs / df) / log_n)
        total += idf
        if idf > 0.75:
            rare.append(w)
    return total, rare


def _sat(n: float, full: float) -> float:
    return min(1.0, n / full) if full > 0 else 0.0


def _quote(snippets: list[str], k: int = 3) -> str:
    uniq = list(dict.fromkeys(s.strip().lower() if not s[:1].isupper() else s.strip() for s in snippets))
    return ", ".join(f"'{s}'" for s in uniq[:k])


def salience(
    text: str,
    role: str = "user",
    feedback_rating: float | None = None,
    config: SalienceConfig = SalienceConfig(),
    context: Context | None = None,
) -> Score:
    """Score one (redacted) message. Deterministic; no model; fast enough for every message of a day."""
    # A redaction mask is not information: "[REDACTED:api_key]" must not read as a name or a rare word.
    text = _MASK.sub(" ", text.replace("’", "'"))
    role_w = config.role_weight(role)
    ctx = context or Context()
    sents = _sentences(text)
    comps: dict[str, float] = {}
    reasons: list[str] = []

    def put(name: str, value: float, reason: str) -> None:
        comps[name] = round(value, 4)
        if value:
            reasons.append(reason)

    cues = [m.group(0) for m in _CUE.finditer(text)]
    put("cue", 1.0 if cues else 0.0, f"explicit memory cue {_quote(cues)}")
    corrections = [m.group(0).strip(" .!?") for m in _CORRECTION.finditer(text)]
    put("correction", 1.0 if corrections else 0.0, f"correction {_quote(corrections)}")
    fb = 0.0 if feedback_rating is None else max(-1.0, min(1.0, float(feedback_rating)))
    put("feedback", fb, f"{'positive' if fb > 0 else 'negative'} feedback ({fb:+.2f})")
    disc = _disclosures(text)
    put("self_disclosure", _sat(len(disc), config.disclosure_full), f"self-disclosure {_quote(disc)}")
    names = _names(sents)
    put("names", _sat(len(set(names)), config.names_full), f"names {_quote(names)}")
    temporal = [m.group(0) for m in _TEMPORAL.finditer(text)]
    put("temporal", _sat(len(temporal), config.temporal_full), f"date/time {_quote(temporal)}")
    numbers = [m.group(0) for m in _NUMBER.finditer(text)]
    put("numbers", _sat(len(numbers), config.numbers_full), f"numbers {_quote(numbers)}")
    plans = [m.group(0) for m in _PLANS.finditer(text)]
    put("plans", 1.0 if plans else 0.0, f"plan/future {_quote(plans)}")
    content = _content_words(text)
    put("information", _sat(len(content), config.information_full), f"{len(content)} content words")
    spec, rare = _specificity(content, ctx)
    spec_reason = f"specific words {_quote(rare)}" if rare else f"specificity {spec:.1f}"
    put("specificity", _sat(spec, config.specificity_full), spec_reason)
    put("media", 1.0 if _MEDIA.search(text) else 0.0, "shares media")
    put("answer", 1.0 if ctx.answers_question else 0.0, "answers a question")
    put("opener", 1.0 if ctx.opens_session else 0.0, "opens a session")

    # Small talk: pleasantries make up most of a short message.
    phatic_hits = len(_PHATIC.findall(text))
    phatic = min(1.0, phatic_hits / max(1.0, len(content) / 2)) if phatic_hits and len(content) < 12 else 0.0
    put("phatic", phatic, "small talk")
    you = len(_SECOND_PERSON.findall(text))
    me = len(_FIRST_PERSON.findall(text))
    put("listener_focus", you / (you + me) if you + me else 0.0, "about the listener")
    n_questions = sum(s.rstrip().endswith("?") for s in sents)
    put(
        "question",
        n_questions / len(sents) if sents and not disc else 0.0,
        "question without new information",
    )
    boiler = [m.group(0) for m in _BOILERPLATE.finditer(text)]
    put("boilerplate", 1.0 if boiler and role != "user" else 0.0, f"assistant boilerplate {_quote(boiler)}")

    if role_w == 0.0:
        return Score(0.0, [*reasons, f"{role} message: never kept"], comps)
    raw = config.bias
    for name, value in comps.items():
        raw += config.weight(name) * value * (role_w if name in ROLE_SCALED else 1.0)
    return Score(round(1.0 / (1.0 + math.exp(-raw)), 6), reasons, comps)


# --------------------------------------------------------------------------------------------- batches


def _speaker(segment: Segment) -> str:
    return str(segment.names[0] if segment.names and segment.names[0] else segment.roles[0])


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=None) if t.tzinfo is None else t


def contexts_for(segments: Sequence[Segment], config: SalienceConfig = SalienceConfig()) -> list[Context]:
    """Context of each segment within its batch (segments in conversation order)."""
    docs = [set(_content_words(s.text.replace("’", "'"))) for s in segments]
    df = Counter(w for d in docs for w in d)
    out = []
    for i, seg in enumerate(segments):
        prev = segments[i - 1] if i > 0 and segments[i - 1].conversation_id == seg.conversation_id else None
        opens = prev is None
        if prev is not None:
            t0, t1 = _time(prev.created_at), _time(seg.created_at)
            if t0 is not None and t1 is not None and (t0.tzinfo is None) == (t1.tzinfo is None):
                opens = (t1 - t0).total_seconds() > config.session_gap_minutes * 60
        last = (prev.contents[-1] if prev is not None and prev.contents else prev.text if prev else "") or ""
        answers = prev is not None and "?" in last and _speaker(prev) != _speaker(seg)
        out.append(Context(answers, opens, df, len(segments)))
    return out


def score_segment(
    segment: Segment,
    feedback: Mapping[str, float] | None = None,
    config: SalienceConfig = SalienceConfig(),
    context: Context | None = None,
) -> Score:
    """Score a segment: each source message on its own (roles matter), the best one speaks for the segment.

    `feedback` maps message id -> rating in [-1, 1].
    """
    contents = segment.contents or (segment.text,)
    parts = []
    for k, content in enumerate(contents):
        mid = segment.source_message_ids[k] if k < len(segment.source_message_ids) else None
        role = segment.roles[k] if k < len(segment.roles) else "user"
        rating = feedback.get(mid) if feedback is not None and mid is not None else None
        ctx = (
            context if k == 0 or context is None else Context(False, False, context.doc_freq, context.n_docs)
        )
        parts.append((role, salience(content, role, rating, config, ctx)))
    if len(parts) == 1:
        return parts[0][1]
    best = max(range(len(parts)), key=lambda k: (parts[k][1].value, -k))
    role, score = parts[best]
    return Score(score.value, [f"{role}: {r}" for r in score.reasons], dict(score.components))


def score_segments(
    segments: Sequence[Segment],
    feedback: Mapping[str, float] | None = None,
    config: SalienceConfig = SalienceConfig(),
) -> list[Score]:
    """Score a batch (one night's segments, in conversation order), with context features."""
    contexts = contexts_for(segments, config)
    return [score_segment(s, feedback, config, c) for s, c in zip(segments, contexts, strict=True)]


# --------------------------------------------------------------------------------------------- small talk

# Words that carry no fact in a reaction ("Wow, that's so cool!", "Great to chat again!").
_REACTION_WORDS = _words(
    """
    hey hello thanks thank wow congrats congratulations awesome amazing cool nice great good glad happy proud
    love lovely wonderful fantastic sweet sounds fun yay haha lol totally absolutely definitely exactly sure
    okay yeah yes see bye care luck cheers blast beautiful gorgeous stunning incredible super thrilled excited
    inspiring hear heard chat chatting talk talking catch soon that's what's there's here's how's let's
    """
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)")
_INFO_COMPONENTS = ("cue", "correction", "self_disclosure", "names", "temporal", "numbers", "plans", "media")


def is_small_talk(sentence: str) -> bool:
    """A sentence with no fact in it: a greeting or reaction, or a question to the listener.

    Conservative on purpose: any sign of information (a name, date, number, plan, self-disclosure, media,
    cue or correction) keeps the sentence, and so do two or more content words that are not reaction words.
    A question is small talk when it asks about the listener ("How have you been?") or is bare ("What
    now?"); "Sunflowers mean warmth, right?" states something and stays."""
    text = sentence.replace("’", "'").strip()
    if not text:
        return True
    comps = salience(text, "user").components
    if any(comps[c] > 0 for c in _INFO_COMPONENTS):
        return False
    # A capitalised word after the first that did not count as a name is a vocative ("..., Caroline!").
    tokens = _WORD.findall(text)
    vocatives = {w.lower() for w in tokens[1:] if w[:1].isupper()}
    words = [w for w in _content_words(text) if w not in _REACTION_WORDS and w not in vocatives]
    if text.endswith("?"):
        return bool(_SECOND_PERSON.search(text)) or len(words) <= 1
    return len(words) <= 1


def split_small_talk(text: str) -> tuple[str, str]:
    """(information, small talk): the message's sentences sorted into the two, each in original order.

    Returns (text, "") when nothing is small talk and ("", text) when everything is."""
    sentences = [s for s in _SENTENCE.split(text.strip()) if s]
    if len(sentences) <= 1:
        return ("", text) if sentences and is_small_talk(sentences[0]) else (text, "")
    keep, drop = [], []
    for s in sentences:
        (drop if is_small_talk(s) else keep).append(s)
    if not drop:
        return text, ""
    if not keep:
        return "", text
    return " ".join(keep), " ".join(drop)

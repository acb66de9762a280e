"""The selection policy: combine the scores, merge duplicates, supersede changed facts, fit the budget.

Input: tonight's candidate parts (segments, with small talk split off), their salience scores, the model
scores, embeddings and slots; the active memory bank. Output: one `PartDecision` per part (kept or dropped,
with every score component and a reason for each push) and the `PlannedItem`s to store.

Order of business
1. Score: a logit per part (see config.py for the formula); `score = sigmoid(logit)`, read as "how likely
   this is needed later", which is what the density budget wants.
2. Duplicates are merged, never kept twice, and never deleted (mem0#1674 lost data deduplicating):
   - a part whose embedding is within `duplicate_cosine` of an active bank item is not stored again; its
     message ids are added to that item's provenance;
   - among tonight's parts, the best-scored of a near-duplicate group stands for the others, which are
     dropped with "merged into" and join its provenance.
3. Budget: greedy fit (budget.py) over what is left.
4. Supersede: kept items are walked in message order with a slot registry seeded from the bank (stored
   slot columns and the slots re-read from each active item's text, so an item holding two facts is found
   by either). A functional slot (one value at a time) stated with a new value supersedes every active item
   holding the old value: the old item stays in history, marked superseded, and is never replayed as true
   (mem0#4536 and PR #2709: an update keeps history). When the superseded item held other facts that did not
   change, their clauses are carried forward as new items, so superseding one fact does not forget the
   others. Restating a value the bank already holds supersedes nothing; the restating item holds the
   value alongside, so a later change supersedes both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from reflection.budget import Candidate, budget_tokens, fit_budget
from reflection.config import ReflectionConfig
from reflection.kinds import NEVER, OTHER, PRIORITY, classify
from reflection.salience import Context, Score, score_segment, split_small_talk
from reflection.scorers import ModelScores, logit, percentiles
from reflection.segments import CountTokens, Segment
from reflection.slots import MULTI_VALUED, Slot, _clauses, extract_slots
from reflection.stated import echoed_slots, fact_slots

# --------------------------------------------------------------------------------------------- parts


@dataclass(frozen=True)
class Part:
    """A candidate: a whole segment, or the information / small-talk half of a one-message segment."""

    segment: Segment
    context: Context
    kind: str = "whole"  # "whole" | "info" | "small_talk"
    deferred_id: int | None = None  # a deferred bank item taken up again (first in line)

    @property
    def text(self) -> str:
        return self.segment.text


def split_parts(
    segments: Sequence[Segment], contexts: Sequence[Context], count_tokens: CountTokens, enabled: bool = True
) -> list[Part]:
    """One part per segment, or two when a one-message segment mixes facts with small talk.

    Contexts come from the unsplit segments (a reply still "answers a question" after the question was
    split off the message before it); the small-talk half gets none of them."""
    out: list[Part] = []
    for seg, ctx in zip(segments, contexts, strict=True):
        if not enabled or len(seg.source_message_ids) != 1:
            out.append(Part(seg, ctx))
            continue
        info, talk = split_small_talk(seg.text)
        if not info or not talk:
            out.append(Part(seg, ctx, "whole" if info else "small_talk"))
            continue
        bare = Context(False, False, ctx.doc_freq, ctx.n_docs)
        for text, kind, c in ((info, "info", ctx), (talk, "small_talk", bare)):
            part = Segment(
                list(seg.source_message_ids),
                seg.conversation_id,
                text,
                list(seg.roles),
                count_tokens(text),
                seg.position,
                (text,),
                seg.names,
                seg.created_at,
            )
            out.append(Part(part, c, kind))
    return out


def salience_scores(
    parts: Sequence[Part], feedback: Mapping[str, float] | None, config: ReflectionConfig
) -> list[Score]:
    return [score_segment(p.segment, feedback, config.salience, p.context) for p in parts]


# --------------------------------------------------------------------------------------------- slots


@dataclass(frozen=True)
class PartSlot:
    slot: Slot  # span relative to the part's text
    subject: str


def part_slots(part: Part) -> list[PartSlot]:
    """Facts the speaker states about themselves in this part (user messages only: the assistant's "I"
    is the assistant). Subject: the speaker's name when the import gives one, else "user"."""
    seg = part.segment
    out: list[PartSlot] = []
    contents = seg.contents or (seg.text,)
    for k, content in enumerate(contents):
        role = seg.roles[k] if k < len(seg.roles) else "user"
        if role != "user" or not content:
            continue
        offset = seg.text.find(content)
        if offset < 0:
            continue
        subject = (seg.names[k] if k < len(seg.names) else None) or "user"
        for s in fact_slots(content):
            span = (s.span[0] + offset, s.span[1] + offset)
            out.append(PartSlot(Slot(s.subject, s.relation, s.value, span, s.functional), subject))
    return out


@dataclass(frozen=True)
class BankItem:
    memory_id: int
    text: str
    subject: str | None
    relation: str | None
    value: str | None
    source_message_ids: tuple[str, ...] = ()


def bank_slots(item: BankItem) -> list[tuple[str, str, str, bool]]:
    """(subject, relation, value, functional) an active item holds: its stored slot and its text's slots."""
    subject = item.subject or "user"
    found: dict[tuple[str, str], tuple[str, str, str, bool]] = {}
    if item.relation and item.value:
        found[(subject, item.relation)] = (
            subject,
            item.relation,
            item.value,
            item.relation not in MULTI_VALUED,
        )
    # Its own words, then what it echoes in the second person: an assistant's "Your gym day is Thursday."
    # kept as a memory holds the old day too, and must be superseded with the user's items when it changes.
    for s in [*fact_slots(item.text), *echoed_slots(item.text)]:
        found.setdefault((subject, s.relation), (subject, s.relation, s.value, s.functional))
    return list(found.values())


# --------------------------------------------------------------------------------------------- results


@dataclass
class PartDecision:
    part: Part
    score: float
    components: dict[str, float]
    reasons: list[str]
    kept: bool = False
    verdict: str = ""
    merged_into: int | None = None  # index of the part that stands for this one
    merged_into_memory: int | None = None  # bank memory id this part duplicates
    slots: list[PartSlot] = field(default_factory=list)
    kind: str = OTHER  # kinds.py: fact, request, stock, question, other
    deferred: bool = False  # a fact over tonight's capacity: stored as deferred, first in line next night

    @property
    def source_message_ids(self) -> list[str]:
        return list(self.part.segment.source_message_ids)

    @property
    def tokens(self) -> int:
        return self.part.segment.token_count

    def all_reasons(self) -> list[str]:
        return [*self.reasons, self.verdict] if self.verdict else list(self.reasons)


@dataclass
class PlannedItem:
    text: str
    role: str
    source_message_ids: list[str]
    score: float
    subject: str | None = None
    relation: str | None = None
    value: str | None = None
    slots: list[PartSlot] = field(default_factory=list)  # every slot stated in `text` (spans into text)
    supersedes_bank: list[int] = field(default_factory=list)  # active bank memory ids it replaces
    supersedes_planned: list[int] = field(default_factory=list)  # earlier planned items it replaces
    part_index: int | None = None  # the decision it comes from (None: carried forward)
    carried_from: int | None = None  # bank memory id whose unchanged fact this carries forward
    notes: list[str] = field(default_factory=list)
    deferred_id: int | None = None  # the deferred bank item this activates (its row is reused)
    status: str = "active"  # "deferred": stored to wait for the next night


@dataclass
class BankMerge:
    memory_id: int
    message_ids: list[str]


@dataclass
class PolicyOutcome:
    decisions: list[PartDecision]
    items: list[PlannedItem]  # kept tonight (plus carried-forward clauses)
    merges: list[BankMerge]
    total_tokens: int
    budget_tokens: int
    kept_tokens: int
    notes: list[str]
    deferred: list[PlannedItem] = field(default_factory=list)  # over capacity: waiting for the next night
    obsolete_deferred: dict[int, str] = field(default_factory=dict)  # deferred bank items no longer news: why


# --------------------------------------------------------------------------------------------- scoring


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def combine(
    parts: Sequence[Part],
    sal: Sequence[Score],
    model: ModelScores | None,
    judge_p: Sequence[float | None] | None,
    judge_active: bool,
    bank_cos: np.ndarray | None,
    bank_idx: np.ndarray | None,
    bank: Sequence[BankItem],
    slots: Sequence[list[PartSlot]],
    registry: Mapping[tuple[str, str], list[tuple[int, str]]],
    config: ReflectionConfig,
) -> list[PartDecision]:
    """A decision (score, components, reasons) per part; kept/verdict are filled in later."""
    n = len(parts)
    pct = percentiles(model.loss) if model is not None else [0.5] * n
    judge_logits: list[float | None] = [None] * n
    if judge_p is not None:
        judge_logits = [logit(p) if p is not None and math.isfinite(p) else None for p in judge_p]
    finite_j = [v for v in judge_logits if v is not None]
    judge_median = float(np.median(finite_j)) if finite_j else 0.0
    out: list[PartDecision] = []
    for i, (part, score) in enumerate(zip(parts, sal, strict=True)):
        comps: dict[str, float] = {f"salience.{k}": v for k, v in score.components.items()}
        comps["salience"] = score.value
        reasons = list(score.reasons)
        if part.kind == "small_talk":
            reasons.append("small talk split off the message")
        elif part.kind == "info":
            reasons.append("small talk removed from the message")
        if score.value <= 0.0:  # system messages and the like: never kept, whatever else says
            out.append(PartDecision(part, 0.0, comps, reasons, slots=list(slots[i])))
            continue
        raw = config.w_salience * logit(score.value, 1e-6)

        if model is not None:
            loss = model.loss[i]
            comps["surprise_loss"] = round(loss, 4) if math.isfinite(loss) else float("nan")
            comps["surprise_pct"] = round(pct[i], 4)
            if model.surprise_active and math.isfinite(loss):
                push = config.w_surprise * (pct[i] - 0.5)
                raw += push
                if abs(push) >= 0.2:
                    word = "surprising" if push > 0 else "predictable"
                    reasons.append(
                        f"{word} to the current state ({loss:.2f} nats/token, p{pct[i] * 100:.0f})"
                    )
            if model.base_loss is not None and math.isfinite(loss) and math.isfinite(model.base_loss[i]):
                base = model.base_loss[i]
                rel = (base - loss) / base if base > 0 else 0.0
                half = config.known_threshold / 2
                known = min(1.0, max(0.0, (rel - half) / half)) if half > 0 else float(rel > 0)
                comps["known"] = round(known, 4)
                if model.surprise_active and known > 0:
                    raw -= config.w_known * known
                    reasons.append(
                        f"already known: the current state predicts it {rel:.0%} better than the base"
                    )
        jl = judge_logits[i]
        if jl is not None and judge_p is not None:
            p = judge_p[i]
            comps["judge_p_yes"] = round(float(p), 4) if p is not None else float("nan")
            if judge_active:
                push = config.w_judge * max(-3.0, min(3.0, jl - judge_median))
                raw += push
                if abs(push) >= 0.2:
                    reasons.append(
                        f"judge: {'worth' if push > 0 else 'not worth'} remembering (P(Yes) {p:.2f})"
                    )

        if bank_cos is not None and bank_idx is not None and bank_idx[i] >= 0:
            cos = float(bank_cos[i])
            comps["bank_cosine"] = round(cos, 4)
            if cos > config.related_cosine:
                span = max(1e-6, config.duplicate_cosine - config.related_cosine)
                red = min(1.0, (cos - config.related_cosine) / span)
                comps["redundancy"] = round(red, 4)
                raw -= config.w_redundant * red
                reasons.append(f"similar to memory #{bank[int(bank_idx[i])].memory_id} (cosine {cos:.2f})")

        for ps in slots[i]:
            if not ps.slot.functional:
                continue
            held = registry.get((ps.subject, ps.slot.relation), [])
            if not held:
                continue
            same = [mid for mid, v in held if v.lower() == ps.slot.value.lower()]
            other = [(mid, v) for mid, v in held if v.lower() != ps.slot.value.lower()]
            if other:
                comps["update"] = 1.0
                raw += config.w_update
                old = ", ".join(f"{v} (#{mid})" for mid, v in other)
                reasons.append(f"changes {ps.slot.relation}: {old} -> {ps.slot.value}")
            elif same:
                comps["restated"] = 1.0
                raw -= config.w_restated
                reasons.append(f"restates {ps.slot.relation} = {ps.slot.value} (memory #{same[0]})")
        out.append(PartDecision(part, round(_sigmoid(raw), 6), comps, reasons, slots=list(slots[i])))
    return out


def _conflict(a: PartDecision, b: PartDecision) -> bool:
    """Whether two parts give different values to one functional slot (never duplicates, however close)."""
    held = {(ps.subject, ps.slot.relation): ps.slot.value.lower() for ps in a.slots if ps.slot.functional}
    return any(
        held.get((ps.subject, ps.slot.relation), ps.slot.value.lower()) != ps.slot.value.lower()
        for ps in b.slots
        if ps.slot.functional
    )


def merge_duplicates(
    decisions: Sequence[PartDecision],
    embeddings: np.ndarray | None,
    bank_cos: np.ndarray | None,
    bank_idx: np.ndarray | None,
    bank: Sequence[BankItem],
    config: ReflectionConfig,
) -> list[BankMerge]:
    """Mark near-duplicates (of the bank, then of each other) as merged; returns the bank merges."""
    merges: dict[int, list[str]] = {}
    if bank_cos is not None and bank_idx is not None:
        for i, d in enumerate(decisions):
            if d.components.get("update"):
                continue  # "My gym day is Friday now." is close to "My gym day is Thursday." and replaces it
            if not d.verdict and d.score > 0 and bank_idx[i] >= 0 and bank_cos[i] >= config.duplicate_cosine:
                mem = bank[int(bank_idx[i])]
                d.merged_into_memory = mem.memory_id
                d.verdict = f"near-duplicate of memory #{mem.memory_id} (cosine {bank_cos[i]:.2f}): merged"
                merges.setdefault(mem.memory_id, []).extend(d.source_message_ids)
    if embeddings is not None and len(decisions) > 1:
        live = [
            i
            for i, d in enumerate(decisions)
            if not d.verdict and d.score > 0 and d.merged_into_memory is None
        ]
        if live:
            sims = embeddings[live] @ embeddings[live].T
            # A deferred fact stands for tonight's restatements of it (it keeps its row and its place).
            order = sorted(
                range(len(live)),
                key=lambda k: (
                    decisions[live[k]].part.deferred_id is None,
                    -decisions[live[k]].score,
                    live[k],
                ),
            )
            taken: set[int] = set()
            for k in order:
                if k in taken:
                    continue
                taken.add(k)
                for j in np.nonzero(sims[k] >= config.duplicate_cosine)[0].tolist():
                    if j in taken or _conflict(decisions[live[k]], decisions[live[j]]):
                        continue
                    taken.add(j)
                    d = decisions[live[j]]
                    d.merged_into = live[k]
                    rep = decisions[live[k]]
                    ids = ", ".join(rep.source_message_ids)
                    d.verdict = f"near-duplicate of {ids} (cosine {sims[k, j]:.2f}): merged"
    return [BankMerge(mid, list(dict.fromkeys(ids))) for mid, ids in merges.items()]


# --------------------------------------------------------------------------------------------- decide


def slot_registry(bank: Sequence[BankItem]) -> dict[tuple[str, str], list[tuple[int, str]]]:
    reg: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for item in bank:
        for subject, relation, value, functional in bank_slots(item):
            if functional:
                reg.setdefault((subject, relation), []).append((item.memory_id, value))
    return reg


def decide(
    parts: Sequence[Part],
    sal: Sequence[Score],
    *,
    total_tokens: int,
    config: ReflectionConfig,
    model: ModelScores | None = None,
    judge_p: Sequence[float | None] | None = None,
    judge_active: bool = False,
    embeddings: np.ndarray | None = None,
    bank: Sequence[BankItem] = (),
    bank_embeddings: np.ndarray | None = None,
) -> PolicyOutcome:
    """Score, merge, budget and plan items. Pure: reads nothing, writes nothing."""
    slots = [part_slots(p) for p in parts]
    registry = slot_registry(bank)
    bank_cos = bank_idx = None
    if embeddings is not None and bank_embeddings is not None and len(bank_embeddings):
        sims = embeddings @ bank_embeddings.T
        bank_idx = sims.argmax(axis=1)
        bank_cos = sims[np.arange(len(parts)), bank_idx]
    decisions = combine(
        parts, sal, model, judge_p, judge_active, bank_cos, bank_idx, bank, slots, registry, config
    )
    for d in decisions:
        pk = classify(d.part.text, _role(d.part))
        d.kind = pk.kind
        if d.part.deferred_id is not None:
            d.kind = pk.kind if pk.kind in PRIORITY else "fact"
            d.reasons.append(f"deferred memory #{d.part.deferred_id}: first in line tonight")
        elif pk.reason:
            d.reasons.append(pk.reason)
    # 1. Stock replies and bare questions are never kept, whatever the budget (nor stand for duplicates).
    for d in decisions:
        if d.kind in NEVER:
            d.verdict = "never kept"
    merges = merge_duplicates(decisions, embeddings, bank_cos, bank_idx, bank, config)
    # 2. Stated facts and remember requests first (deferred ones before tonight's, then in message order),
    #    up to the night's capacity; the rest wait for the next night. Restating a value the bank already
    #    holds is not news and competes like anything else.
    priority = sorted(
        (
            i
            for i, d in enumerate(decisions)
            if not d.verdict and d.kind in PRIORITY and not d.components.get("restated")
        ),
        key=lambda i: (decisions[i].part.deferred_id is None, decisions[i].part.segment.position, i),
    )
    capacity = config.capacity_facts
    first = priority if capacity is None else priority[:capacity]
    for rank, i in enumerate(first):
        decisions[i].kept = True
        of = f" of {capacity}" if capacity is not None else ""
        decisions[i].verdict = f"kept: stated fact {rank + 1}{of} tonight"
    waiting = f"deferred: over tonight's capacity of {capacity} facts; first in line next night"
    for i in priority[len(first) :]:
        decisions[i].deferred = True
        decisions[i].verdict = waiting
    fact_tokens = sum(decisions[i].tokens for i in first)
    # 3. Everything else shares what is left of the day's fraction budget, by density as before.
    budget = budget_tokens(total_tokens, config.budget_config())
    open_idx = [i for i, d in enumerate(decisions) if not d.verdict]
    candidates = [Candidate(decisions[i].part.segment, Score(decisions[i].score, [], {})) for i in open_idx]
    selection = fit_budget(candidates, max(0, budget - fact_tokens), config.budget_strategy, config.min_score)
    for i, verdict in zip(open_idx, selection.decisions, strict=True):
        decisions[i].kept = verdict.kept
        decisions[i].verdict = verdict.reason
    items, notes = plan_items(decisions, registry, bank)
    deferred, obsolete = plan_deferred(decisions)
    kept_tokens = fact_tokens + selection.kept_tokens
    return PolicyOutcome(
        decisions,
        items,
        merges,
        total_tokens,
        max(budget, kept_tokens),
        kept_tokens,
        notes,
        deferred,
        obsolete,
    )


def plan_deferred(decisions: Sequence[PartDecision]) -> tuple[list[PlannedItem], dict[int, str]]:
    """Items for the facts over capacity, and the deferred bank items that are obsolete.

    A deferred fact whose one-value slot a later message of the queue (kept or deferred) changes would,
    taken up later, overwrite the newer value: it is obsolete instead (its decision says why)."""
    queue = sorted(
        (i for i, d in enumerate(decisions) if d.kept or d.deferred),
        key=lambda i: (decisions[i].part.deferred_id is None, decisions[i].part.segment.position, i),
    )
    items: list[PlannedItem] = []
    # A deferred item the bank already holds in other words (merged into an active memory) is not news.
    obsolete = {
        d.part.deferred_id: f"the bank holds it already (memory #{d.merged_into_memory})"
        for d in decisions
        if d.part.deferred_id is not None and d.merged_into_memory
    }
    for k, i in enumerate(queue):
        d = decisions[i]
        if not d.deferred:
            continue
        later = [decisions[j] for j in queue[k + 1 :] if decisions[j].kind in PRIORITY]
        changed = [
            (ps, os_)
            for ps in d.slots
            if ps.slot.functional
            for o in later
            for os_ in o.slots
            if os_.slot.functional
            and (os_.subject, os_.slot.relation) == (ps.subject, ps.slot.relation)
            and os_.slot.value.lower() != ps.slot.value.lower()
        ]
        if changed:
            ps, newer = changed[0]
            d.deferred = False
            d.verdict = f"obsolete: a later message changes {ps.slot.relation} to {newer.slot.value}"
            if d.part.deferred_id is not None:
                obsolete[d.part.deferred_id] = f"a later message changes {ps.slot.relation}"
            continue
        if d.part.deferred_id is not None:
            continue  # already stored as deferred: it stays so (its reason is updated when stored)
        claimed = next((ps for ps in d.slots), None)
        items.append(
            PlannedItem(
                text=d.part.text,
                role=_role(d.part),
                source_message_ids=d.source_message_ids,
                score=d.score,
                subject=claimed.subject if claimed else None,
                relation=claimed.slot.relation if claimed else None,
                value=claimed.slot.value if claimed else None,
                slots=list(d.slots),
                part_index=i,
                notes=[d.verdict],
                status="deferred",
            )
        )
    return items, obsolete


def _role(part: Part) -> str:
    return part.segment.roles[0] if part.segment.roles else "user"


def plan_items(
    decisions: Sequence[PartDecision],
    registry: Mapping[tuple[str, str], list[tuple[int, str]]],
    bank: Sequence[BankItem],
) -> tuple[list[PlannedItem], list[str]]:
    """Kept parts become items, in message order; walk the slots to find what each one supersedes."""
    reg: dict[tuple[str, str], list[tuple[str, int, str]]] = {
        key: [("bank", mid, v) for mid, v in held] for key, held in registry.items()
    }
    by_id = {b.memory_id: b for b in bank}
    items: list[PlannedItem] = []
    notes: list[str] = []
    order = sorted(
        (i for i, d in enumerate(decisions) if d.kept),
        key=lambda i: (decisions[i].part.segment.position, i),
    )
    superseded_bank: set[int] = set()
    for i in order:
        d = decisions[i]
        item = PlannedItem(
            text=d.part.text,
            role=_role(d.part),
            source_message_ids=d.source_message_ids,
            score=d.score,
            slots=list(d.slots),
            part_index=i,
            deferred_id=d.part.deferred_id,
        )
        # Merged near-duplicates of tonight join the provenance of the part that stands for them.
        for other in decisions:
            if other.merged_into == i:
                item.source_message_ids = list(
                    dict.fromkeys(item.source_message_ids + other.source_message_ids)
                )
        claimed: PartSlot | None = None
        for ps in d.slots:
            key = (ps.subject, ps.slot.relation)
            if not ps.slot.functional:
                claimed = claimed or ps
                continue
            held = reg.get(key, [])
            if any(v.lower() == ps.slot.value.lower() for _, _, v in held):
                # Restated: nothing is superseded, but this item holds the value too, so that a later
                # change supersedes it along with the others (it must never be replayed as true after).
                reg[key] = [*held, ("planned", len(items), ps.slot.value)]
                if claimed is None or not claimed.slot.functional:
                    claimed = ps
                continue
            for where, ident, value in held:
                if where == "bank":
                    if ident not in item.supersedes_bank:
                        item.supersedes_bank.append(ident)
                else:
                    item.supersedes_planned.append(ident)
                item.notes.append(
                    f"supersedes {'memory #' + str(ident) if where == 'bank' else 'item'}"
                    f" ({ps.slot.relation}: {value} -> {ps.slot.value})"
                )
            reg[key] = [("planned", len(items), ps.slot.value)]
            if claimed is None or not claimed.slot.functional:
                claimed = ps
        if claimed is not None:
            item.subject, item.relation, item.value = (
                claimed.subject,
                claimed.slot.relation,
                claimed.slot.value,
            )
        items.append(item)
        superseded_bank.update(item.supersedes_bank)

    # Carry forward the unchanged facts of superseded bank items (their other slots' clauses).
    for mid in sorted(superseded_bank):
        old = by_id.get(mid)
        if old is None:
            continue
        subject = old.subject or "user"
        for s in extract_slots(old.text):
            key = (subject, s.relation)
            holders = reg.get(key, [])
            if s.functional and not any(where == "bank" and ident == mid for where, ident, _ in holders):
                continue  # this fact changed tonight (or belongs to someone else now)
            found = [(off, c) for off, c in _clauses(old.text) if off <= s.span[0] < off + len(c)]
            if not found:
                continue
            off, raw = found[0]
            clause = raw.strip()
            changed = [
                o.value
                for o in extract_slots(old.text)
                if o.relation != s.relation
                and o.functional
                and off <= o.span[0] < off + len(raw)
                and not any(
                    w == "bank" and ident == mid for w, ident, _ in reg.get((subject, o.relation), [])
                )
            ]
            if changed:
                notes.append(f"memory #{mid}: {s.relation} = {s.value} shares a clause with a changed fact")
                continue
            start = clause.find(s.value)
            carried = PlannedItem(
                text=clause,
                role="user",
                source_message_ids=list(old.source_message_ids),
                score=0.0,
                subject=subject,
                relation=s.relation,
                value=s.value,
                slots=[
                    PartSlot(
                        Slot(s.subject, s.relation, s.value, (start, start + len(s.value)), s.functional),
                        subject,
                    )
                ]
                if start >= 0
                else [],
                carried_from=mid,
                notes=[f"carried forward from memory #{mid}: its other facts changed tonight"],
            )
            if s.functional:
                reg[key] = [("planned", len(items), s.value)]
            items.append(carried)
            notes.append(f"carried {s.relation} = {s.value} forward from superseded memory #{mid}")
    return items, notes

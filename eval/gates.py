"""Catastrophic-forgetting gates: a candidate memory state is promoted only if every gate passes.

  general           bits/byte on the held-out general suite from the candidate    <= base x 1.01
  retention         accuracy on probes of all earlier kept memories               >= current - 0.02
  acquisition       accuracy on tonight's probes (held-out phrasings)             >= 0.5 and > current
  abstention        "I don't know" rate on questions about things never taught    >= base - 0.10
  leak              share of those answers naming a value the bank holds          <= 0.05
  context_override  accuracy when the chat states a conflicting fact (questions    >= 0.95
                    the base model itself answers from the chat)
  sanity            finite state, bounded per-layer norms, no degenerate output   all hold

Scoring is exact: a value counts when the answer's first sentence holds it whole. A near miss ("Sunny" for
Sunniva) is a miss; it is also counted (`near_misses`) so that "almost learned" shows. Every question of
every suite is recorded with the candidate's answer (`details.questions`), so a miss or a leak can be read
by name in eval.json and the report. Rates on the never-taught suite come with a 95% Wilson interval.

Gates without material to measure (no earlier memories for retention, say) pass with value null and a
note: an empty suite cannot show forgetting, and saying so beats inventing a number. Acquisition is the
exception on purpose: a night with nothing it can be asked about has not shown that it learned anything,
so it fails (and is reported so) rather than promote an unmeasured state.

Everything a gate reports is plain JSON: a value that is not a finite number (a state gone NaN, say) is
null, never `Infinity` or `NaN`, which JSON does not have.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eval.metrics import Asked, accuracy, answers
from model.bpb import bits_per_byte
from model.generate import SamplingConfig, generate
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import TrieTokenizer
from world.facts import mentions
from world.scoring import answer_window, is_abstention, near_miss, score_answer


@dataclass(frozen=True)
class GateConfig:
    general_max_ratio: float = 1.01
    retention_max_drop: float = 0.02
    acquisition_min: float = 0.5
    abstention_max_drop: float = 0.10
    leak_max: float = 0.05
    # The never-taught suite: enough questions for its rates to mean something (a Wilson interval at 48
    # questions is about +-0.13 wide at 0.5), near neighbours of the bank's facts first.
    never_taught_questions: int = 48
    never_taught_near_per_fact: int = 2
    override_min: float = 0.95
    # sanity: per-layer wkv norm may not exceed this multiple of sqrt(H*N*N) (the scale of a state whose
    # entries are O(1), which is where RWKV-7's normalised keys keep real states)
    max_layer_norm_per_entry: float = 10.0
    min_distinct_4gram_ratio: float = 0.3
    sanity_prompt: str = "User: Tell me about your day.\n\nAssistant:"
    sanity_tokens: int = 64
    general_max_chars: int = 60_000  # the suite is cut to this many characters per evaluation


@dataclass
class GateResult:
    value: float | None
    threshold: float | None
    passed: bool
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "threshold": self.threshold, "passed": self.passed}
        if self.note:
            out["note"] = self.note
        if self.details:
            out["details"] = self.details
        return finite_json(out)


@dataclass
class GateSuites:
    general_text: str
    tonight: Sequence[Asked]  # probes of tonight's memories (phrasings never used in training)
    earlier: Sequence[Asked]  # probes of every earlier, still active memory
    never_taught: Sequence[Asked]  # questions whose right answer is "I don't know"
    override: Sequence[Asked]  # chats that state a fact conflicting with the memory, then ask it
    tonight_in_context: Sequence[Asked] = ()  # tonight's questions with the item said first (the ceiling)
    bank_values: Sequence[
        str
    ] = ()  # every value the bank holds: naming one for a never-taught question leaks
    not_learnable: Sequence[dict[str, Any]] = ()  # values the teacher never said: reported, not scored


@dataclass
class GateReport:
    gates: dict[str, GateResult]
    measurements: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates.values())

    def failed(self) -> list[str]:
        return [name for name, g in self.gates.items() if not g.passed]

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: g.to_json() for name, g in self.gates.items()}

    def measurements_json(self) -> dict[str, Any]:
        return finite_json(self.measurements)


def finite_json(value: Any) -> Any:
    """`value` with every non-finite float (inf, nan) replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def _distinct_4gram_ratio(ids: Sequence[int]) -> float:
    grams = [tuple(ids[i : i + 4]) for i in range(len(ids) - 3)]
    return len(set(grams)) / len(grams) if grams else 1.0


def sanity(model: RWKV7, tok: TrieTokenizer, state: State, cfg: GateConfig) -> GateResult:
    finite = state.is_finite()
    L = state.n_layer
    entries = state.wkv[0, 0].numel()  # H * N * N
    bound = cfg.max_layer_norm_per_entry * entries**0.5
    norms = [float(state.wkv[i].norm()) for i in range(L)] if finite else []
    norms_ok = finite and all(n <= bound for n in norms)
    ratio = None
    if finite:
        sampling = SamplingConfig(max_tokens=cfg.sanity_tokens, temperature=0, stop_on_eod=False)
        out = generate(model, tok, cfg.sanity_prompt, state, sampling)
        ratio = _distinct_4gram_ratio(out.token_ids)
    fluent = ratio is not None and ratio >= cfg.min_distinct_4gram_ratio
    checks = {"finite": finite, "layer_norms_within_bound": norms_ok, "not_degenerate": fluent}
    return GateResult(
        value=max(norms) / bound if norms else None,
        threshold=1.0,
        passed=all(checks.values()),
        note="value = largest per-layer wkv norm / bound",
        details={**checks, "layer_norms": [round(n, 3) for n in norms], "distinct_4gram_ratio": ratio},
    )


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval of a rate, or None for an empty sample."""
    if n <= 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def leaked_value(reply: str, values: Sequence[str]) -> str | None:
    """The bank value a reply names in its answer window, if any."""
    window = answer_window(reply)
    if not window or is_abstention(window):
        return None
    return next((v for v in values if mentions(window, v)), None)


def evidence(
    asked: Sequence[Asked], replies: Sequence[str], values: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Per question: what was asked, what was expected, what the model said, and whether it counted."""
    out = []
    for a, r in zip(asked, replies, strict=True):
        correct = is_abstention(r) if a.abstain else score_answer(r, a.answer, a.wrong_answers)
        row: dict[str, Any] = {
            "question": a.question[-160:] if a.raw else a.question,
            "expected": a.answer,
            "answer": r.strip()[:200],
            "correct": bool(correct),
        }
        if a.abstain:
            row["leak"] = leaked_value(r, values)
        else:
            row["near_miss"] = near_miss(r, a.answer)
        if a.cycle_id is not None:
            row["cycle_id"] = a.cycle_id
        out.append(row)
    return out


def evaluate_gates(
    model: RWKV7,
    tok: TrieTokenizer,
    *,
    candidate: State,
    current: State,
    base: State,
    suites: GateSuites,
    cfg: GateConfig = GateConfig(),
    base_general_bpb: float | None = None,
    candidate_model: RWKV7 | None = None,
    current_model: RWKV7 | None = None,
) -> GateReport:
    """Run every gate on the candidate against the current generation and the base model.

    `model` is the base model; a LoRA candidate (or current generation) brings its own merged model."""
    cand_m = candidate_model or model
    cur_m = current_model or model
    gates: dict[str, GateResult] = {}
    m: dict[str, Any] = {}
    text = suites.general_text[: cfg.general_max_chars]
    base_bpb = base_general_bpb if base_general_bpb is not None else bits_per_byte(model, tok, text, base)
    cand_bpb = bits_per_byte(cand_m, tok, text, candidate)
    m["general_bpb"], m["general_bpb_base"] = cand_bpb, base_bpb
    gates["general"] = GateResult(
        cand_bpb, cfg.general_max_ratio * base_bpb, cand_bpb <= cfg.general_max_ratio * base_bpb
    )

    def ask(asked: Sequence[Asked], state: State, mdl: RWKV7) -> list[str]:
        return answers(mdl, tok, asked, state)

    def compare(asked: Sequence[Asked]) -> tuple[float, float, list[dict[str, Any]]]:
        """(candidate accuracy, current generation's accuracy, the candidate's per-question evidence)."""
        replies = ask(asked, candidate, cand_m)
        current_acc = accuracy(ask(asked, current, cur_m), asked)
        return accuracy(replies, asked), current_acc, evidence(asked, replies)

    if suites.earlier:
        cand, cur, rows = compare(suites.earlier)
        m["retention"], m["retention_current"] = cand, cur
        m["retention_near_misses"] = sum(bool(r["near_miss"]) for r in rows)
        gates["retention"] = GateResult(
            cand,
            cur - cfg.retention_max_drop,
            cand >= cur - cfg.retention_max_drop,
            details={"questions": rows},
        )
    else:
        gates["retention"] = GateResult(None, None, True, "no earlier memories to retain")

    if suites.tonight:
        cand, cur, rows = compare(suites.tonight)
        m["acquisition"], m["acquisition_current"] = cand, cur
        m["near_misses"] = sum(bool(r["near_miss"]) for r in rows)
        if suites.tonight_in_context:
            m["acquisition_ceiling"] = accuracy(
                ask(suites.tonight_in_context, base, model), suites.tonight_in_context
            )
        passed = cand >= cfg.acquisition_min and cand > cur
        note = f"needs >= {cfg.acquisition_min} and > current ({cur:.3f})"
        details: dict[str, Any] = {"questions": rows}
        if suites.not_learnable:
            details["not_learnable"] = list(suites.not_learnable)
        gates["acquisition"] = GateResult(cand, max(cfg.acquisition_min, cur), passed, note, details)
    else:
        note = "nothing to acquire tonight"
        if suites.not_learnable:
            note += f" ({len(suites.not_learnable)} questions not learnable by this model)"
        details = {"not_learnable": list(suites.not_learnable)} if suites.not_learnable else {}
        gates["acquisition"] = GateResult(None, cfg.acquisition_min, False, note, details)

    if suites.never_taught:
        asked = suites.never_taught
        replies = ask(asked, candidate, cand_m)
        base_replies = ask(asked, base, model)
        rows = evidence(asked, replies, suites.bank_values)
        n = len(asked)
        abstained = sum(r["correct"] for r in rows)
        leaks = sum(r["leak"] is not None for r in rows)
        base_abstained = sum(is_abstention(r) for r in base_replies)
        cand, b = abstained / n, base_abstained / n
        m["abstention"], m["abstention_base"], m["leak"] = cand, b, leaks / n
        m["never_taught_questions"] = n
        m["leak_base"] = sum(leaked_value(r, suites.bank_values) is not None for r in base_replies) / n
        gates["abstention"] = GateResult(
            cand,
            b - cfg.abstention_max_drop,
            cand >= b - cfg.abstention_max_drop,
            details={"n": n, "wilson95": wilson(abstained, n), "base_wilson95": wilson(base_abstained, n)},
        )
        gates["leak"] = GateResult(
            leaks / n,
            cfg.leak_max,
            leaks / n <= cfg.leak_max,
            "share of never-taught answers naming a value the bank holds",
            {"n": n, "wilson95": wilson(leaks, n), "questions": rows},
        )
    else:
        gates["abstention"] = GateResult(None, None, True, "no never-taught questions")
        gates["leak"] = GateResult(None, cfg.leak_max, True, "no never-taught questions")

    if suites.override:
        # Only questions the base model itself answers from the chat count: a value it cannot read from
        # context is the model's limit, not something the memory broke.
        replies = ask(suites.override, candidate, cand_m)
        base_ok = [
            score_answer(r, a.answer, a.wrong_answers)
            for r, a in zip(ask(suites.override, base, model), suites.override, strict=True)
        ]
        rows = evidence(suites.override, replies)
        for row, ok in zip(rows, base_ok, strict=True):
            row["base_correct"] = ok
        counted = [row["correct"] for row in rows if row["base_correct"]]
        m["context_override_base"] = sum(base_ok) / len(base_ok)
        if counted:
            cand = sum(counted) / len(counted)
            m["context_override"] = cand
            note = f"over the {len(counted)} of {len(rows)} questions the base model answers from the chat"
            gates["context_override"] = GateResult(
                cand, cfg.override_min, cand >= cfg.override_min, note, {"questions": rows}
            )
        else:
            note = "the base model answers none of the override questions from the chat"
            gates["context_override"] = GateResult(None, cfg.override_min, True, note, {"questions": rows})
    else:
        gates["context_override"] = GateResult(None, cfg.override_min, True, "no slot memories to override")

    gates["sanity"] = sanity(cand_m, tok, candidate, cfg)
    return GateReport(gates, m)

"""Catastrophic-forgetting gates: a candidate memory state is promoted only if every gate passes.

  general           bits/byte on the held-out general suite from the candidate    <= base x 1.01
  retention         accuracy on probes of all earlier kept memories               >= current - 0.02
  acquisition       accuracy on tonight's probes (held-out phrasings)             >= 0.5 and > current
  abstention        "I don't know" rate on questions about things never taught    >= base - 0.10
  context_override  accuracy when the chat states a conflicting fact              >= 0.95
  sanity            finite state, bounded per-layer norms, no degenerate output   all hold

Gates without material to measure (no earlier memories for retention, say) pass with value null and a
note: an empty suite cannot show forgetting, and saying so beats inventing a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from eval.metrics import Asked, accuracy, answers, bits_per_byte
from model.generate import SamplingConfig, generate
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import TrieTokenizer


@dataclass(frozen=True)
class GateConfig:
    general_max_ratio: float = 1.01
    retention_max_drop: float = 0.02
    acquisition_min: float = 0.5
    abstention_max_drop: float = 0.10
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
        return out


@dataclass
class GateSuites:
    general_text: str
    tonight: Sequence[Asked]  # probes of tonight's memories (phrasings never used in training)
    earlier: Sequence[Asked]  # probes of every earlier, still active memory
    never_taught: Sequence[Asked]  # questions whose right answer is "I don't know"
    override: Sequence[Asked]  # chats that state a fact conflicting with the memory, then ask it


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
        value=max(norms) / bound if norms else float("inf"),
        threshold=1.0,
        passed=all(checks.values()),
        note="value = largest per-layer wkv norm / bound",
        details={**checks, "layer_norms": [round(n, 3) for n in norms], "distinct_4gram_ratio": ratio},
    )


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

    def acc(asked: Sequence[Asked], state: State, m: RWKV7) -> float:
        return accuracy(answers(m, tok, asked, state), asked)

    if suites.earlier:
        cand, cur = acc(suites.earlier, candidate, cand_m), acc(suites.earlier, current, cur_m)
        m["retention"], m["retention_current"] = cand, cur
        gates["retention"] = GateResult(
            cand, cur - cfg.retention_max_drop, cand >= cur - cfg.retention_max_drop
        )
    else:
        gates["retention"] = GateResult(None, None, True, "no earlier memories to retain")

    if suites.tonight:
        cand, cur = acc(suites.tonight, candidate, cand_m), acc(suites.tonight, current, cur_m)
        m["acquisition"], m["acquisition_current"] = cand, cur
        passed = cand >= cfg.acquisition_min and cand > cur
        note = f"needs >= {cfg.acquisition_min} and > current ({cur:.3f})"
        gates["acquisition"] = GateResult(cand, max(cfg.acquisition_min, cur), passed, note)
    else:
        gates["acquisition"] = GateResult(None, cfg.acquisition_min, False, "nothing to acquire tonight")

    if suites.never_taught:
        cand, b = acc(suites.never_taught, candidate, cand_m), acc(suites.never_taught, base, model)
        m["abstention"], m["abstention_base"] = cand, b
        gates["abstention"] = GateResult(
            cand, b - cfg.abstention_max_drop, cand >= b - cfg.abstention_max_drop
        )
    else:
        gates["abstention"] = GateResult(None, None, True, "no never-taught questions")

    if suites.override:
        cand = acc(suites.override, candidate, cand_m)
        m["context_override"] = cand
        gates["context_override"] = GateResult(cand, cfg.override_min, cand >= cfg.override_min)
    else:
        gates["context_override"] = GateResult(None, cfg.override_min, True, "no slot memories to override")

    gates["sanity"] = sanity(cand_m, tok, candidate, cfg)
    return GateReport(gates, m)


def config_dict(cfg: GateConfig) -> dict[str, Any]:
    return asdict(cfg)


@torch.no_grad()
def general_bpb(
    model: RWKV7, tok: TrieTokenizer, text: str, state: State, cfg: GateConfig = GateConfig()
) -> float:
    return bits_per_byte(model, tok, text[: cfg.general_max_chars], state)

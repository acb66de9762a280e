"""Model-based scorers: surprise and the judge (one batched pass), the remote judge, and novelty.

Surprise: the per-token loss (nats) of a segment's content under the *current generation* with no other
context, i.e. the model run from the generation's State over "User: <content>". What the state already
predicts needs no learning; what surprises it is either new or noise, and the other scorers tell those apart.
When the state is not the base (zero) state, the same loss from the base state is measured too: a segment
the generation predicts much better than the base ("known") was learned on an earlier night.

Judge: after the segment, the model reads a fixed question ("Is that worth remembering long-term? Answer Yes
or No.") and the score is P(Yes) / (P(Yes) + P(No)) at the answer position. Both scorers share one forward
pass: the judge question is appended to the very token sequence whose content the surprise is read from
(causal model, so the appended question cannot change the content's loss). Sequences are sorted by length
and batched with right padding (padding after the last real token cannot change anything before it).

Self-checks. A scorer that cannot do its job must not steer selection (nor cost time):
- surprise is *inactive* when the batch's mean loss is at least `surprise_max_loss_ratio * ln(vocab)`:
  the model is guessing (a random test model sits at about ln(vocab));
- the judge is *inactive* unless its mean P(Yes) on fixed worth-keeping anchors beats its mean on fixed
  small-talk anchors by `judge_min_margin`; this check runs first, and an inactive judge is not asked
  about the segments at all (the appended question would cost about as much as the segments).
An inactive surprise scorer still reports its numbers, with the reason they did not count.

Remote judge (optional, off by default): an OpenAI-compatible endpoint (llama.cpp, Ollama, ...) asked the
same question about the *redacted* text, with a timeout; on any failure the local judge's value is used
and the report says so.

Novelty: MiniLM cosine between a segment and the memory bank (embeddings.py); policy.py turns it into
merges (near-duplicates) and a redundancy penalty.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from model.bundle import ModelBundle
from model.chat_format import ROLE_PREFIXES, normalize_content
from model.state import State
from reflection.config import ReflectionConfig

log = logging.getLogger(__name__)

JUDGE_QUESTION = "User: Is that worth remembering long-term? Answer Yes or No.\n\nAssistant:"
YES = (" Yes", " yes")
NO = (" No", " no")
# Fixed anchors for the judge's self-check: the first clearly worth keeping, the second clearly not.
KEEP_ANCHORS = (
    "Please remember that my daughter Mia is allergic to peanuts.",
    "I moved to Lisbon last month and I started a new job at the harbour office.",
    "My sister Ana's birthday is on the 3rd of March, don't let me forget it.",
)
DROP_ANCHORS = ("Haha ok, cool.", "Thanks!", "Sounds good, see you later.")


@dataclass(frozen=True)
class ScoreInput:
    role: str  # "user" | "assistant" | "system"
    text: str


@dataclass
class ModelScores:
    loss: list[float]  # mean nats per content token from the generation's state (nan: no tokens)
    tokens: list[int]  # content tokens scored
    base_loss: list[float] | None = None  # the same from the base (zero) state, when that differs
    p_yes: list[float] | None = None  # the judge, per input (only when its self-check passed)
    surprise_active: bool = False
    judge_active: bool = False
    judge_margin: float = float("nan")
    notes: list[str] = field(default_factory=list)  # why a scorer was switched off, timings
    seconds: float = 0.0


def _prefix(role: str) -> str:
    return ROLE_PREFIXES.get(role, ROLE_PREFIXES["user"]) + ":"


def _answer_tokens(tokenizer) -> tuple[list[int], list[int], list[int]] | None:
    """(common prefix ids, first ids of the Yes forms, first ids of the No forms) after the prefix.

    A byte-level vocabulary spells " Yes" and " No" with the same first token (" "), so the shared prefix
    joins the prompt and the answer is read at the first token where the forms differ."""
    forms = [tokenizer.encode(s) for s in YES + NO]
    common: list[int] = []
    for column in zip(*forms, strict=False):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    n = len(common)
    if any(len(f) <= n for f in forms):
        return None
    yes = sorted({f[n] for f in forms[: len(YES)]})
    no = sorted({f[n] for f in forms[len(YES) :]})
    if set(yes) & set(no):
        return None
    return common, yes, no


def _is_zero(state: State) -> bool:
    return not (bool(state.wkv.any()) or bool(state.att_shift.any()) or bool(state.ffn_shift.any()))


def _batches(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Indices grouped so that (longest in group) * (group size) <= batch_tokens; sorted by length."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    out: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        if cur and lengths[i] * (len(cur) + 1) > batch_tokens:
            out.append(cur)
            cur = []
        cur.append(i)
    if cur:
        out.append(cur)
    return out


@torch.no_grad()
def _forward(
    bundle: ModelBundle,
    state: State,
    seqs: list[list[int]],
    loss_spans: list[tuple[int, int]],
    judge: tuple[list[int], list[int]] | None,
    batch_tokens: int,
) -> tuple[list[float], list[float] | None]:
    """Mean NLL over each sequence's [start, end) token span, and P(yes) at its last position."""
    model = bundle.model
    losses = [float("nan")] * len(seqs)
    p_yes: list[float] | None = [float("nan")] * len(seqs) if judge else None
    for group in _batches([len(s) for s in seqs], batch_tokens):
        width = max(len(seqs[i]) for i in group)
        tokens = torch.zeros(len(group), width, dtype=torch.long)
        for row, i in enumerate(group):
            tokens[row, : len(seqs[i])] = torch.tensor(seqs[i])
        hidden, _ = model.hidden(tokens, state)
        # Loss rows: position t predicts token t+1, so the span [s, e) is predicted from [s-1, e-1).
        rows_b, rows_t, targets, owner = [], [], [], []
        for row, i in enumerate(group):
            s, e = loss_spans[i]
            for t in range(s, e):
                rows_b.append(row)
                rows_t.append(t - 1)
                targets.append(seqs[i][t])
                owner.append(i)
        if rows_b:
            nll = torch.empty(len(rows_b))
            for c in range(0, len(rows_b), 2048):
                sl = slice(c, c + 2048)
                h = hidden[torch.tensor(rows_b[sl]), torch.tensor(rows_t[sl])]
                logp = torch.log_softmax(model.head(model.ln_out(h)).float(), dim=-1)
                nll[sl] = -logp.gather(1, torch.tensor(targets[sl]).unsqueeze(1)).squeeze(1)
            sums: dict[int, list[float]] = {}
            for i, v in zip(owner, nll.tolist(), strict=True):
                sums.setdefault(i, []).append(v)
            for i, vals in sums.items():
                losses[i] = sum(vals) / len(vals)
        if judge is not None and p_yes is not None:
            yes_ids, no_ids = judge
            last = torch.tensor([len(seqs[i]) - 1 for i in group])
            h = hidden[torch.arange(len(group)), last]
            probs = torch.softmax(model.head(model.ln_out(h)).float(), dim=-1)
            py = probs[:, yes_ids].sum(dim=1)
            pn = probs[:, no_ids].sum(dim=1)
            ratio = (py / (py + pn).clamp_min(1e-30)).tolist()
            for row, i in enumerate(group):
                p_yes[i] = ratio[row]
    return losses, p_yes


def model_scores(
    bundle: ModelBundle,
    state: State | None,
    inputs: Sequence[ScoreInput],
    config: ReflectionConfig = ReflectionConfig(),
) -> ModelScores:
    """Surprise (and, if configured, the judge) for every input, in one batched pass per state."""
    t0 = time.perf_counter()
    tok = bundle.tokenizer
    state = state if state is not None else bundle.model.zero_state(1)
    if state.batch_size != 1:
        raise ValueError("reflection scores from a batch-1 generation state")
    sep = tok.encode("\n\n")
    answer = _answer_tokens(tok) if config.judge else None
    notes: list[str] = []
    if config.judge and answer is None:
        notes.append("judge off: the tokenizer cannot tell ' Yes' from ' No' in one token")
    suffix = (tok.encode(JUDGE_QUESTION) + answer[0]) if answer is not None else []

    def build(items: Sequence[ScoreInput], with_judge: bool) -> tuple[list[list[int]], list[tuple[int, int]]]:
        seqs, spans = [], []
        for it in items:
            head = tok.encode(_prefix(it.role))
            content = tok.encode(" " + normalize_content(it.text))[: config.max_segment_tokens]
            seqs.append(head + content + sep + (suffix if with_judge else []))
            spans.append((len(head), len(head) + len(content)))
        return seqs, spans

    n = len(inputs)
    out = ModelScores(loss=[], tokens=[])
    # The judge's self-check runs first, on the anchors alone: the question appended to every segment
    # costs as much again as the segments themselves, which is not worth paying for a judge that fails it.
    judge_ids = (answer[1], answer[2]) if answer is not None else None
    if judge_ids is not None:
        a_seqs, a_spans = build([ScoreInput("user", t) for t in KEEP_ANCHORS + DROP_ANCHORS], True)
        _, a_yes = _forward(bundle, state, a_seqs, a_spans, judge_ids, config.batch_tokens)
        assert a_yes is not None
        keep, drop = a_yes[: len(KEEP_ANCHORS)], a_yes[len(KEEP_ANCHORS) :]
        out.judge_margin = sum(keep) / len(keep) - sum(drop) / len(drop)
        out.judge_active = out.judge_margin >= config.judge_min_margin
        if not out.judge_active:
            notes.append(
                f"judge off: P(Yes) on worth-keeping anchors beats small talk by only "
                f"{out.judge_margin:+.3f} (needs {config.judge_min_margin:.2f})"
            )
    seqs, spans = build(inputs, out.judge_active)
    losses, p_yes = _forward(
        bundle, state, seqs, spans, judge_ids if out.judge_active else None, config.batch_tokens
    )
    out.loss, out.tokens, out.p_yes = losses, [e - s for s, e in spans], p_yes

    # Self-check of surprise: a model at uniform guessing says nothing about the text.
    finite = [v for v in out.loss if math.isfinite(v)]
    vocab = max(2, tok.vocab_size)
    if config.surprise and finite:
        mean = sum(finite) / len(finite)
        ratio = mean / math.log(vocab)
        out.surprise_active = ratio < config.surprise_max_loss_ratio
        if not out.surprise_active:
            notes.append(
                f"surprise off: mean loss {mean:.2f} nats/token is {ratio:.0%} of ln(vocab) = "
                f"{math.log(vocab):.2f} (the model is guessing)"
            )
    elif not config.surprise:
        notes.append("surprise off by config")

    # "Known": the generation predicts it much better than the base did. Skipped for the base state itself.
    if config.surprise and config.w_known > 0 and not _is_zero(state) and n:
        base_seqs, base_spans = build(inputs, False)
        out.base_loss, _ = _forward(
            bundle, bundle.model.zero_state(1), base_seqs, base_spans, None, config.batch_tokens
        )
    out.notes = notes
    out.seconds = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------------------------- remote


@dataclass
class RemoteJudgeResult:
    p_yes: list[float | None]  # None where the remote judge gave no answer (the local one is used)
    notes: list[str]


def _p_yes_from_choice(choice) -> float | None:
    """P(Yes) from a chat completion choice: top logprobs when the server gives them, else the text."""
    lp = getattr(choice, "logprobs", None)
    content = getattr(lp, "content", None) if lp is not None else None
    if content:
        py = pn = 0.0
        for cand in getattr(content[0], "top_logprobs", None) or []:
            word = str(cand.token).strip().lower()
            if word.startswith("yes"):
                py += math.exp(cand.logprob)
            elif word.startswith("no"):
                pn += math.exp(cand.logprob)
        if py + pn > 0:
            return py / (py + pn)
    text = (getattr(choice.message, "content", None) or "").strip().lower()
    if text.startswith("yes"):
        return 0.9
    if text.startswith("no"):
        return 0.1
    return None


def remote_judge(texts: Sequence[str], config: ReflectionConfig) -> RemoteJudgeResult:
    """Ask the configured OpenAI-compatible endpoint about each (already redacted) text.

    Stops at the first failure (timeout, connection refused, bad reply) and leaves the rest to the local
    judge: one slow server must not stall the night."""
    out: list[float | None] = [None] * len(texts)
    if not config.remote_judge:
        return RemoteJudgeResult(out, [])
    try:
        from openai import OpenAI
    except ImportError:  # pragma: no cover - openai is a declared dependency
        return RemoteJudgeResult(out, ["remote judge off: the openai package is missing"])
    key = os.environ.get(config.judge_api_key_env, "") if config.judge_api_key_env else ""
    client = OpenAI(
        base_url=config.judge_endpoint, api_key=key or "none", timeout=config.judge_timeout_s, max_retries=0
    )
    asked = 0
    for i, text in enumerate(texts[: config.judge_remote_max_segments]):
        try:
            reply = client.chat.completions.create(
                model=config.judge_model,
                messages=[
                    {
                        "role": "system",
                        "content": "You decide what a personal assistant should remember long-term about "
                        "its user. Answer with one word: Yes or No.",
                    },
                    {"role": "user", "content": f"Message: {text}\n\nWorth remembering long-term?"},
                ],
                max_tokens=1,
                temperature=0.0,
                logprobs=True,
                top_logprobs=5,
            )
            out[i] = _p_yes_from_choice(reply.choices[0])
            asked += 1
        except Exception as e:  # any failure falls back to the local judge
            kind = type(e).__name__
            return RemoteJudgeResult(
                out, [f"remote judge failed after {asked} answers ({kind}); local judge used for the rest"]
            )
    notes = [f"remote judge answered {sum(v is not None for v in out)} of {len(texts)} segments"]
    return RemoteJudgeResult(out, notes)


# ---------------------------------------------------------------------------------------------- helpers


def percentiles(values: Sequence[float]) -> list[float]:
    """Rank of each value in [0, 1] (ties share their mean rank; nan gets 0.5)."""
    idx = [i for i, v in enumerate(values) if math.isfinite(v)]
    out = [0.5] * len(values)
    if len(idx) < 2:
        return out
    arr = np.array([values[i] for i in idx])
    order = arr.argsort(kind="stable")
    ranks = np.empty(len(arr))
    ranks[order] = np.arange(len(arr), dtype=float)
    for v in np.unique(arr):  # ties: mean rank
        mask = arr == v
        if mask.sum() > 1:
            ranks[mask] = ranks[mask].mean()
    for k, i in enumerate(idx):
        out[i] = float(ranks[k] / (len(arr) - 1))
    return out


def logit(p: float, eps: float = 1e-4) -> float:
    p = min(1.0 - eps, max(eps, p))
    return math.log(p / (1.0 - p))

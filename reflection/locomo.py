"""LoCoMo evidence recall: of the turns that later questions need, how many did a selection keep?

LoCoMo (Maharana et al., ACL 2024; CC BY-NC 4.0) is read at run time from ../shared/data/locomo and never
copied into the repository. Each question lists the `dia_id`s of the turns holding its answer ("evidence").
That lets reflection's selection be measured with no language model in the loop: run it over a conversation at
a token budget, then count how many evidence turns it kept.

Role mapping: both speakers become role "user", each with `name` set to the speaker's name. LoCoMo is two
people talking, and its questions ask about both of them. In sleepd, "assistant" means the model's own output,
which the salience features deliberately down-weight; mapping speaker_b to "assistant" would make half of the
human facts look like model chatter and measure that role weight instead of salience. (`speaker_b_role` lets
an experiment try the other mapping.)

Photos: a turn that shares a photo gets its caption appended as "[shares a photo: <blip_caption>]", since
some questions are answered by what the photo shows.

Selections never see the QA: every selector takes only the messages (see test_locomo.py).

Run: `python -m reflection.locomo [--fraction 0.3] [--seeds 10] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from reflection.budget import Candidate, fit_budget
from reflection.redact import redact
from reflection.salience import COMPONENTS, SalienceConfig, score_segments
from reflection.segments import build_segments, whitespace_tokens

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "locomo"
QA_CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
ANSWERABLE = (1, 2, 3, 4)  # category 5 is adversarial: its "evidence" does not support an answer

CountTokens = Callable[[str], int]
Selector = Callable[[Sequence[Mapping[str, Any]], int], list[str]]


class LoCoMoConversation(NamedTuple):
    conversation: dict[str, Any]  # one line of the import format
    qa: list[dict[str, Any]]


def conversation_paths(data_dir: str | Path | None = None) -> list[Path]:
    """conv-*.json under `data_dir` (default ../shared/data/locomo next to the repository), in name order."""
    root = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    return sorted(
        root.glob("conv-*.json"),
        key=lambda p: [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", p.name)],
    )


def _session_numbers(raw: Mapping[str, Any]) -> list[int]:
    return sorted(int(m.group(1)) for k in raw if (m := re.fullmatch(r"session_(\d+)", k)))


def _parse_session_time(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").isoformat()
    except ValueError:
        return None


def turn_text(turn: Mapping[str, Any]) -> str:
    text = str(turn.get("text") or "").strip()
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [shares a photo: {str(caption).strip()}]".strip()
    return text


def conversation_from_raw(
    raw: Mapping[str, Any], conversation_id: str, speaker_b_role: str = "user"
) -> dict[str, Any]:
    """The import-format conversation for one LoCoMo sample. Reads only the sessions, never the QA."""
    speaker_a, speaker_b = raw.get("speaker_a"), raw.get("speaker_b")
    messages = []
    sessions = _session_numbers(raw)
    for k in sessions:
        created_at = _parse_session_time(raw.get(f"session_{k}_date_time"))
        for turn in raw[f"session_{k}"]:
            speaker = turn.get("speaker")
            msg = {
                "id": str(turn["dia_id"]),
                "role": speaker_b_role if speaker == speaker_b else "user",
                "content": turn_text(turn),
                "name": speaker,
            }
            if created_at:
                msg["created_at"] = created_at
            messages.append(msg)
    metadata = {"source": "locomo", "speaker_a": speaker_a, "speaker_b": speaker_b, "sessions": len(sessions)}
    return {"conversation_id": conversation_id, "messages": messages, "metadata": metadata}


def load_conversation(path: str | Path, speaker_b_role: str = "user") -> LoCoMoConversation:
    path = Path(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    conv_id = str(raw.get("sample_id") or path.stem)
    return LoCoMoConversation(conversation_from_raw(raw, conv_id, speaker_b_role), list(raw.get("qa") or []))


# --------------------------------------------------------------------------------------------- evidence

# "D8:6", "D8:6; D9:17", "D:8:6", "d8 : 6", "D08:06". A bare "D" or other junk yields nothing.
_DIA_ID = re.compile(r"(?<![A-Za-z])D\s*:?\s*(\d+)\s*:\s*(\d+)", re.I)


def parse_evidence(entry: Any) -> list[str]:
    if isinstance(entry, (list, tuple)):
        return [i for e in entry for i in parse_evidence(e)]
    return [f"D{int(s)}:{int(t)}" for s, t in _DIA_ID.findall(str(entry))]


def evidence_turns(
    qa: Mapping[str, Any] | Iterable[Mapping[str, Any]], categories: Iterable[int] = ANSWERABLE
) -> set[str]:
    """dia_ids that the questions of `categories` cite as evidence (one QA item or a list of them)."""
    items = [qa] if isinstance(qa, Mapping) else list(qa)
    cats = set(categories)
    out: set[str] = set()
    for item in items:
        if item.get("category") in cats:
            out.update(parse_evidence(item.get("evidence") or []))
    return out


def evidence_recall(kept_ids: Iterable[str], evidence: Iterable[str]) -> float:
    """Share of the evidence turns that were kept."""
    ev = set(evidence)
    if not ev:
        raise ValueError("no evidence turns to recall")
    return len(ev & set(kept_ids)) / len(ev)


def _questions(qa: Iterable[Mapping[str, Any]], categories: Iterable[int]) -> list[set[str]]:
    cats = set(categories)
    qs = [set(parse_evidence(q.get("evidence") or [])) for q in qa if q.get("category") in cats]
    return [q for q in qs if q]


def question_recall(kept_ids: Iterable[str], qa: Iterable[Mapping[str, Any]], categories=ANSWERABLE) -> float:
    """Mean over questions of the share of that question's evidence turns kept."""
    kept = set(kept_ids)
    qs = _questions(qa, categories)
    return sum(len(q & kept) / len(q) for q in qs) / len(qs) if qs else float("nan")


def question_coverage(
    kept_ids: Iterable[str], qa: Iterable[Mapping[str, Any]], categories=ANSWERABLE
) -> float:
    """Share of questions whose evidence turns were all kept (stricter than turn recall)."""
    kept = set(kept_ids)
    qs = _questions(qa, categories)
    return sum(q <= kept for q in qs) / len(qs) if qs else float("nan")


# --------------------------------------------------------------------------------------------- selectors


def _fill(
    order: Iterable[int], messages: Sequence[Mapping[str, Any]], budget: int, count_tokens: CountTokens
) -> list[str]:
    """Visit messages in `order`; keep each one that still fits. Returns ids in conversation order."""
    used, kept = 0, []
    for i in order:
        n = count_tokens(messages[i]["content"])
        if used + n <= budget:
            used += n
            kept.append(i)
    return [str(messages[i]["id"]) for i in sorted(kept)]


def total_tokens(messages: Sequence[Mapping[str, Any]], count_tokens: CountTokens = whitespace_tokens) -> int:
    return sum(count_tokens(m["content"]) for m in messages)


def random_selection(
    messages: Sequence[Mapping[str, Any]],
    budget_tokens: int,
    seed: int = 0,
    count_tokens: CountTokens = whitespace_tokens,
) -> list[str]:
    order = list(range(len(messages)))
    random.Random(seed).shuffle(order)
    return _fill(order, messages, budget_tokens, count_tokens)


def recency_selection(
    messages: Sequence[Mapping[str, Any]], budget_tokens: int, count_tokens: CountTokens = whitespace_tokens
) -> list[str]:
    return _fill(reversed(range(len(messages))), messages, budget_tokens, count_tokens)


def longest_turns_selection(
    messages: Sequence[Mapping[str, Any]], budget_tokens: int, count_tokens: CountTokens = whitespace_tokens
) -> list[str]:
    order = sorted(range(len(messages)), key=lambda i: (-count_tokens(messages[i]["content"]), i))
    return _fill(order, messages, budget_tokens, count_tokens)


def salience_selection(
    messages: Sequence[Mapping[str, Any]],
    budget_tokens: int,
    count_tokens: CountTokens = whitespace_tokens,
    config: SalienceConfig = SalienceConfig(),
    strategy: str = "density",
) -> list[str]:
    """Reflection without a model: redact, one segment per message, salience, greedy budget fit."""
    redacted = [{**m, "content": redact(m["content"]).text} for m in messages]
    segments = build_segments(redacted, count_tokens)
    scores = score_segments(segments, config=config)
    candidates = [Candidate(s, sc) for s, sc in zip(segments, scores, strict=True)]
    selection = fit_budget(candidates, budget_tokens, strategy)  # type: ignore[arg-type]
    kept = {mid for c in selection.kept for mid in c.segment.source_message_ids}
    return [str(m["id"]) for m in messages if str(m["id"]) in kept]


# --------------------------------------------------------------------------------------------- report


METRICS = ("recall", "question_recall", "question_coverage")


def _measure(
    kept_sets: list[list[str]], evidence: set[str], qa: list[dict[str, Any]], cats
) -> dict[str, float]:
    n = len(kept_sets)
    return {
        "recall": sum(evidence_recall(k, evidence) for k in kept_sets) / n,
        "question_recall": sum(question_recall(k, qa, cats) for k in kept_sets) / n,
        "question_coverage": sum(question_coverage(k, qa, cats) for k in kept_sets) / n,
    }


def run(
    data_dir: str | Path | None = None,
    fraction: float = 0.3,
    seeds: Iterable[int] = range(10),
    categories: Iterable[int] = ANSWERABLE,
    count_tokens: CountTokens = whitespace_tokens,
    extra: Mapping[str, Selector] | None = None,
) -> dict[str, Any]:
    """Evidence recall of each selector at `fraction` of each conversation's tokens, averaged over files.

    Metrics: `recall` = share of distinct evidence turns kept (the headline number); `question_recall` = mean
    over questions of the share of its evidence kept; `question_coverage` = share of questions with all of
    their evidence kept. The random baseline is averaged over `seeds`.
    """
    paths = conversation_paths(data_dir)
    if not paths:
        raise FileNotFoundError(f"no conv-*.json under {data_dir or DEFAULT_DATA_DIR}")
    seeds = list(seeds)
    cats = tuple(categories)
    selectors: dict[str, Selector] = {
        "recency": lambda ms, b: recency_selection(ms, b, count_tokens),
        "longest": lambda ms, b: longest_turns_selection(ms, b, count_tokens),
        "salience": lambda ms, b: salience_selection(ms, b, count_tokens),
        "salience_by_score": lambda ms, b: salience_selection(ms, b, count_tokens, strategy="score"),
        **(extra or {}),
    }
    rows = []
    for path in paths:
        conv, qa = load_conversation(path)
        messages = conv["messages"]
        ids = {m["id"] for m in messages}
        evidence = evidence_turns(qa, cats)
        reachable = evidence & ids
        tokens = total_tokens(messages, count_tokens)
        budget = int(fraction * tokens)
        results = {
            "random": _measure(
                [random_selection(messages, budget, s, count_tokens) for s in seeds], reachable, qa, cats
            )
        }
        for name, select in selectors.items():
            kept = select(messages, budget)
            kept_set = set(kept)
            if total_tokens([m for m in messages if m["id"] in kept_set], count_tokens) > budget:
                raise AssertionError(f"selector {name} exceeded the budget on {path.name}")
            results[name] = _measure([kept], reachable, qa, cats)
        rows.append(
            {
                "conversation": conv["conversation_id"],
                "messages": len(messages),
                "tokens": tokens,
                "budget_tokens": budget,
                "evidence_turns": len(reachable),
                "evidence_missing": sorted(evidence - ids),
                **{metric: {n: r[metric] for n, r in results.items()} for metric in METRICS},
            }
        )
    names = list(rows[0]["recall"])
    return {
        "fraction": fraction,
        "seeds": len(seeds),
        "categories": list(cats),
        "tokenizer": getattr(count_tokens, "__name__", "custom"),
        "conversations": rows,
        **{
            f"mean_{metric}": {n: sum(r[metric][n] for r in rows) / len(rows) for n in names}
            for metric in METRICS
        },
    }


# --------------------------------------------------------------------------------------------- weight fit

# Components whose weights stay hand-set: LoCoMo has no signal for them (or, for plans, a product choice).
HAND_SET = ("cue", "correction", "feedback", "plans", "boilerplate")


def fit_weights(
    data_dir: str | Path | None = None,
    fraction: float = 0.3,
    l2: float = 2.0,
    categories: Iterable[int] = ANSWERABLE,
) -> dict[str, Any]:
    """Fit the measurable salience weights by logistic regression on LoCoMo evidence labels.

    Reports the fit on all conversations and, as the honest number, evidence recall with leave-one-
    conversation-out fits (weights fitted on the other conversations, selection run on the held-out one).
    This is how SalienceConfig's defaults were made; it reads the QA, selection never does.
    """
    import numpy as np

    base = SalienceConfig()
    fitted = [c for c in COMPONENTS if c not in HAND_SET]
    convs = []
    for path in conversation_paths(data_dir):
        conv, qa = load_conversation(path)
        segments = build_segments(conv["messages"])
        scores = score_segments(segments, config=base)
        ev = evidence_turns(qa, categories)
        x = np.array([[sc.components[c] for c in fitted] for sc in scores])
        offset = np.array([sum(base.weight(c) * sc.components[c] for c in HAND_SET) for sc in scores])
        y = np.array([seg.source_message_ids[0] in ev for seg in segments], dtype=float)
        convs.append((conv, qa, x, offset, y))

    def fit(parts: list[int]) -> SalienceConfig:
        x = np.vstack([convs[i][2] for i in parts])
        x = np.hstack([x, np.ones((len(x), 1))])
        off = np.concatenate([convs[i][3] for i in parts])
        y = np.concatenate([convs[i][4] for i in parts])
        w = np.zeros(x.shape[1])
        reg = l2 * np.eye(len(w))
        reg[-1, -1] = 0.0  # no penalty on the bias
        for _ in range(50):  # Newton steps; converges in a handful
            p = 1.0 / (1.0 + np.exp(-(x @ w + off)))
            w -= np.linalg.solve((x.T * (p * (1 - p))) @ x + reg, x.T @ (p - y) + reg @ w)
        values = {f"w_{c}": round(float(v), 2) for c, v in zip(fitted, w[:-1], strict=True)}
        return replace(base, bias=round(float(w[-1]), 2), **values)

    def recall_with(config: SalienceConfig, i: int) -> float:
        conv, qa, *_ = convs[i]
        budget = int(fraction * total_tokens(conv["messages"]))
        kept = salience_selection(conv["messages"], budget, config=config)
        return evidence_recall(kept, evidence_turns(qa, categories) & {m["id"] for m in conv["messages"]})

    everything = fit(list(range(len(convs))))
    held_out = [recall_with(fit([j for j in range(len(convs)) if j != i]), i) for i in range(len(convs))]
    return {
        "weights": {"bias": everything.bias, **{f"w_{c}": everything.weight(c) for c in fitted}},
        "recall_in_sample": sum(recall_with(everything, i) for i in range(len(convs))) / len(convs),
        "recall_leave_one_out": sum(held_out) / len(held_out),
        "recall_leave_one_out_per_conversation": {
            c[0]["conversation_id"]: r for c, r in zip(convs, held_out, strict=True)
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reflection.locomo", description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None, help=f"folder with conv-*.json (default {DEFAULT_DATA_DIR})")
    ap.add_argument(
        "--fraction", type=float, default=0.3, help="token budget as a fraction of each conversation"
    )
    ap.add_argument("--seeds", type=int, default=10, help="random-baseline seeds to average")
    ap.add_argument(
        "--fit", action="store_true", help="refit the salience weights and report held-out recall"
    )
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    if not 0.0 < args.fraction <= 1.0 or args.seeds < 1:
        print("error: --fraction must be in (0, 1] and --seeds >= 1", file=sys.stderr)
        return 2
    try:
        report = (
            fit_weights(args.data_dir, args.fraction)
            if args.fit
            else run(args.data_dir, args.fraction, range(args.seeds))
        )
    except (FileNotFoundError, json.JSONDecodeError, KeyError) as exc:
        print(f"error: cannot read LoCoMo data: {exc}", file=sys.stderr)
        return 2
    if args.json or args.fit:
        print(json.dumps(report, indent=2))
        return 0
    names = list(report["mean_recall"])
    cats = report["categories"]
    print(f"LoCoMo evidence recall at {args.fraction:.0%} of whitespace tokens, categories {cats}")
    print(f"{'':<24}" + "".join(f"{n:>18}" for n in names))
    for row in report["conversations"]:
        print(f"{row['conversation'] + ' recall':<24}" + "".join(f"{row['recall'][n]:>18.3f}" for n in names))
    for metric in METRICS:
        print(f"{'mean ' + metric:<24}" + "".join(f"{report['mean_' + metric][n]:>18.3f}" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

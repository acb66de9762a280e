"""Sleep-cycle reports: `report.md` and a self-contained `report.html` (inline SVG plot, no assets).

The report says what the night did and why: what was kept, how tuning went (loss curve from tune.log), every
gate with value and threshold, and the decision.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.fileio import atomic_write_text


@dataclass
class CycleReport:
    cycle_id: int
    status: str
    trigger: str
    parent_generation_id: int | None
    candidate_generation_id: int | None
    kept: list[str] = field(default_factory=list)  # kept memory texts (already redacted)
    deferred: list[str] = field(default_factory=list)  # stated facts waiting for the next night (redacted)
    redactions: dict[str, int] = field(default_factory=dict)
    rebuild: bool = False
    tune: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    measurements: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    val_curve: list[tuple[int, float]] = field(default_factory=list)


def read_curves(tune_log: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    loss, val = [], []
    if tune_log.is_file():
        for line in tune_log.read_text(encoding="utf-8").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == "step" and "loss" in e:
                loss.append((int(e["step"]), float(e["loss"])))
            elif e.get("event") == "eval" and "val_loss" in e:
                val.append((int(e["step"]), float(e["val_loss"])))
    return loss, val


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown(r: CycleReport) -> str:
    lines = [
        f"# Sleep cycle {r.cycle_id}: {r.status}",
        "",
        f"- trigger: {r.trigger}",
        f"- started from generation: {_fmt(r.parent_generation_id)}",
        f"- candidate generation: {_fmt(r.candidate_generation_id)}",
        f"- kept memories: {len(r.kept)}" + (" (rebuild from the base state)" if r.rebuild else ""),
    ]
    if r.redactions:
        lines.append(
            "- redacted before keeping: " + ", ".join(f"{k} {v}" for k, v in sorted(r.redactions.items()))
        )
    if r.kept:
        lines += ["", "## Kept", ""] + [f"- {t}" for t in r.kept]
    if r.deferred:
        lines += ["", "## Deferred (over the night's capacity; first in line next night)", ""]
        lines += [f"- {t}" for t in r.deferred]
    if r.tune:
        lines += ["", "## Tuning", ""] + [f"- {k}: {_fmt(v)}" for k, v in r.tune.items()]
    if r.gates:
        lines += ["", "## Gates", "", "| gate | value | threshold | passed |", "|---|---|---|---|"]
        for name, g in r.gates.items():
            note = f" ({g['note']})" if g.get("note") else ""
            mark = "yes" if g["passed"] else "**no**"
            lines.append(f"| {name} | {_fmt(g['value'])} | {_fmt(g['threshold'])} | {mark}{note} |")
    lines += evidence_lines(r.gates)
    if r.measurements:
        lines += ["", "## Measurements", ""] + [f"- {k}: {_fmt(v)}" for k, v in r.measurements.items()]
    if r.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in r.notes]
    return "\n".join(lines) + "\n"


def evidence_lines(gates: dict[str, dict[str, Any]]) -> list[str]:
    """The questions behind the gates that went wrong: misses (with near misses), leaks, and values the
    model cannot say even with the memory in context. Answers are the candidate's, as generated."""
    out: list[str] = []
    misses = [
        (name, q)
        for name in ("acquisition", "retention", "context_override")
        for q in gates.get(name, {}).get("details", {}).get("questions", [])
        if not q["correct"]
    ]
    if misses:
        out += [
            "",
            "## Missed questions",
            "",
            "| gate | question | expected | answer | near miss |",
            "|---|---|---|---|---|",
        ]
        for name, q in misses:
            cells = [name, q["question"], q["expected"], q["answer"], q.get("near_miss") or ""]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    leaks = [q for q in gates.get("leak", {}).get("details", {}).get("questions", []) if q.get("leak")]
    if leaks:
        out += ["", "## Leaks (never-taught questions answered with a value the bank holds)", ""]
        out += [f"- {_cell(q['question'])} -> {_cell(q['answer'])} (names {q['leak']})" for q in leaks]
    unlearnable = gates.get("acquisition", {}).get("details", {}).get("not_learnable", [])
    if unlearnable:
        out += [
            "",
            "## Not learnable by this model (with the memory in context it does not say the value)",
            "",
        ]
        out += [
            f"- memory #{u['memory_id']}: {_cell(u['value'])} ({_cell(u['question'])})" for u in unlearnable
        ]
    return out


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def svg_lines(series: Sequence[tuple[str, Sequence[tuple[int, float]], str]], width=640, height=240) -> str:
    """A small line chart: series of (label, [(x, y)], colour)."""
    pts = [p for _, s, _ in series for p in s]
    if not pts:
        return "<p>No training curve (tuning did not run).</p>"
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1e-9
    pad = 40

    def sx(x: float) -> float:
        return pad + (x - x0) / (x1 - x0) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - (y - y0) / (y1 - y0) * (height - 2 * pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<rect width="{width}" height="{height}" fill="white" stroke="#ccc"/>',
        f'<text x="{pad}" y="{height - 10}" font-size="11">step {x0}..{x1}</text>',
        f'<text x="4" y="{pad - 10}" font-size="11">{y1:.3g}</text>',
        f'<text x="4" y="{height - pad}" font-size="11">{y0:.3g}</text>',
    ]
    for i, (label, s, colour) in enumerate(series):
        if not s:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        legend = f'x="{width - 150}" y="{20 + 14 * i}" font-size="11" fill="{colour}"'
        parts.append(f"<text {legend}>{html.escape(label)}</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def html_page(r: CycleReport) -> str:
    body = html.escape(markdown(r))
    chart = svg_lines([("training loss", r.loss_curve, "#1f77b4"), ("validation", r.val_curve, "#d62728")])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>sleepd cycle {r.cycle_id}</title>"
        "<style>body{font-family:sans-serif;max-width:820px;margin:2em auto}pre{white-space:pre-wrap}</style>"
        f"</head><body><h1>Sleep cycle {r.cycle_id}: {html.escape(r.status)}</h1>"
        f"<h2>Training curve</h2>{chart}<h2>Report</h2><pre>{body}</pre></body></html>\n"
    )


def write_report(r: CycleReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / "report.md"
    atomic_write_text(md, markdown(r))
    atomic_write_text(directory / "report.html", html_page(r))
    return md

"""Sleep-cycle reports: `report.md` for terminals and diffs, and `report.html`, a page a person reads.

The report says what the night did and why: a one-sentence verdict first (built from the gates and their
evidence), every gate with value and threshold, what reflection kept and dropped (with the top reasons) and
how much it redacted (counts per kind, never values), the kept and deferred items, the questions behind the
gates that went wrong, and the tuning curve.

`report.html` is self-contained: no scripts, no network, no external assets; plots are PNGs drawn by
matplotlib's Agg backend and embedded as data: URIs. Every piece of text is escaped (memory texts, questions
and answers are user data). The page helpers here (`png_data_uri`, `html_document`, `table`) are shared with
eval/history.py, which writes reports/history.html across generations.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.fileio import atomic_write_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    # Reflection's decisions, as counts (see `decision_summary`): {"kept": int, "dropped": int, "deferred":
    # int, "kept_reasons": [[reason, count], ...], "dropped_reasons": [[reason, count], ...]}. Empty: not
    # known (the page then counts the kept and deferred lists only).
    decisions: dict[str, Any] = field(default_factory=dict)
    # Why a failed cycle failed (the cycle row's `error`), for the verdict; None otherwise.
    error: str | None = None


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


# ---- reflection's decisions ------------------------------------------------------------------------------

_ID = re.compile(r"#\d+")
_NUM = re.compile(r"\d+(?:\.\d+)?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PAREN = re.compile(r"\s*\([^)]*\)")
_CHANGES = re.compile(r"\b(changes \S+ to) .*")


def reason_kind(reason: str) -> str:
    """A reason without its particulars, so that reasons can be counted and shown without user data:
    parentheses, quoted text, new slot values ("changes R to V", "a -> b") and anything after "; " go;
    memory ids and numbers become placeholders."""
    text = reason.split("; ")[0]
    if " -> " in text:  # "changes R: old -> new"
        before = text.split(" -> ")[0]
        text = before.rpartition(": ")[0] or before
    text = _PAREN.sub("", text)
    text = _QUOTED.sub("'…'", text)
    text = _CHANGES.sub(r"\1 …", text)
    text = _ID.sub("#…", text)
    text = _NUM.sub("N", text)
    return " ".join(text.split())


def decision_summary(decisions: Iterable[tuple[bool, Sequence[str]]], *, top: int = 5) -> dict[str, Any]:
    """`CycleReport.decisions` from reflection's decisions, given as (kept, reasons) pairs, e.g.
    `[(d.kept, d.all_reasons()) for d in result.outcome.decisions]` or, from the DB,
    `[(row.kept, row.reasons) for row in decisions_of_the_cycle]`. A decision's last reason is its
    verdict; a dropped one whose verdict starts with "deferred" counts as deferred."""
    kept, dropped, deferred = 0, 0, 0
    kept_reasons: Counter[str] = Counter()
    dropped_reasons: Counter[str] = Counter()
    for is_kept, reasons in decisions:
        verdict = reason_kind(reasons[-1]) if reasons else "no reason recorded"
        if is_kept:
            kept += 1
            kept_reasons[verdict] += 1
        elif verdict.startswith("deferred"):
            deferred += 1
        else:
            dropped += 1
            dropped_reasons[verdict] += 1
    return {
        "kept": kept,
        "dropped": dropped,
        "deferred": deferred,
        "kept_reasons": [[r, n] for r, n in kept_reasons.most_common(top)],
        "dropped_reasons": [[r, n] for r, n in dropped_reasons.most_common(top)],
    }


# ---- the text report -------------------------------------------------------------------------------------


def fmt_value(v: Any) -> str:
    """A figure as a table cell: "—" for none, 4 significant digits for floats."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown(r: CycleReport) -> str:
    lines = [
        f"# Sleep cycle {r.cycle_id}: {r.status}",
        "",
        verdict(r),
        "",
        f"- trigger: {r.trigger}",
        f"- started from generation: {fmt_value(r.parent_generation_id)}",
        f"- candidate generation: {fmt_value(r.candidate_generation_id)}",
        f"- kept memories: {len(r.kept)}" + (" (rebuild from the base state)" if r.rebuild else ""),
    ]
    if r.decisions:
        d = r.decisions
        lines.append(
            f"- reflection: kept {d.get('kept', 0)}, dropped {d.get('dropped', 0)}, "
            f"deferred {d.get('deferred', 0)}"
        )
        for key, label in (("kept_reasons", "kept because"), ("dropped_reasons", "dropped because")):
            if d.get(key):
                lines.append(f"- {label}: " + "; ".join(f"{why} ({n})" for why, n in d[key]))
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
        lines += ["", "## Tuning", ""] + [f"- {k}: {fmt_value(v)}" for k, v in r.tune.items()]
    if r.gates:
        lines += ["", "## Gates", "", "| gate | value | threshold | passed |", "|---|---|---|---|"]
        for name, g in r.gates.items():
            note = f" ({g['note']})" if g.get("note") else ""
            mark = "yes" if g["passed"] else "**no**"
            lines.append(f"| {name} | {fmt_value(g['value'])} | {fmt_value(g['threshold'])} | {mark}{note} |")
    lines += evidence_lines(r.gates)
    if r.measurements:
        lines += ["", "## Measurements", ""] + [f"- {k}: {fmt_value(v)}" for k, v in r.measurements.items()]
    if r.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in r.notes]
    return "\n".join(lines) + "\n"


def _misses(gates: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, q)
        for name in ("acquisition", "retention", "context_override")
        for q in _questions(gates, name)
        if not q.get("correct")
    ]


def _questions(gates: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return list((gates.get(name) or {}).get("details", {}).get("questions", []) or [])


def _leaks(gates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [q for q in _questions(gates, "leak") if q.get("leak")]


def _not_learnable(gates: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return list((gates.get("acquisition") or {}).get("details", {}).get("not_learnable", []) or [])


def evidence_lines(gates: dict[str, dict[str, Any]]) -> list[str]:
    """The questions behind the gates that went wrong: misses (with near misses), leaks, and values the
    model cannot say even with the memory in context. Answers are the candidate's, as generated."""
    out: list[str] = []
    misses = _misses(gates)
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
    leaks = _leaks(gates)
    if leaks:
        out += ["", "## Leaks (never-taught questions answered with a value the bank holds)", ""]
        out += [f"- {_cell(q['question'])} -> {_cell(q['answer'])} (names {q['leak']})" for q in leaks]
    unlearnable = _not_learnable(gates)
    if unlearnable:
        out += [
            "",
            "## Not learnable by this model (with the memory in context it does not say the value)",
            "",
        ]
        out += [
            f"- memory #{u.get('memory_id', '?')}: {_cell(u.get('value', ''))}"
            f" ({_cell(u.get('question', ''))})"
            for u in unlearnable
        ]
    return out


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


# ---- the verdict -----------------------------------------------------------------------------------------


def _short(text: Any, limit: int = 60) -> str:
    """A question or answer cut to one readable line: the last line that asks something, without the
    chat-format role prefixes."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    lines = [ln for ln in lines if ln.rstrip(":").lower() not in ("assistant", "user")]
    asks = [ln for ln in lines if "?" in ln]
    line = (asks or lines or [""])[-1]
    line = re.sub(r"^(user|assistant)\s*:\s*", "", line, flags=re.IGNORECASE)
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _answered(rows: Sequence[dict[str, Any]], sentence: str) -> tuple[int, str]:
    """(questions, `sentence` with "C of N" in its {} slot) for a gate's evidence rows."""
    c, n = _count(rows)
    return n, sentence.format(f"{c} of {n}")


def _count(rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    return sum(bool(q.get("correct")) for q in rows), len(rows)


def _facts_phrase(rows: Sequence[dict[str, Any]], adjective: str) -> tuple[str, bool]:
    """('new facts', True) when every question asks a different value, else ('questions about new facts',
    False): one question per fact lets the sentence count facts."""
    per_fact = len({str(q.get("expected")) for q in rows}) == len(rows)
    return (f"{adjective} facts" if per_fact else f"questions about {adjective} facts"), per_fact


def _learned_clause(r: CycleReport) -> str:
    rows = _questions(r.gates, "acquisition")
    if rows:
        c, n = _count(rows)
        what, per_fact = _facts_phrase(rows, "new")
        clause = f"learned {c} of {n} {what}" if per_fact else f"answered {c} of {n} {what}"
        near = sum(bool(q.get("near_miss")) for q in rows if not q.get("correct"))
        if near:
            clause += f" (and almost {near} more: near misses)"
        return clause
    acq = r.measurements.get("acquisition")
    if isinstance(acq, int | float):
        return f"answered {_pct(acq)} of the questions about tonight's new facts"
    return "had nothing new to learn tonight (a rebuild)" if r.rebuild else "had nothing new to learn"


def _kept_clause(r: CycleReport) -> str:
    rows = _questions(r.gates, "retention")
    if not rows:
        ret = r.measurements.get("retention")
        if isinstance(ret, int | float):
            return f"still answers {_pct(ret)} of the questions about earlier facts"
        return "there was nothing earlier to keep yet"
    c, n = _count(rows)
    what, _ = _facts_phrase(rows, "earlier")
    if c == n:
        return f"kept all {n} earlier ones" if what == "earlier facts" else f"answered all {n} {what}"
    clause = f"still answers {c} of {n} {what}"
    cur = r.measurements.get("retention_current")
    if isinstance(cur, int | float):
        clause += f" (the generation before: {round(cur * n)} of {n})"
    return clause


def _failure_reason(name: str, g: dict[str, Any], r: CycleReport) -> str:
    m = r.measurements
    value, threshold = g.get("value"), g.get("threshold")
    if name == "general":
        base = m.get("general_bpb_base")
        text = f"general text got harder to predict ({fmt_value(value)} bits/byte"
        if isinstance(base, int | float):
            text += f" against the base model's {fmt_value(base)}"
        return text + f"; the limit is {fmt_value(threshold)})"
    if name == "retention":
        rows = _questions(r.gates, "retention")
        if rows:
            n, text = _answered(rows, "it forgot earlier facts: {} questions about them answered right")
            if isinstance(cur := m.get("retention_current"), int | float):
                text += f", {round(cur * n)} before tonight"
            miss = next((q for q in rows if not q.get("correct")), None)
            if miss is not None:
                said = miss.get("near_miss") or _short(miss.get("answer", ""), 40)
                text += f" ({said} for {miss.get('expected')})"
            return text
        return f"it forgot earlier facts (retention {fmt_value(value)}, needs {fmt_value(threshold)})"
    if name == "acquisition":
        rows = _questions(r.gates, "acquisition")
        if rows:
            sentence = "it learned too little: {} questions about tonight's facts answered right"
            n, text = _answered(rows, sentence)
            need = f"needs {_pct(threshold)}" if isinstance(threshold, int | float) else "needs more"
            if isinstance(cur := m.get("acquisition_current"), int | float):
                need += f" and more than the {round(cur * n)} it knew before"
            return f"{text} ({need})"
        unlearnable = len(_not_learnable(r.gates))
        extra = (
            f" ({unlearnable} value{'s' if unlearnable != 1 else ''} not learnable by this model)"
            if unlearnable
            else ""
        )
        return f"there was nothing it could learn tonight{extra}"
    if name == "abstention":
        base = m.get("abstention_base")
        text = f'it stopped saying "I don\'t know" about things never told ({_pct(value or 0.0)} of the time'
        if isinstance(base, int | float):
            text += f", the base model {_pct(base)}"
        return text + ")"
    if name == "leak":
        rows = _questions(r.gates, "leak")
        leaks = [q for q in rows if q.get("leak")]
        if rows:
            text = (
                f"after tuning, {len(leaks)} of {len(rows)} questions about things never told got a "
                "remembered value"
            )
        else:
            text = f"after tuning, {_pct(value or 0.0)} of the questions about things never told got a "
            text += "remembered value"
        if leaks:
            text += f" ({leaks[0]['leak']} for “{_short(leaks[0].get('question', ''), 50)}”)"
        return text
    if name == "context_override":
        text = "when a conversation said something different, it answered from memory instead"
        if isinstance(value, int | float):
            text += f" (it followed the conversation {_pct(value)} of the time"
            text += f", needs {_pct(threshold)})" if isinstance(threshold, int | float) else ")"
        return text
    if name == "sanity":
        details = g.get("details", {})
        bad = [
            k.replace("_", " ")
            for k in ("finite", "layer_norms_within_bound", "not_degenerate")
            if k in details and not details[k]
        ]
        return "the tuned state looks broken" + (f" (fails: {', '.join(bad)})" if bad else "")
    return f"the {name} gate failed ({fmt_value(value)} against {fmt_value(threshold)})"


def verdict(r: CycleReport) -> str:
    """One plain sentence on what the night did, built from the gates and their evidence."""
    if r.status == "promoted":
        return f"Promoted: {_learned_clause(r)}, {_kept_clause(r)}."
    if r.status == "skipped":
        why = next((n for n in reversed(r.notes) if n), "")
        if not why or "nothing new worth keeping" in why:
            return "Nothing new worth keeping tonight; your memory is unchanged."
        return f"Skipped: {why.rstrip('.')}; your memory is unchanged."
    if r.status == "rejected":
        failed = [(n, g) for n, g in r.gates.items() if not g.get("passed", True)]
        if failed:
            reasons = "; ".join(_failure_reason(n, g, r) for n, g in failed)
        else:
            reasons = next((n for n in reversed(r.notes) if n), "the gates did not pass").rstrip(".")
        unchanged = "your memory is unchanged"
        if r.parent_generation_id is not None:
            unchanged += f" (generation {r.parent_generation_id} stays in use)"
        text = f"Rejected: {reasons}. {unchanged[0].upper()}{unchanged[1:]}; "
        text += "the facts stay in the bank and are retried tomorrow"
        if r.candidate_generation_id is not None:
            text += f"; `sleepd gen promote {r.candidate_generation_id} --force` takes it anyway"
        return text + "."
    if r.status == "failed":
        why = r.error or next((n for n in reversed(r.notes) if n), "see the daemon log")
        return (
            f"Failed: {_short(why, 200).rstrip('.')}. Your memory is unchanged; "
            "tonight's messages are reflected on again by the next cycle."
        )
    return f"In progress ({r.status}): nothing has been decided yet."


# ---- HTML helpers (shared with eval/history.py) ----------------------------------------------------------


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pyplot_free_agg() -> None:
    """Plots never need a display: select the Agg backend before anything could import pyplot (the
    figures here are drawn with matplotlib.figure.Figure and the Agg canvas, not pyplot)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")


def new_figure(width: float = 7.5, height: float = 3.2) -> Figure:
    _pyplot_free_agg()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def png_data_uri(fig: Figure) -> str:
    """The figure as a data:image/png;base64 URI (Agg canvas; no metadata, so output is reproducible)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">'


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """An HTML table; every cell is escaped (cells given as `Markup` are trusted HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if isinstance(c, Markup) else esc(c)}</td>" for c in row) + "</tr>"
        for row in rows
    )
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Markup(str):
    """HTML built here from escaped parts; `table` inserts it as is."""


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:960px;
margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{font-size:1.5em;margin-bottom:.3em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd}
.lead{font-size:1.15em;padding:.8em 1em;border-radius:6px;background:#f1f4f8;border-left:6px solid #7a8899}
.lead.promoted,.lead.good{background:#eef8ef;border-color:#2e8540}
.lead.rejected,.lead.failed,.lead.bad{background:#fdf0ef;border-color:#c0392b}
.lead.skipped{background:#f6f6f6;border-color:#999}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #d6d6d6;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#2e8540;font-weight:600}.fail{color:#c0392b;font-weight:600}
.muted{color:#666}img{max-width:100%;height:auto;display:block;margin:.6em 0}
ul.items li{margin:.15em 0}code{background:#f4f4f4;padding:0 .25em;border-radius:3px}
"""


def html_document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def lead_html(text: str, element_id: str, cls: str) -> str:
    """A lead sentence; `code` spans (`...`) in it become <code> elements, everything else is escaped."""
    parts = esc(text).split("`")
    inner = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return f'<p id="{esc(element_id)}" class="lead {esc(cls)}">{inner}</p>'


# ---- the cycle page --------------------------------------------------------------------------------------


def curve_png(r: CycleReport) -> str | None:
    """The tuning curve (training and validation loss per step) as a PNG data URI; None without one."""
    if not r.loss_curve and not r.val_curve:
        return None
    fig = new_figure(7.5, 3.0)
    ax = fig.add_subplot()
    if r.loss_curve:
        xs, ys = zip(*r.loss_curve, strict=True)
        ax.plot(xs, ys, color="#1f77b4", linewidth=1.4, label="training loss")
    if r.val_curve:
        xs, ys = zip(*r.val_curve, strict=True)
        ax.plot(xs, ys, color="#d62728", linewidth=1.4, marker="o", markersize=4, label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", frameon=False)
    return png_data_uri(fig)


def _gate_note(g: dict[str, Any]) -> str:
    note = str(g.get("note") or "")
    details = g.get("details") or {}
    ci = details.get("wilson95")
    if ci:
        extra = f"95% interval {fmt_value(ci[0])}–{fmt_value(ci[1])}"
        if details.get("n"):
            extra += f" over {details['n']} questions"
        note = f"{note}; {extra}" if note else extra
    return note


def _passed_cell(passed: bool) -> Markup:
    return Markup('<span class="pass">yes</span>' if passed else '<span class="fail">no</span>')


def _items(texts: Sequence[str]) -> str:
    return "<ul class='items'>" + "".join(f"<li>{esc(t)}</li>" for t in texts) + "</ul>"


def _decisions_html(r: CycleReport) -> str:
    d = r.decisions
    if d:
        counts = (
            f"Kept {esc(d.get('kept', 0))}, dropped {esc(d.get('dropped', 0))}, "
            f"deferred {esc(d.get('deferred', 0))}."
        )
    else:
        counts = f"Kept {len(r.kept)}, deferred {len(r.deferred)} (dropped: not recorded for this cycle)."
    out = [f"<p>{counts}" + (" A rebuild: tuned from the base state." if r.rebuild else "") + "</p>"]
    for key, label in (("kept_reasons", "Top reasons to keep"), ("dropped_reasons", "Top reasons to drop")):
        if d.get(key):
            out.append(table([label, "count"], ((why, Markup(f"{int(n)}")) for why, n in d[key])))
    if d.get("top_reasons"):
        out.append(
            table(["Top reasons", "count"], ((why, Markup(f"{int(n)}")) for why, n in d["top_reasons"]))
        )
    if r.redactions:
        rows = ((kind, Markup(f"{int(n)}")) for kind, n in sorted(r.redactions.items()))
        out.append("<p>Redacted before keeping (counts only; the values are never stored):</p>")
        out.append(table(["kind", "count"], rows))
    else:
        out.append("<p class='muted'>Nothing was redacted.</p>")
    return "\n".join(out)


def html_page(r: CycleReport) -> str:
    cls = r.status if r.status in ("promoted", "rejected", "skipped", "failed") else ""
    parts = [
        f"<h1>Sleep cycle {esc(r.cycle_id)}: {esc(r.status)}</h1>",
        lead_html(verdict(r), "verdict", cls),
        "<p class='muted'>"
        f"Trigger: {esc(r.trigger)} · started from generation {esc(fmt_value(r.parent_generation_id))}"
        f" · candidate generation {esc(fmt_value(r.candidate_generation_id))}</p>",
    ]
    if r.gates:
        rows = [
            (
                name,
                Markup(esc(fmt_value(g.get("value")))),
                Markup(esc(fmt_value(g.get("threshold")))),
                _passed_cell(bool(g.get("passed"))),
                _gate_note(g),
            )
            for name, g in r.gates.items()
        ]
        parts += ["<h2>Gates</h2>", table(["gate", "value", "threshold", "passed", "note"], rows, "gates")]
    parts += ["<h2>What reflection kept</h2>", _decisions_html(r)]
    parts.append(f"<h2>Kept items ({len(r.kept)})</h2>")
    parts.append(_items(r.kept) if r.kept else "<p class='muted'>None.</p>")
    if r.deferred:
        parts += [
            f"<h2>Deferred ({len(r.deferred)}): over the night's capacity, first in line next night</h2>",
            _items(r.deferred),
        ]
    misses = _misses(r.gates)
    if misses:
        rows = [
            (
                name,
                q.get("question", ""),
                q.get("expected", ""),
                q.get("answer", ""),
                q.get("near_miss") or "",
            )
            for name, q in misses
        ]
        parts += [
            "<h2>Missed questions</h2>",
            "<p class='muted'>The candidate's answers, as generated; a near miss is almost the value.</p>",
            table(["gate", "question", "expected", "answer", "near miss"], rows),
        ]
    leaks = _leaks(r.gates)
    if leaks:
        rows = [(q.get("question", ""), q.get("answer", ""), q.get("leak", "")) for q in leaks]
        parts += [
            "<h2>Leaks: never-told questions answered with a remembered value</h2>",
            table(["question", "answer", "names"], rows),
        ]
    unlearnable = _not_learnable(r.gates)
    if unlearnable:
        rows = [(u.get("memory_id", ""), u.get("value", ""), u.get("question", "")) for u in unlearnable]
        parts += [
            "<h2>Not learnable by this model</h2>",
            "<p class='muted'>With the memory said in the conversation, the model still does not say "
            "these values; they stay in the bank, unlearned.</p>",
            table(["memory", "value", "question"], rows),
        ]
    parts.append("<h2>Tuning</h2>")
    uri = curve_png(r)
    parts.append(
        img(uri, "training and validation loss per step")
        if uri
        else "<p class='muted'>No tuning curve: tuning did not run in this cycle.</p>"
    )
    if r.tune:
        parts.append(table(["", "value"], ((k, fmt_value(v)) for k, v in r.tune.items())))
    if r.measurements:
        parts += [
            "<h2>Measurements</h2>",
            table(["measure", "value"], ((k, fmt_value(v)) for k, v in r.measurements.items())),
        ]
    if r.notes:
        parts += ["<h2>Notes</h2>", _items(r.notes)]
    return html_document(f"sleepd cycle {r.cycle_id}: {r.status}", "\n".join(parts))


def write_report(r: CycleReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / "report.md"
    atomic_write_text(md, markdown(r))
    atomic_write_text(directory / "report.html", html_page(r))
    return md

"""The history report across every generation: `<data dir>/reports/history.html`.

Everything is computed from the data directory: the generations (DB rows and their eval.json), and the
audit events of promotions, rejections and rollbacks. `history_data` returns the numbers (what
`sleepd eval report --all --json` prints); `write_history` renders them as a self-contained page (PNG plots
from matplotlib's Agg backend embedded as data: URIs, no scripts, no network). Call it after every cycle and
after every promote or rollback.

The accuracy matrix R[g][j]: rows are the generations made by nights (generation 0, the base model, is
never asked memory questions), in creation order; columns are memory-days, the ids of the cycles whose
memories the questions ask about (the `cycle_id` of each question row in eval.json). R[g][j] is the share of
correct answers among generation g's retention and acquisition questions about day j; a cell without
questions stays empty (None).

ACC, BWT and forgetting (eval/forgetting.py) need a square matrix: the lineage of the generation in use
(oldest first, the base left out), each generation g_t with the day of the night that made it, d_t, so that
R_sq[t][b] = R[g_t][d_b]. A day whose cells are missing below the diagonal (its questions were not asked
after some later night, e.g. its memories were forgotten) is left out with its generation, and the page
says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from eval.forgetting import summary as forgetting_summary
from eval.report import (
    Markup,
    esc,
    fmt_value,
    html_document,
    img,
    lead_html,
    new_figure,
    png_data_uri,
    table,
)
from memory.db import Database
from memory.generations import GenerationStore, current_generation_id, lineage, list_generations
from memory.schema import Event
from model.fileio import atomic_write_text


class DataDir(Protocol):
    """What the history reads of an open data directory (daemon.init.DataDir is one)."""

    db: Database
    generations: GenerationStore
    paths: Any  # has .root


REPORTS_DIR = "reports"
HISTORY_NAME = "history.html"
TIMELINE_ACTIONS = ("generation.promote", "generation.reject", "generation.rollback")
EVIDENCE_GATES = ("retention", "acquisition")
SERIES_KEYS = (
    "general_bpb",
    "general_bpb_base",
    "abstention",
    "abstention_base",
    "leak",
    "leak_base",
    "acquisition",
    "retention",
)
DOC_KEYS = ("general_bpb_mean", "general_bpb_median", "general_bpb_base_mean", "general_bpb_base_median")


# ---- opening -------------------------------------------------------------------------------------------


# ---- the numbers ---------------------------------------------------------------------------------------


def _doc_values(raw: Any) -> list[float]:
    """Per-document bits/byte: a list of numbers, of {"bpb": x} rows, or a {name: number} mapping."""
    if isinstance(raw, dict):
        raw = list(raw.values())
    out: list[float] = []
    for v in raw if isinstance(raw, list) else []:
        if isinstance(v, dict):
            v = v.get("bpb", v.get("value"))
        if isinstance(v, int | float) and not isinstance(v, bool):
            out.append(float(v))
    return out


def _question_counts(ev: dict[str, Any]) -> dict[int, list[int]]:
    """{memory-day: [correct, asked]} over the retention and acquisition question rows of one eval.json."""
    counts: dict[int, list[int]] = {}
    gates = ev.get("gates") if isinstance(ev.get("gates"), dict) else {}
    for name in EVIDENCE_GATES:
        gate = gates.get(name) if isinstance(gates.get(name), dict) else {}
        for q in (gate.get("details") or {}).get("questions", []) or []:
            day = q.get("cycle_id") if isinstance(q, dict) else None
            if day is None:
                continue
            c = counts.setdefault(int(day), [0, 0])
            c[0] += bool(q.get("correct"))
            c[1] += 1
    return counts


def _square(
    chain: list[dict[str, Any]], cell: dict[tuple[int, int], float]
) -> tuple[list[dict[str, Any]], list[list[float | None]], list[str]]:
    """The square part of R over `chain` (oldest first): which generations and days stay, R_sq, and why
    any were left out."""
    left_out: list[str] = []
    keep = []
    for g in chain:
        if g["cycle_id"] is None:
            left_out.append(f"generation {g['id']}: not made by a night (no memory-day)")
        elif (g["id"], g["cycle_id"]) not in cell:
            left_out.append(f"generation {g['id']}: never asked about its own day {g['cycle_id']}")
        else:
            keep.append(g)
    changed = True
    while changed:
        changed = False
        for a, ga in enumerate(keep):
            for gb in keep[:a]:
                if (ga["id"], gb["cycle_id"]) not in cell:
                    left_out.append(
                        f"day {gb['cycle_id']} (generation {gb['id']}): not asked after generation {ga['id']}"
                    )
                    keep.remove(gb)
                    changed = True
                    break
            if changed:
                break
    R = [
        [cell[(ga["id"], gb["cycle_id"])] if b <= a else None for b, gb in enumerate(keep)]
        for a, ga in enumerate(keep)
    ]
    return keep, R, left_out


def _collect(dd: DataDir) -> dict[str, Any]:
    store = dd.generations
    with dd.db.read() as s:
        rows = list_generations(s)
        cur = current_generation_id(s)
        chain_ids = [g.id for g in lineage(s, cur)] if cur is not None else []
        gens = [
            {
                "id": g.id,
                "parent": g.parent_id,
                "status": g.status,
                "cycle_id": g.cycle_id,
                "created_at": g.created_at.isoformat(),
                "removed": g.removed_at is not None,
                "note": g.note,
            }
            for g in sorted(rows, key=lambda g: (g.created_at, g.id))
        ]
        q = select(Event).where(Event.action.in_(TIMELINE_ACTIONS)).order_by(Event.id)
        events = [
            {
                "ts": e.ts.isoformat(),
                "action": e.action.split(".", 1)[1],
                "generation_id": e.generation_id,
                "cycle_id": e.cycle_id,
                "from": (e.details or {}).get("from"),
                "to": (e.details or {}).get("to", e.generation_id),
                "forced": bool((e.details or {}).get("forced")),
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in s.scalars(q)
        ]
    in_chain = set(chain_ids)
    counts: dict[int, dict[int, list[int]]] = {}
    for g in gens:
        g["current"] = g["id"] == cur
        g["in_lineage"] = g["id"] in in_chain
        g["rolled_back"] = g["status"] == "promoted" and g["id"] not in in_chain
        ev = store.read_eval(g["id"]) if not g["removed"] else None
        ev = ev if isinstance(ev, dict) else {}
        g["passed"] = ev.get("passed")
        m = ev.get("measurements") if isinstance(ev.get("measurements"), dict) else {}
        g["measurements"] = {k: m.get(k) for k in SERIES_KEYS}
        docs, base_docs = _doc_values(m.get("general_bpb_docs")), _doc_values(m.get("general_bpb_base_docs"))
        g["bpb_docs"] = len(docs)
        for key, vals in (("general_bpb", docs), ("general_bpb_base", base_docs)):
            g["measurements"][f"{key}_mean"] = statistics.fmean(vals) if vals else None
            g["measurements"][f"{key}_median"] = statistics.median(vals) if vals else None
        counts[g["id"]] = _question_counts(ev)

    nights = [g for g in gens if g["status"] != "base"]
    days = sorted({d for g in nights for d in counts[g["id"]]})
    cell = {(gid, d): c / n for gid, per in counts.items() for d, (c, n) in per.items() if n}
    matrix = {
        "generations": [g["id"] for g in nights],
        "status": [g["status"] for g in nights],
        "days": days,
        "R": [[cell.get((g["id"], d)) for d in days] for g in nights],
        "n": [[counts[g["id"]].get(d, [0, 0])[1] for d in days] for g in nights],
    }
    by_id = {g["id"]: g for g in gens}
    chain = [by_id[i] for i in reversed(chain_ids) if by_id[i]["status"] != "base"]
    keep, R_sq, left_out = _square(chain, cell)
    metrics: dict[str, float | None] = {"acc": None, "bwt": None, "forgetting": None}
    if keep:
        metrics.update(forgetting_summary(R_sq))
    series: dict[str, Any] = {
        "generation": [g["id"] for g in nights],
        "status": [g["status"] for g in nights],
        "bpb_docs": [g["bpb_docs"] for g in nights],
    }
    for key in (*SERIES_KEYS, *DOC_KEYS):
        series[key] = [g["measurements"].get(key) for g in nights]
    timeline = _timeline(gens, events)
    data = {
        "current": cur,
        "lineage": list(reversed(chain_ids)),
        "generations": [{k: v for k, v in g.items() if k != "measurements"} for g in gens],
        "matrix": matrix,
        "square": {
            "generations": [g["id"] for g in keep],
            "days": [g["cycle_id"] for g in keep],
            "R": R_sq,
            "left_out": left_out,
        },
        "metrics": metrics,
        "series": series,
        "timeline": timeline,
    }
    data["summary"] = summary_sentence(data)
    return data


def _timeline(gens: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Promotions, rejections and rollbacks in order, from the audit events; a generation whose status
    says promoted or rejected without such an event (an older data directory) is added at its creation."""
    seen = {(e["action"], e["generation_id"]) for e in events}
    out = list(events)
    for g in gens:
        for status, action in (("promoted", "promote"), ("rejected", "reject")):
            if g["status"] == status and (action, g["id"]) not in seen:
                out.append(
                    {
                        "ts": g["created_at"],
                        "action": action,
                        "generation_id": g["id"],
                        "cycle_id": g["cycle_id"],
                        "from": None,
                        "to": g["id"],
                        "forced": False,
                        "actor": None,
                        "reason": "from the generation's status (no audit event)",
                    }
                )
    out.sort(key=lambda e: e["ts"])
    return out


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.0f}%"


def _points(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:+.0f} points"


def summary_sentence(data: dict[str, Any]) -> str:
    gens = data["generations"]
    nights = [g for g in gens if g["status"] != "base"]
    if not nights:
        return (
            "Nothing yet: only the base model (generation 0) exists. This page fills in after the first "
            "night that keeps something."
        )
    by = {s: sum(g["status"] == s for g in nights) for s in ("promoted", "rejected", "candidate")}
    rollbacks = sum(e["action"] == "rollback" for e in data["timeline"])
    parts = [f"promoted {by['promoted']}", f"rejected {by['rejected']}"]
    if by["candidate"]:
        parts.append(f"{by['candidate']} not decided yet")
    text = f"{len(nights)} night{'s' if len(nights) != 1 else ''} made a candidate: " + ", ".join(parts)
    if rollbacks:
        text += f"; {rollbacks} rollback{'s' if rollbacks != 1 else ''}"
    text += f". Generation {data['current']} is in use."
    m, sq = data["metrics"], data["square"]
    if m["acc"] is not None:
        T = len(sq["days"])
        text += (
            f" Over the {T} memory-day{'s' if T != 1 else ''} it learned, it answers {_pct(m['acc'])} "
            "of the questions (ACC)"
        )
        if m["bwt"] is not None:
            text += (
                f"; later nights changed earlier days by {_points(m['bwt'])} on average (BWT), "
                f"forgetting {_points(m['forgetting']).lstrip('+')}."
            )
        else:
            text += "; forgetting shows from the second promoted night on."
    else:
        text += " No promoted night in use has been scored yet, so there is no ACC, BWT or forgetting."
    return text


def history_data(dd: DataDir) -> dict[str, Any]:
    """The numbers behind history.html, JSON-ready: {"current", "lineage", "generations", "matrix":
    {"generations", "status", "days", "R", "n"}, "square": {"generations", "days", "R", "left_out"},
    "metrics": {"acc", "bwt", "forgetting"}, "series": {"generation", "status", <measurement>: [...]},
    "timeline": [...], "summary"} of an open data directory."""
    return _collect(dd)


# ---- the plots -----------------------------------------------------------------------------------------

PROMOTED_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def _row_label(g: dict[str, Any]) -> str:
    label = f"gen {g['id']}"
    if g["cycle_id"] is not None:
        label += f" · night {g['cycle_id']}"
    if g["rolled_back"]:
        label += " (rolled back)"
    if g["current"]:
        label += " (in use)"
    return label


def _heatmap(data: dict[str, Any]) -> str | None:
    import numpy as np

    mx = data["matrix"]
    if not mx["generations"] or not mx["days"]:
        return None
    by_id = {g["id"]: g for g in data["generations"]}
    panels = [
        ("promoted generations", [i for i, s in enumerate(mx["status"]) if s == "promoted"]),
        (
            "candidates not promoted (rejected, or not decided yet)",
            [i for i, s in enumerate(mx["status"]) if s != "promoted"],
        ),
    ]
    panels = [(title, idx) for title, idx in panels if idx]
    days = mx["days"]
    n_rows = sum(len(idx) for _, idx in panels)
    width = min(16.0, 3.5 + 0.75 * len(days))
    height = min(24.0, 1.4 + 0.42 * n_rows + 0.9 * len(panels))
    fig = new_figure(width, height)
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=[max(1, len(i)) for _, i in panels])
    annotate = len(days) <= 20 and n_rows <= 40
    from matplotlib import colormaps

    cmap = colormaps["RdYlGn"].with_extremes(bad="#eeeeee")
    image = None
    for ax, (title, idx) in zip(axes[:, 0], panels, strict=True):
        grid = np.array([[np.nan if v is None else v for v in mx["R"][i]] for i in idx], dtype=float)
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_yticks(range(len(idx)), [_row_label(by_id[mx["generations"][i]]) for i in idx], fontsize=8)
        ax.set_xticks(
            range(len(days)), [f"day {d}" for d in days], fontsize=8, rotation=45 if len(days) > 8 else 0
        )
        if annotate:
            for r, i in enumerate(idx):
                for c, v in enumerate(mx["R"][i]):
                    if v is not None:
                        ink = "white" if v < 0.15 or v > 0.85 else "black"
                        ax.text(
                            c,
                            r,
                            f"{100 * v:.0f}%\n{mx['n'][i][c]}q",
                            ha="center",
                            va="center",
                            fontsize=7,
                            color=ink,
                        )
    axes[-1, 0].set_xlabel("memory-day (the night whose memories the questions ask about)")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="share answered right", shrink=0.8)
    return png_data_uri(fig)


def _line_with_others(ax, xs, ys, statuses, colour, label, dashed=False) -> None:
    """A line through the promoted generations' values; other candidates as unconnected x marks."""
    good = [(x, y) for x, y, s in zip(xs, ys, statuses, strict=True) if y is not None and s == "promoted"]
    other = [(x, y) for x, y, s in zip(xs, ys, statuses, strict=True) if y is not None and s != "promoted"]
    style = "--" if dashed else "-"
    if good:
        ax.plot(
            *zip(*good, strict=True),
            style,
            color=colour,
            marker="o",
            markersize=4,
            linewidth=1.4,
            label=label,
        )
    if other:
        ax.plot(
            *zip(*other, strict=True),
            linestyle="none",
            color=colour,
            marker="x",
            markersize=7,
            label=f"{label} (not promoted)" if not good else None,
        )


def _finish(ax, ylabel: str, xs: Sequence[int]) -> None:
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if len(xs) <= 30:
        ax.set_xticks(list(xs))
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, frameon=False, loc="best")


def _retention_curves(data: dict[str, Any]) -> str | None:
    mx = data["matrix"]
    idx = [i for i, s in enumerate(mx["status"]) if s == "promoted"]
    if not idx or not mx["days"]:
        return None
    fig = new_figure(7.5, 3.4)
    ax = fig.add_subplot()
    xs_all = [mx["generations"][i] for i in idx]
    for c, day in enumerate(mx["days"]):
        pts = [(mx["generations"][i], mx["R"][i][c]) for i in idx if mx["R"][i][c] is not None]
        if not pts:
            continue
        colour = PROMOTED_COLOURS[c % len(PROMOTED_COLOURS)]
        ax.plot(
            *zip(*pts, strict=True), color=colour, marker="o", markersize=4, linewidth=1.4, label=f"day {day}"
        )
    ax.set_ylim(-0.05, 1.05)
    _finish(ax, "share answered right", xs_all)
    return png_data_uri(fig)


def _bpb_plot(data: dict[str, Any]) -> str | None:
    sr = data["series"]
    xs, st = sr["generation"], sr["status"]
    if not any(v is not None for v in sr.get("general_bpb", [])):
        return None
    fig = new_figure(7.5, 3.2)
    ax = fig.add_subplot()
    if any(v is not None for v in sr.get("general_bpb_mean", [])):
        _line_with_others(ax, xs, sr["general_bpb_mean"], st, "#1f77b4", "candidate, mean over documents")
        _line_with_others(ax, xs, sr["general_bpb_median"], st, "#17becf", "candidate, median over documents")
        if any(v is not None for v in sr.get("general_bpb_base_mean", [])):
            _line_with_others(ax, xs, sr["general_bpb_base_mean"], st, "#7f7f7f", "base, mean", dashed=True)
            _line_with_others(
                ax, xs, sr["general_bpb_base_median"], st, "#bbbbbb", "base, median", dashed=True
            )
    single = [
        v if m is None else None
        for v, m in zip(sr["general_bpb"], sr.get("general_bpb_mean", []), strict=False)
    ]
    if any(v is not None for v in single):
        _line_with_others(ax, xs, single, st, "#d62728", "candidate (suite as one text)")
    base = [v for v in sr.get("general_bpb_base", []) if v is not None]
    if base:
        _line_with_others(
            ax, xs, sr["general_bpb_base"], ["promoted"] * len(xs), "#555555", "base model", dashed=True
        )
    _finish(ax, "bits per byte (lower is better)", xs)
    return png_data_uri(fig)


def _rates_plot(data: dict[str, Any]) -> str | None:
    sr = data["series"]
    xs, st = sr["generation"], sr["status"]
    keys = ("abstention", "abstention_base", "leak", "leak_base")
    if not any(v is not None for k in keys for v in sr.get(k, [])):
        return None
    fig = new_figure(7.5, 3.2)
    ax = fig.add_subplot()
    _line_with_others(ax, xs, sr["abstention"], st, "#1f77b4", "abstention (says it does not know)")
    _line_with_others(
        ax,
        xs,
        sr["abstention_base"],
        ["promoted"] * len(xs),
        "#1f77b4",
        "abstention, base model",
        dashed=True,
    )
    _line_with_others(ax, xs, sr["leak"], st, "#d62728", "leak (names a remembered value)")
    if any(v is not None for v in sr.get("leak_base", [])):
        _line_with_others(
            ax, xs, sr["leak_base"], ["promoted"] * len(xs), "#d62728", "leak, base model", dashed=True
        )
    ax.set_ylim(-0.05, 1.05)
    _finish(ax, "share of never-told questions", xs)
    return png_data_uri(fig)


def _timeline_plot(data: dict[str, Any]) -> str | None:
    events = data["timeline"]
    if not events:
        return None
    from matplotlib.ticker import MaxNLocator

    base = next((g for g in data["generations"] if g["status"] == "base"), None)
    served = base["id"] if base else 0
    xs, ys = [0], [served]
    marks: dict[str, list[tuple[int, int]]] = {"promote": [], "reject": [], "rollback": []}
    for k, e in enumerate(events, start=1):
        if e["action"] in ("promote", "rollback") and e["to"] is not None:
            served = e["to"]
        xs.append(k)
        ys.append(served)
        marks[e["action"]].append((k, e["generation_id"] if e["action"] == "reject" else served))
    fig = new_figure(7.5, 3.0)
    ax = fig.add_subplot()
    ax.step(xs, ys, where="post", color="#555555", linewidth=1.4, label="generation in use")
    styles = {
        "promote": ("^", "#2e8540", "promoted"),
        "reject": ("x", "#c0392b", "rejected candidate"),
        "rollback": ("v", "#e67e22", "rollback"),
    }
    for action, pts in marks.items():
        if pts:
            marker, colour, label = styles[action]
            ax.plot(
                *zip(*pts, strict=True),
                linestyle="none",
                marker=marker,
                markersize=9,
                color=colour,
                label=label,
            )
    ax.set_xlabel("event (in order; times in the table below)")
    ax.set_ylabel("generation")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(xs) <= 30:
        ax.set_xticks(xs, ["start", *[str(k) for k in xs[1:]]], fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return png_data_uri(fig)


# ---- the page ------------------------------------------------------------------------------------------


def _section(title: str, uri: str | None, alt: str, text: str, empty: str) -> str:
    body = img(uri, alt) if uri else f"<p class='muted'>{esc(empty)}</p>"
    return f"<h2>{esc(title)}</h2>\n<p>{text}</p>\n{body}"


def html_page(data: dict[str, Any]) -> str:
    nights = [g for g in data["generations"] if g["status"] != "base"]
    cls = "good" if data["metrics"]["bwt"] is None or data["metrics"]["bwt"] >= -0.02 else "bad"
    parts = [
        "<h1>sleepd: memory across generations</h1>",
        lead_html(data["summary"], "summary", cls if nights else ""),
    ]
    if not nights:
        parts.append(
            "<p class='muted'>The accuracy matrix, retention curves, bits/byte, abstention and leak, and "
            "the timeline appear here once a night has made a candidate generation.</p>"
        )
        return html_document("sleepd history", "\n".join(parts))

    m, sq = data["metrics"], data["square"]
    meaning = {
        "acc": "final average accuracy: the generation in use, over every memory-day of its lineage",
        "bwt": "backward transfer: mean change on each earlier day since the night that learned it "
        "(negative: later nights hurt earlier days)",
        "forgetting": "mean drop from each earlier day's best accuracy to now (Chaudhry et al. 2018)",
    }
    parts.append("<h2>ACC, BWT and forgetting</h2>")
    parts.append(
        table(
            ["metric", "value", "meaning"],
            (
                (k.upper() if k != "forgetting" else k, Markup(esc(fmt_value(m[k]))), meaning[k])
                for k in ("acc", "bwt", "forgetting")
            ),
        )
    )
    lineage_txt = ", ".join(f"gen {g} (day {d})" for g, d in zip(sq["generations"], sq["days"], strict=True))
    parts.append(
        "<p class='muted'>Over the square part of R for the generations in use: "
        + (esc(lineage_txt) if lineage_txt else "none yet")
        + ". BWT and forgetting need at least two of them (— until then).</p>"
    )
    if sq["left_out"]:
        parts.append(
            "<p class='muted'>Left out of the square part:</p><ul>"
            + "".join(f"<li>{esc(w)}</li>" for w in sq["left_out"])
            + "</ul>"
        )
    if sq["generations"]:
        rows = [
            [f"gen {g}", *(Markup(esc(_pct(v))) if v is not None else "" for v in row)]
            for g, row in zip(sq["generations"], sq["R"], strict=True)
        ]
        parts.append(table(["", *[f"day {d}" for d in sq["days"]]], rows))

    parts.append(
        _section(
            "Accuracy matrix R[generation][memory-day]",
            _heatmap(data),
            "heatmap of the share of questions answered right, per generation and memory-day",
            "Each cell: the share of a generation's retention and acquisition questions about one day's "
            "memories that it answered right (with the number of questions). Rows are in creation order; "
            "promoted generations on top, candidates that were not promoted in a panel of their own "
            "(they were never served). Grey: no questions about that day.",
            "No question in any eval.json names its memory-day yet.",
        )
    )
    parts.append(
        _section(
            "Retention per memory-day",
            _retention_curves(data),
            "retention curves: accuracy on each memory-day over the promoted generations",
            "One line per memory-day: how well each promoted generation answers that day's questions. A line "
            "that falls is forgetting.",
            "No promoted generation has been scored on a memory-day yet.",
        )
    )
    docs = sum(bool(n) for n in data["series"]["bpb_docs"])
    bpb_note = (
        f"Mean and median over the suite's documents where eval.json holds per-document values ({docs} of "
        f"{len(nights)} generations); elsewhere the suite is scored as one text, a single value."
        if docs
        else "eval.json holds one value per generation (the held-out suite scored as one text), so there "
        "is no per-document mean or median to show: the plot shows that single value."
    )
    parts.append(
        _section(
            "General bits per byte",
            _bpb_plot(data),
            "general bits per byte of each candidate against the base model",
            "Bits per byte on the held-out general text, started from each candidate's memory, against the "
            "base model (dashed). Crosses: candidates not promoted. " + esc(bpb_note),
            "No generation has a general bits/byte measurement.",
        )
    )
    parts.append(
        _section(
            "Abstention and leak",
            _rates_plot(data),
            "abstention and leak rates over generations",
            "On questions about things never told: how often the candidate says it does not know (higher is "
            "better; dashed: the base model), and how often it names a value the memory holds instead (lower "
            "is better). Crosses: candidates not promoted.",
            "No generation was asked never-told questions.",
        )
    )
    parts.append(
        _section(
            "Promotions, rejections and rollbacks",
            _timeline_plot(data),
            "timeline of the generation in use, with promotions, rejections and rollbacks",
            "The generation in use after each event (line); triangles up: promotions, crosses: rejected "
            "candidates, triangles down: rollbacks.",
            "No promotion, rejection or rollback yet.",
        )
    )
    if data["timeline"]:
        rows = [
            (
                k,
                e["ts"][:19].replace("T", " "),
                e["action"] + (" (forced)" if e["forced"] else ""),
                fmt_value(e["generation_id"]),
                fmt_value(e["cycle_id"]),
                e["reason"] or "",
            )
            for k, e in enumerate(data["timeline"], start=1)
        ]
        parts.append(table(["event", "time (UTC)", "what", "generation", "night", "why"], rows))
    gen_rows = [
        (
            g["id"],
            fmt_value(g["parent"]),
            g["status"]
            + (" (in use)" if g["current"] else "")
            + (" (rolled back)" if g["rolled_back"] else ""),
            fmt_value(g["cycle_id"]),
            g["created_at"][:19].replace("T", " "),
        )
        for g in data["generations"]
    ]
    parts += ["<h2>Generations</h2>", table(["id", "parent", "status", "night", "created (UTC)"], gen_rows)]
    return html_document("sleepd history", "\n".join(parts))


def write_history(dd: DataDir) -> Path:
    """Write <data dir>/reports/history.html (atomically) for an open data directory; returns its path."""
    out = Path(dd.paths.root) / REPORTS_DIR
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = out / HISTORY_NAME
    atomic_write_text(path, html_page(_collect(dd)))
    return path

"""Reports a person reads: the cycle page (report.html, with its verdict) and the history page across
generations (reports/history.html, with the accuracy matrix and ACC/BWT/forgetting).

The data is real: a data directory made by `sleepd init` with a tiny checkpoint, nights recorded through
memory.cycles, generations with eval.json written, promoted, rejected and rolled back through the real
GenerationStore. Only the gate results are hand-made (running the gates needs a trained model); they carry
question evidence with memory-days, as eval/gates.py writes it."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from daemon.init import init_data_dir, open_data_dir
from eval.history import _square, history_data, write_history
from eval.report import CycleReport, decision_summary, markdown, reason_kind, verdict, write_report
from memory import cycles
from model.bundle import write_tiny_checkpoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Tags(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them (text is not markup)."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))


# ---- building a data directory ---------------------------------------------------------------------------


def rows(day: int, correct: int, total: int, *, tag: str = "") -> list[dict[str, Any]]:
    """Question evidence about memory-day `day`: the first `correct` answered right. Expected values are
    distinct per question (one question per fact)."""
    out = []
    for k in range(total):
        value = f"value{tag}{day}-{k}"
        ok = k < correct
        out.append(
            {
                "question": f"What is fact {k} of day {day}?",
                "expected": value,
                "answer": value if ok else "I think it was something else.",
                "correct": ok,
                "near_miss": None,
                "cycle_id": day,
            }
        )
    return out


def leak_rows(n: int, leaks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Never-taught questions: the first len(leaks) name a remembered value, the rest abstain."""
    out = []
    for k in range(n):
        if k < len(leaks):
            question, value = leaks[k]
            out.append(
                {"question": question, "expected": "", "answer": f"{value}.", "correct": False, "leak": value}
            )
        else:
            q = f"What is the name of my cousin number {k}?"
            out.append(
                {"question": q, "expected": "", "answer": "I don't know.", "correct": True, "leak": None}
            )
    return out


def gate(value, threshold, passed, note="", **details) -> dict[str, Any]:
    g: dict[str, Any] = {"value": value, "threshold": threshold, "passed": passed}
    if note:
        g["note"] = note
    if details:
        g["details"] = details
    return g


def eval_result(
    acq: list[dict[str, Any]],
    ret: list[dict[str, Any]],
    *,
    leaks: list[tuple[str, str]] = (),  # type: ignore[assignment]
    bpb: float = 1.2,
    docs: list[float] | None = None,
    abstention: float = 0.9,
) -> dict[str, Any]:
    never = leak_rows(48, list(leaks))
    leak = sum(bool(q["leak"]) for q in never) / len(never)
    acq_v = sum(q["correct"] for q in acq) / len(acq)
    ret_v = sum(q["correct"] for q in ret) / len(ret) if ret else None
    gates = {
        "general": gate(bpb, 1.19 * 1.01, bpb <= 1.19 * 1.01),
        "retention": gate(ret_v, 0.0, True, questions=ret)
        if ret
        else gate(None, None, True, "no earlier memories"),
        "acquisition": gate(acq_v, 0.5, acq_v >= 0.5, "needs >= 0.5", questions=acq),
        "abstention": gate(abstention, 0.82, abstention >= 0.82, n=48, wilson95=[0.79, 0.96]),
        "leak": gate(leak, 0.05, leak <= 0.05, "share of never-taught answers", n=48, questions=never),
        "context_override": gate(None, 0.95, True, "no slot memories to override"),
        "sanity": gate(0.3, 1.0, True, finite=True, layer_norms_within_bound=True, not_degenerate=True),
    }
    m: dict[str, Any] = {
        "general_bpb": bpb,
        "general_bpb_base": 1.19,
        "acquisition": acq_v,
        "acquisition_current": 0.0,
        "abstention": abstention,
        "abstention_base": 0.92,
        "leak": leak,
        "near_misses": 0,
    }
    if ret_v is not None:
        m["retention"], m["retention_current"] = ret_v, 1.0
    if docs is not None:
        m["general_bpb_docs"] = docs
    return {"gates": gates, "measurements": m, "passed": all(g["passed"] for g in gates.values())}


def make_home(tmp_path: Path) -> Path:
    ckpt = write_tiny_checkpoint(tmp_path / "ckpt", seed=0)
    home = tmp_path / "home"
    init_data_dir(home, model_path=ckpt)
    return home


def night(dd, parent: int, make_eval, *, promote: bool) -> tuple[int, int, dict[str, Any]]:
    """One recorded night: a cycle through reflecting/tuning/evaluating, its candidate generation with
    eval.json, then promoted or rejected together with the cycle's final state."""
    store = dd.generations
    with dd.db.write() as s:
        cid = cycles.create_cycle(s, "manual", parent_generation_id=parent).id
        for status in ("reflecting", "tuning", "evaluating"):
            cycles.transition(s, cid, status)
    ev = make_eval(cid)
    manifest = store.read_manifest(0)
    gen = store.create_generation(
        state=store.load_generation(parent).state,
        parent_id=parent,
        cycle_id=cid,
        base_model_id=manifest["base_model"]["id"],
        base_model_sha256=manifest["base_model"]["sha256"],
        model_config=manifest["model_config"],
        eval_result=ev,
        reason=f"cycle {cid} candidate",
    )
    final = "promoted" if promote else "rejected"

    def finish(s) -> None:
        cycles.transition(s, cid, final, result={"gates": ev["gates"]})

    if promote:
        store.promote(gen.id, reason=f"cycle {cid}: every gate passed", in_transaction=finish)
    else:
        store.reject(gen.id, reason=f"cycle {cid}: gates failed: leak", in_transaction=finish)
    return cid, gen.id, ev


def four_nights(home: Path) -> dict[str, Any]:
    """Nights 1, 2 promoted; night 3 rejected (leak); night 4 promoted from generation 2. Memory-days are
    the cycle ids. Returns the cycle ids, generation ids and eval.json of each night."""
    out: dict[str, Any] = {}
    with open_data_dir(home) as dd:
        c1, g1, e1 = night(dd, 0, lambda c: eval_result(rows(c, 2, 3), []), promote=True)
        c2, g2, e2 = night(dd, g1, lambda c: eval_result(rows(c, 2, 2), rows(c1, 3, 3)), promote=True)
        grandma = [("What is my grandmother called?", "Ana")] + [
            (f"Who is my colleague number {k}?", "Oslo") for k in range(3)
        ]
        c3, g3, e3 = night(
            dd,
            g2,
            lambda c: eval_result(rows(c, 1, 2), rows(c1, 2, 3) + rows(c2, 1, 2), leaks=grandma),
            promote=False,
        )
        c4, g4, e4 = night(
            dd,
            g2,
            lambda c: eval_result(
                rows(c, 4, 4), rows(c1, 1, 3) + rows(c2, 2, 2) + rows(c3, 0, 2), docs=[1.0, 1.2, 1.6]
            ),
            promote=True,
        )
    out.update(cycles=[c1, c2, c3, c4], gens=[g1, g2, g3, g4], evals=[e1, e2, e3, e4])
    return out


@pytest.fixture
def home(tmp_path) -> Path:
    return make_home(tmp_path)


# ---- checks on pages -------------------------------------------------------------------------------------


def assert_self_contained(page: str) -> list[bytes]:
    """No external reference, no script, and every <img> a PNG data: URI that decodes; returns the PNGs."""
    from PIL import Image

    assert page.lstrip().lower().startswith("<!doctype html>")
    tags = Tags(page).tags
    names = {tag for tag, _ in tags}
    assert not names & {"script", "link", "iframe", "object", "embed"}, names
    for tag, attrs in tags:
        for key in ("src", "href"):
            value = (attrs.get(key) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (tag, attrs)
    pngs = []
    for src in (attrs.get("src") or "" for tag, attrs in tags if tag == "img"):
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix), src[:60]
        data = base64.b64decode(src[len(prefix) :], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.format == "PNG" and im.width >= 200 and im.height >= 100
        pngs.append(data)
    return pngs


def element_text(page: str, element_id: str) -> str:
    m = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.DOTALL)
    assert m, f"no element with id {element_id!r}"
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", m.group(2)))


# ---- history ---------------------------------------------------------------------------------------------


def test_history_matrix_and_forgetting_metrics_match_a_hand_computation(home):
    run = four_nights(home)
    c1, c2, c3, c4 = run["cycles"]
    g1, g2, g3, g4 = run["gens"]
    data = _history_data(home)
    assert json.loads(json.dumps(data)) == data  # what `sleepd eval report --all --json` prints

    mx = data["matrix"]
    assert mx["generations"] == [g1, g2, g3, g4]
    assert mx["status"] == ["promoted", "promoted", "rejected", "promoted"]
    assert mx["days"] == [c1, c2, c3, c4]
    expected = [
        [2 / 3, None, None, None],
        [1.0, 1.0, None, None],
        [2 / 3, 1 / 2, 1 / 2, None],
        [1 / 3, 1.0, 0.0, 1.0],
    ]
    assert mx["R"] == [[pytest.approx(v) if v is not None else None for v in row] for row in expected]
    assert mx["n"] == [[3, 0, 0, 0], [3, 2, 0, 0], [3, 2, 2, 0], [3, 2, 2, 4]]

    # The lineage in use is 1 -> 2 -> 4 (night 3 was rejected): its square part is days 1, 2, 4.
    sq = data["square"]
    assert (sq["generations"], sq["days"], sq["left_out"]) == ([g1, g2, g4], [c1, c2, c4], [])
    assert sq["R"] == [
        [pytest.approx(2 / 3), None, None],
        [1.0, 1.0, None],
        [pytest.approx(1 / 3), 1.0, 1.0],
    ]
    # ACC = (1/3 + 1 + 1) / 3; BWT = ((1/3 - 2/3) + (1 - 1)) / 2; forgetting = ((1 - 1/3) + (1 - 1)) / 2
    m = data["metrics"]
    assert m["acc"] == pytest.approx(7 / 9)
    assert m["bwt"] == pytest.approx(-1 / 6)
    assert m["forgetting"] == pytest.approx(1 / 3)

    sr = data["series"]
    assert sr["generation"] == [g1, g2, g3, g4]
    assert sr["general_bpb_base"] == [1.19] * 4
    assert sr["general_bpb_mean"] == [None, None, None, pytest.approx((1.0 + 1.2 + 1.6) / 3)]
    assert sr["general_bpb_median"] == [None, None, None, pytest.approx(1.2)]
    assert sr["leak"] == [0.0, 0.0, pytest.approx(4 / 48), 0.0]
    assert sr["abstention_base"] == [0.92] * 4
    assert [e["action"] for e in data["timeline"]] == ["promote", "promote", "reject", "promote"]
    assert data["current"] == g4 and data["lineage"] == [0, g1, g2, g4]
    assert data["summary"].startswith(
        "4 nights made a candidate: promoted 3, rejected 1. Generation 4 is in use."
    )
    assert "78% of the questions (ACC)" in data["summary"] and "-17 points" in data["summary"]


def test_a_rollback_moves_the_metrics_to_the_lineage_in_use(home):
    run = four_nights(home)
    g1, g2, _, g4 = run["gens"]
    with open_data_dir(home) as dd:
        dd.generations.rollback(to=g2, reason="answers got worse")
        data = history_data(dd)  # an open DataDir works as well as a path
    assert data["current"] == g2
    assert data["square"]["generations"] == [g1, g2]
    m = data["metrics"]
    assert m["acc"] == pytest.approx(1.0)
    assert m["bwt"] == pytest.approx(1 / 3)
    assert m["forgetting"] == pytest.approx(-1 / 3)
    assert [e["action"] for e in data["timeline"]][-1] == "rollback"
    assert data["timeline"][-1]["reason"] == "answers got worse"
    rolled = {g["id"]: g["rolled_back"] for g in data["generations"]}
    assert rolled[g4] is True and rolled[g2] is False
    assert "1 rollback" in data["summary"] and f"Generation {g2} is in use" in data["summary"]


def test_history_page_is_self_contained_with_every_plot(home):
    four_nights(home)
    path = _write_history(home)
    assert path == home / "reports" / "history.html"
    page = path.read_text("utf-8")
    pngs = assert_self_contained(page)
    # heatmap, retention curves, bits/byte, abstention and leak, timeline
    assert len(pngs) == 5
    summary = element_text(page, "summary")
    assert summary == _history_data(home)["summary"]
    assert "ACC, BWT and forgetting" in page and "(1 of 4 generations)" in page
    assert "What is my grandmother called?" not in page  # questions live in the cycle reports, not here
    assert not list(path.parent.glob(".*tmp*"))  # atomic write leaves no temp file


def test_only_generation_zero_gives_a_valid_page_that_says_nothing_yet(home):
    data = _history_data(home)
    assert data["matrix"] == {"generations": [], "status": [], "days": [], "R": [], "n": []}
    assert data["metrics"] == {"acc": None, "bwt": None, "forgetting": None}
    assert data["timeline"] == [] and data["current"] == 0
    assert data["summary"].startswith("Nothing yet")
    page = _write_history(home).read_text("utf-8")
    assert assert_self_contained(page) == []
    assert element_text(page, "summary").startswith("Nothing yet")


def test_one_promoted_night_shows_acc_and_dashes_for_bwt_and_forgetting(home):
    with open_data_dir(home) as dd:
        night(dd, 0, lambda c: eval_result(rows(c, 3, 4), []), promote=True)
    data = _history_data(home)
    assert data["metrics"] == {"acc": pytest.approx(0.75), "bwt": None, "forgetting": None}
    page = _write_history(home).read_text("utf-8")
    assert_self_contained(page)
    assert re.search(r"<td>BWT</td><td>—</td>", page) and re.search(r"<td>forgetting</td><td>—</td>", page)


def test_square_leaves_out_a_day_not_asked_after_a_later_night():
    chain = [{"id": 1, "cycle_id": 1}, {"id": 2, "cycle_id": 2}, {"id": 3, "cycle_id": 3}]
    cell = {(1, 1): 0.5, (2, 1): 1.0, (2, 2): 1.0, (3, 2): 0.5, (3, 3): 1.0}  # day 1 not asked by gen 3
    keep, R, left_out = _square(chain, cell)
    assert [g["id"] for g in keep] == [2, 3]
    assert R == [[1.0, None], [0.5, 1.0]]
    assert left_out == ["day 1 (generation 1): not asked after generation 3"]


# ---- the cycle report ------------------------------------------------------------------------------------


def cycle_report(ev: dict[str, Any], status: str, **kw) -> CycleReport:
    return CycleReport(
        kw.pop("cycle_id", 3), status, "manual", kw.pop("parent", 2), kw.pop("candidate", 3),
        gates=ev["gates"], measurements=ev["measurements"], **kw,
    )  # fmt: skip


def test_rejection_verdict_says_why_in_plain_words_and_what_to_do(home):
    ev = four_nights(home)["evals"][2]
    r = cycle_report(ev, "rejected")
    assert verdict(r) == (
        "Rejected: after tuning, 4 of 48 questions about things never told got a remembered value "
        "(Ana for “What is my grandmother called?”). Your memory is unchanged (generation 2 stays in use); "
        "the facts stay in the bank and are retried tomorrow; `sleepd gen promote 3 --force` takes it anyway."
    )


def test_retention_and_acquisition_failures_are_explained():
    acq = rows(9, 1, 4)
    ret = rows(1, 1, 3)
    ret[1]["near_miss"] = "Sunny"
    ev = eval_result(acq, ret)
    ev["gates"]["retention"]["passed"] = False
    ev["gates"]["acquisition"]["passed"] = False
    ev["measurements"]["acquisition_current"] = 0.25
    text = verdict(cycle_report(ev, "rejected", cycle_id=9, parent=4, candidate=7))
    assert text.startswith(
        "Rejected: it forgot earlier facts: 1 of 3 questions about them answered right, 3 before tonight "
        "(Sunny for value1-1); it learned too little: 1 of 4 questions about tonight's facts answered right "
        "(needs 50% and more than the 1 it knew before). Your memory is unchanged (generation 4 stays in use)"
    )


def test_promoted_and_skipped_verdicts(tmp_path):
    ev = eval_result(rows(5, 5, 6), rows(1, 4, 4))
    assert (
        verdict(cycle_report(ev, "promoted"))
        == "Promoted: learned 5 of 6 new facts, kept all 4 earlier ones."
    )
    first = eval_result(rows(1, 2, 2), [])
    assert verdict(cycle_report(first, "promoted")) == (
        "Promoted: learned 2 of 2 new facts, there was nothing earlier to keep yet."
    )
    skipped = CycleReport(7, "skipped", "schedule", 2, None, notes=["nothing new worth keeping"])
    assert verdict(skipped) == "Nothing new worth keeping tonight; your memory is unchanged."
    page = write_report(skipped, tmp_path).with_suffix(".html")
    assert element_text(page.read_text("utf-8"), "verdict") == verdict(skipped)


def test_report_html_holds_the_verdict_gates_decisions_items_evidence_and_curve(tmp_path):
    ev = eval_result(rows(3, 1, 2), rows(1, 2, 3), leaks=[("What is my grandmother called?", "Ana")] * 4)
    ev["gates"]["acquisition"]["details"]["not_learnable"] = [
        {"memory_id": 12, "value": "Zyx", "question": "What is the name of my boat?"}
    ]
    hostile = "<script>alert('x')</script> & <img src=https://example.invalid/x.png>"
    r = cycle_report(
        ev,
        "rejected",
        kept=["My sister is called Ana.", hostile],
        deferred=["My dentist is Dr Smith."],
        redactions={"api_key": 1, "email": 2},
        tune={"steps": 24, "final_loss": 0.5},
        loss_curve=[(i, 3.0 / (i + 1)) for i in range(24)],
        val_curve=[(8, 1.0), (16, 0.6), (24, 0.5)],
        decisions=decision_summary(
            [
                (True, ["kept: stated fact 1 of 3 tonight"]),
                (True, ["kept: stated fact 2 of 3 tonight"]),
                (False, ["never kept"]),
                (False, ["obsolete: a later message changes city to Oslo"]),
                (False, ["deferred: over tonight's capacity of 3 facts; first in line next night"]),
            ]
        ),
    )
    md = write_report(r, tmp_path / "cycles" / "3")
    assert md.name == "report.md"
    text = md.read_text("utf-8")
    for section in (
        "## Gates",
        "## Missed questions",
        "## Leaks",
        "## Not learnable",
        "## Deferred",
        "## Kept",
    ):
        assert section in text
    assert text == markdown(r)

    page = (md.parent / "report.html").read_text("utf-8")
    pngs = assert_self_contained(page)  # also: the hostile kept text added no <img> and no external src
    assert len(pngs) == 1
    assert element_text(page, "verdict") == verdict(r).replace("`", "")  # commands shown as <code>
    assert "<code>sleepd gen promote 3 --force</code>" in page
    assert page.index('id="verdict"') < page.index("<h2>Gates</h2>")
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;img src=https://example.invalid" in page
    )
    for name in ("general", "retention", "acquisition", "abstention", "leak", "context_override", "sanity"):
        assert f"<td>{name}</td>" in page
    assert "95% interval 0.79–0.96 over 48 questions" in page
    assert "Kept 2, dropped 2, deferred 1." in page
    assert "<td>kept: stated fact N of N tonight</td><td>2</td>" in page
    assert "Oslo" not in element_text(page, "verdict") and "changes city to …" in page
    assert "<td>api_key</td><td>1</td>" in page and "<td>email</td><td>2</td>" in page
    assert "My dentist is Dr Smith." in page and "Zyx" in page and "What is the name of my boat?" in page


def test_decision_summary_counts_and_strips_values():
    d = decision_summary(
        [
            (True, ["small talk removed", "kept: rank 1 of 9 by density"]),
            (True, ["kept: rank 4 of 9 by density"]),
            (False, ["over budget (10+5 > 12 tokens)"]),
            (False, ["near-duplicate of memory #4 (cosine 0.93): merged"]),
            (False, ["near-duplicate of memory #7 (cosine 0.91): merged"]),
            (False, ["deferred: over tonight's capacity of 3 facts; first in line next night"]),
        ]
    )
    assert d == {
        "kept": 2,
        "dropped": 3,
        "deferred": 1,
        "kept_reasons": [["kept: rank N of N by density", 2]],
        "dropped_reasons": [["near-duplicate of memory #…: merged", 2], ["over budget", 1]],
    }
    assert reason_kind("changes city: Bergen -> Oslo") == "changes city"


def test_cycle_report_keeps_its_positional_constructor():
    r = CycleReport(1, "running", "manual", 0, None)
    assert (r.decisions, r.error, r.kept) == ({}, None, [])
    full = CycleReport(
        1, "promoted", "manual", 0, 1, ["a"], ["b"], {"email": 1}, False, {}, {}, {}, [], [], []
    )
    assert full.deferred == ["b"] and full.redactions == {"email": 1}
    assert verdict(r).startswith("In progress")


def test_nothing_learnable_and_failed_cycles_read_plainly():
    ev = eval_result(rows(2, 1, 1), [])
    ev["gates"]["acquisition"] = gate(
        None, 0.5, False, "nothing to acquire tonight", not_learnable=[{"memory_id": 3, "value": "Zyx"}]
    )
    text = verdict(cycle_report(ev, "rejected", parent=1, candidate=None))
    assert text == (
        "Rejected: there was nothing it could learn tonight (1 value not learnable by this model). "
        "Your memory is unchanged (generation 1 stays in use); the facts stay in the bank and are retried "
        "tomorrow."
    )
    failed = CycleReport(5, "failed", "schedule", 1, None, error="out of memory while tuning")
    assert verdict(failed) == (
        "Failed: out of memory while tuning. Your memory is unchanged; tonight's messages are reflected on "
        "again by the next cycle."
    )


def _history_data(home):
    with open_data_dir(home) as dd:
        return history_data(dd)


def _write_history(home):
    with open_data_dir(home) as dd:
        return write_history(dd)

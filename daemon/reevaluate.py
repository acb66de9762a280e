"""Re-evaluating a memory generation on today's suites (`sleepd eval run`).

The gates measured a generation once, on the night it was made. Since then the bank has grown, facts were
forgotten or superseded, and the never-taught questions changed with it. `evaluate_generation` runs the
same gates on the same model, against the current generation and the base, with the suites the bank gives
now: the generation's own night's memories count as "tonight", every other active memory as "earlier".
The result adds its accuracy per memory-day (the row of the accuracy matrix R[g][j] for this generation)
and is written to reports/eval-generation-<id>.json; the generation's own files are never touched (their
sha256s are in its manifest).
"""

from __future__ import annotations

from typing import Any

from daemon.init import DataDir
from daemon.model_path import load_base_model
from eval.gates import evaluate_gates
from eval.suites import gate_suites
from memory.errors import InputError
from memory.generations import current_generation_id, get_generation
from model.fileio import atomic_write_json
from tuner.lora import apply_adapter


def evaluate_generation(dd: DataDir, gen_id: int | None = None) -> dict[str, Any]:
    """Run every gate on generation `gen_id` (default: the current one); see the module docstring."""
    with dd.db.read() as s:
        if gen_id is None:
            gen_id = current_generation_id(s)
            if gen_id is None:
                raise InputError("no current generation: run `sleepd init`")
        cycle_id = get_generation(s, gen_id).cycle_id  # NotFound (exit 2) for an unknown id
        current_id = current_generation_id(s)
    bundle = load_base_model(dd.config.model)
    model = bundle.model
    store = dd.generations

    def student(gid: int):
        loaded = store.load_generation(gid)
        m = apply_adapter(model, loaded.adapter_dir) if loaded.kind == "lora" else model
        return m, (loaded.state or model.zero_state(1)).to(dtype=model.dtype)

    cand_m, cand = student(gen_id)
    cur_m, cur = student(current_id if current_id is not None else gen_id)
    _, base = student(0)
    with dd.db.read() as s:
        suites = gate_suites(
            s, cycle_id if cycle_id is not None else -1, seed=dd.config.tuner.seed, cfg=dd.config.gates
        )
    report = evaluate_gates(
        model,
        bundle.tokenizer,
        candidate=cand,
        current=cur,
        base=base,
        suites=suites,
        cfg=dd.config.gates,
        candidate_model=cand_m,
        current_model=cur_m,
    )
    gates = report.to_json()
    by_day: dict[str, dict[str, float | int]] = {}
    for name in ("acquisition", "retention"):
        for row in gates[name].get("details", {}).get("questions", []):
            day = by_day.setdefault(str(row.get("cycle_id")), {"correct": 0, "questions": 0})
            day["correct"] += bool(row["correct"])
            day["questions"] += 1
    for day in by_day.values():
        day["accuracy"] = day["correct"] / day["questions"]
    out = {
        "generation_id": gen_id,
        "current_generation_id": current_id,
        "passed": report.passed,
        "failed": report.failed(),
        "gates": gates,
        "measurements": report.measurements_json(),
        "by_day": by_day,
    }
    path = dd.paths.root / "reports" / f"eval-generation-{gen_id}.json"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_json(path, out)
    out["path"] = str(path)
    return out

"""Generations: files and manifest, promote/rollback/pin/gc/diff, integrity and fallback, the watcher."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta

import pytest

from memory import bank, cycles
from memory.db import Database
from memory.errors import InputError, IntegrityFailure, NotFound
from memory.events import list_events
from memory.faults import ENV_VAR, InjectedFault
from memory.generations import (
    current_generation_id,
    generation_list_json,
    memories_in_generation,
)
from memory.schema import utcnow
from memory.watcher import CurrentGenerationWatcher
from model.state import State


def current(store) -> int | None:
    with store.db.read() as s:
        return current_generation_id(s)


def link(store) -> str:
    return os.readlink(store.current_link)


def flip_byte(path, offset=-5):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_generation_zero_layout_and_manifest(store, tiny_cfg):
    gdir = store.root / "0"
    assert sorted(p.name for p in gdir.iterdir()) == ["eval.json", "manifest.json", "state.safetensors"]
    m = json.loads((gdir / "manifest.json").read_text())
    assert m["id"] == 0 and m["parent"] is None and m["kind"] == "state"
    assert m["base_model"] == {"id": "tiny", "sha256": "ab" * 32}
    assert m["model_config"]["n_embd"] == tiny_cfg.n_embd
    assert set(m["files"]) == {"eval.json", "state.safetensors"} and m["sleepd_version"]
    assert current(store) == 0 and link(store) == "0"
    assert State.load(gdir / "state.safetensors").equal(State.zeros(tiny_cfg))


def test_list_json_has_exactly_the_contract_keys(store, new_gen):
    g1 = new_gen(0, 1)
    with store.db.read() as s:
        rows = generation_list_json(s)
    assert [list(r) for r in rows] == [["id", "parent", "created_at", "status", "current", "pinned"]] * 2
    assert rows[1] == {
        **rows[1],
        "id": g1,
        "parent": 0,
        "status": "candidate",
        "current": False,
        "pinned": False,
    }
    assert rows[0]["current"] is True and rows[0]["status"] == "base"


def test_create_records_configs_cycle_and_event(store, make_state, db):
    with db.write() as s:
        c = cycles.create_cycle(s, "manual")
    gen = store.create_generation(
        state=make_state(3),
        parent_id=0,
        cycle_id=c.id,
        base_model_id="tiny",
        base_model_sha256="ab" * 32,
        tuner_config={"lr": 0.01},
        objective_config={"kl": 1.0},
        eval_result={"acquisition": 0.7},
        reason="nightly",
    )
    m = store.read_manifest(gen.id)
    assert (m["tuner"], m["objective"], m["cycle_id"]) == ({"lr": 0.01}, {"kl": 1.0}, c.id)
    assert store.read_eval(gen.id) == {"acquisition": 0.7}
    with db.read() as s:
        assert cycles.get_cycle(s, c.id).candidate_generation_id == gen.id
        ev = list_events(s, generation_id=gen.id)
        assert ev[0].action == "generation.create" and ev[0].reason == "nightly"


def test_promote_rollback_promote_round_trip_is_bit_identical(store, new_gen, make_state):
    g1 = new_gen(0, 1)
    store.promote(g1, reason="first")
    g2 = new_gen(g1, 2)
    sw = store.promote(g2)
    assert (sw.from_id, sw.to_id, sw.changed) == (g1, g2, True)
    loaded = store.load_current_state()
    assert loaded.generation_id == g2 and loaded.state.equal(make_state(2))
    assert store.rollback().to_id == g1
    assert current(store) == g1 and link(store) == str(g1)
    assert store.load_current_state().state.equal(make_state(1))
    store.promote(g2)
    again = store.load_current_state()
    assert again.generation_id == g2 and again.state.equal(loaded.state)  # torch.equal: bit-identical
    assert store.rollback(to=0).to_id == 0
    assert store.load_current_state().state.equal(State.zeros(store_cfg(store)))


def store_cfg(store):
    from model.config import RWKV7Config

    return RWKV7Config.from_dict(store.read_manifest(0)["model_config"])


def test_switch_events_name_actor_reason_and_direction(store, new_gen, db):
    g1 = new_gen(0, 1)
    store.promote(g1, reason="looks good", actor="cli:gen promote")
    store.rollback(reason="bad answers", actor="cli:gen rollback")
    with db.read() as s:
        ev = list_events(s, limit=2)
    assert [(e.action, e.actor, e.reason, e.details) for e in ev] == [
        ("generation.rollback", "cli:gen rollback", "bad answers", {"from": g1, "to": 0}),
        ("generation.promote", "cli:gen promote", "looks good", {"from": 0, "to": g1}),
    ]


def test_bad_input_is_refused_with_one_line(store, new_gen):
    with pytest.raises(NotFound, match="no generation 42"):
        store.promote(42)
    with pytest.raises(InputError, match="generation 0 has no parent; cannot roll back past it"):
        store.rollback()
    g1 = new_gen(0, 1)
    store.promote(g1)
    g2 = new_gen(g1, 2)
    with pytest.raises(InputError, match=f"generation {g2} is not an ancestor"):
        store.rollback(to=g2)
    with pytest.raises(InputError, match="already current"):
        store.rollback(to=g1)
    with pytest.raises(NotFound):
        store.rollback(to=99)
    store.reject(g2, reason="retention gate")
    with pytest.raises(InputError, match=f"generation {g2} was rejected by its gates; use --force"):
        store.promote(g2)
    assert current(store) == g1
    assert store.promote(g1).changed is False  # promoting the current one is a no-op
    sw = store.promote(g2, force=True)
    assert sw.changed and current(store) == g2
    with store.db.read() as s:
        assert list_events(s, limit=1)[0].details["forced"] is True


def test_a_corrupt_generation_is_never_promoted(store, new_gen):
    g1 = new_gen(0, 1)
    flip_byte(store.root / str(g1) / "state.safetensors")
    with pytest.raises(IntegrityFailure, match=r"state\.safetensors: sha256 mismatch"):
        store.promote(g1)
    assert current(store) == 0 and link(store) == "0"


def test_in_transaction_hook_commits_with_the_pointer_or_not_at_all(store, new_gen, db):
    with db.write() as s:
        c = cycles.create_cycle(s, "manual")
        for st in ("reflecting", "tuning", "evaluating"):
            cycles.transition(s, c.id, st)
    g1 = new_gen(0, 1, cycle_id=c.id)

    def boom(s):
        cycles.transition(s, c.id, "promoted")
        raise RuntimeError("orchestrator failed")

    with pytest.raises(RuntimeError):
        store.promote(g1, in_transaction=boom)
    assert current(store) == 0
    with db.read() as s:
        assert cycles.get_cycle(s, c.id).status == "evaluating"
    store.promote(g1, in_transaction=lambda s: cycles.transition(s, c.id, "promoted"))
    with db.read() as s:
        assert cycles.get_cycle(s, c.id).status == "promoted" and current_generation_id(s) == g1


def test_injected_fault_before_commit_changes_nothing(store, new_gen, monkeypatch):
    g1 = new_gen(0, 1)
    monkeypatch.setenv(ENV_VAR, "promote:before_db_commit:raise")
    with pytest.raises(InjectedFault):
        store.promote(g1)
    monkeypatch.delenv(ENV_VAR)
    assert current(store) == 0 and link(store) == "0"
    with pytest.raises(ValueError, match="unknown fault point"):
        from memory.faults import fault_point

        fault_point("promote", "no_such_step")


def test_pin_unpin(store, new_gen, db):
    g1 = new_gen(0, 1)
    assert store.pin(g1, reason="keep forever") is True
    assert store.pin(g1) is False
    with db.read() as s:
        assert generation_list_json(s)[1]["pinned"] is True
        assert list_events(s, limit=1)[0].action == "generation.pin"
    assert store.unpin(g1) is True
    with pytest.raises(NotFound):
        store.pin(77)


def test_gc_keeps_what_it_must_and_removes_the_rest_only_with_yes(store, new_gen, db):
    # 0 <- 1 <- 2 <- 3 <- 4 (current); 5 rejected child of 4; 6 rejected but recent; 1 pinned.
    ids = [0]
    for seed in range(1, 5):
        ids.append(new_gen(ids[-1], seed))
        store.promote(ids[-1])
    rejected_old = new_gen(4, 5)
    store.reject(rejected_old)
    rejected_new = new_gen(4, 6)
    store.reject(rejected_new)
    store.pin(1)
    (store.root / "99").mkdir()  # an interrupted create: files, no row
    (store.root / ".tmp-7-1234").mkdir()
    later = utcnow() + timedelta(days=10)
    with db.write() as s:  # age the first rejected one
        from memory.generations import get_generation

        get_generation(s, rejected_old).created_at = utcnow() - timedelta(days=30)
    kw = dict(keep_ancestors=1, rejected_after_days=14, now=later)
    plan = store.gc(**kw)
    assert plan.dry_run and dict(plan.remove) == {
        2: "promoted, not current and beyond 1 ancestors",
        rejected_old: "rejected, older than 14 days",
    }
    assert {i for i, _ in plan.keep} == {0, 1, 3, 4, rejected_new}
    assert plan.orphans == [".tmp-7-1234", "99"]
    assert (store.root / "2").is_dir()  # dry run: nothing touched
    done = store.gc(dry_run=False, **kw)
    assert done.remove == plan.remove
    assert not (store.root / "2").exists() and not (store.root / str(rejected_old)).exists()
    assert not (store.root / "99").exists() and not (store.root / ".tmp-7-1234").exists()
    assert all(r.ok for r in store.verify())  # removed ones are no longer checked
    assert {r.generation_id for r in store.verify()} == {0, 1, 3, 4, rejected_new}
    with db.read() as s:
        assert len(generation_list_json(s)) == 7  # rows stay as history
    with pytest.raises(InputError, match="removed by `gen gc`"):
        store.rollback(to=2)
    assert store.gc(dry_run=False, **kw).remove == []


def test_diff_reports_layers_heads_and_memories(store, new_gen, make_state, db):
    a = store.create_generation(
        state=make_state(1), parent_id=0, base_model_id="t", base_model_sha256="0" * 64
    ).id
    sb = make_state(1)
    sb.wkv[1, 0, 1] += 3.0  # change exactly layer 1, head 1
    with db.write() as s:
        c = cycles.create_cycle(s, "manual")
        m_new = bank.add_memory(s, "Ana likes tea.", cycle_id=c.id).id
    b = store.create_generation(
        state=sb, parent_id=a, cycle_id=c.id, base_model_id="t", base_model_sha256="0" * 64
    ).id
    d = store.diff(a, b)
    assert [x["layer"] for x in d["layers"]] == [0, 1]
    assert d["layers"][0]["cosine"] == pytest.approx(1.0) and d["layers"][0]["change"] == 0.0
    assert d["layers"][1]["cosine"] < 1.0 and d["layers"][1]["relative_change"] > 0
    assert (d["heads"][0]["layer"], d["heads"][0]["head"]) == (1, 1)
    assert d["heads"][1]["change"] == 0.0
    assert [m["id"] for m in d["memories"]["added"]] == [m_new] and d["memories"]["removed"] == []
    back = store.diff(b, a)
    assert [m["id"] for m in back["memories"]["removed"]] == [m_new]
    json.dumps(d)  # JSON-ready
    zero = store.diff(0, a)
    assert zero["layers"][0]["cosine"] is None  # the zero state has no direction


def test_memory_membership_follows_lineage_forget_and_supersede(store, new_gen, db):
    with db.write() as s:
        c1 = cycles.create_cycle(s, "manual")
        m1 = bank.add_memory(s, "Ana lives in Paris.", cycle_id=c1.id)
        m2 = bank.add_memory(s, "Bo likes jazz.", cycle_id=c1.id)
        cycles.transition(s, c1.id, "skipped")
    g1 = new_gen(0, 1, cycle_id=c1.id)
    store.promote(g1)
    with db.write() as s:
        c2 = cycles.create_cycle(s, "manual")
        m3 = bank.add_memory(s, "Ana lives in Berlin.", cycle_id=c2.id, supersedes=[m1.id])
        bank.forget(s, m2.id, actor="test")
        cycles.transition(s, c2.id, "skipped")
    g2 = new_gen(g1, 2, cycle_id=c2.id)
    with db.read() as s:
        assert memories_in_generation(s, 0) == set()
        assert memories_in_generation(s, g1) == {m1.id, m2.id}  # g1 predates the forget
        assert memories_in_generation(s, g2) == {m3.id}


def test_load_falls_back_to_newest_valid_ancestor_loudly(store, new_gen, make_state, db, caplog):
    g1 = new_gen(0, 1)
    store.promote(g1)
    g2 = new_gen(g1, 2)
    store.promote(g2)
    flip_byte(store.root / str(g2) / "state.safetensors")
    res = store.verify(g2)[0]
    assert not res.ok and res.problems == ["state.safetensors: sha256 mismatch"]
    with caplog.at_level("ERROR"):
        loaded = store.load_current_state()
    assert (loaded.generation_id, loaded.current_id, loaded.is_fallback) == (g1, g2, True)
    assert loaded.state.equal(make_state(1))
    assert loaded.fallback_from[0][0] == g2
    assert "NOT USABLE" in caplog.text
    with db.read() as s:
        ev = list_events(s, action="generation.load_fallback")[0]
        assert (ev.generation_id, ev.details["current"], ev.details["served"]) == (g1, g2, g1)
        assert current_generation_id(s) == g2  # the pointer is not changed by loading
    assert (store.root / str(g2) / "state.safetensors").exists()  # nothing deleted
    (store.root / str(g1) / "manifest.json").write_text("{")
    (store.root / "0" / "state.safetensors").unlink()
    with pytest.raises(IntegrityFailure, match="no usable generation"):
        store.load_current_state()


def test_reconcile_repairs_the_symlink_from_the_db(store, new_gen, db):
    g1 = new_gen(0, 1)
    store.promote(g1)
    os.unlink(store.current_link)
    os.symlink("0", store.current_link)
    os.symlink(str(g1), store.root / ".current.tmp-999")
    res = store.reconcile()
    assert res.repaired and res.link_before == "0" and link(store) == str(g1)
    assert res.removed_temp_links == [".current.tmp-999"]
    os.unlink(store.current_link)
    assert store.reconcile().repaired and link(store) == str(g1)
    assert store.reconcile().repaired is False
    with db.read() as s:
        assert list_events(s, action="generation.reconcile")[0].details["link_before"] is None


def test_lora_generations_verify_and_load_their_adapter(store, tmp_path):
    src = tmp_path / "adapter_src"
    (src / "sub").mkdir(parents=True)
    (src / "adapter_config.json").write_text('{"r": 4}')
    (src / "sub" / "adapter_model.safetensors").write_bytes(b"\x00" * 100)
    gen = store.create_generation(adapter_dir=src, parent_id=0, base_model_id="t", base_model_sha256="0" * 64)
    assert gen.kind == "lora"
    assert set(store.read_manifest(gen.id)["files"]) == {
        "adapter/adapter_config.json",
        "adapter/sub/adapter_model.safetensors",
        "eval.json",
    }
    loaded = store.load_generation(gen.id)
    assert loaded.state is None and (loaded.adapter_dir / "adapter_config.json").read_text() == '{"r": 4}'
    flip_byte(store.root / str(gen.id) / "adapter" / "sub" / "adapter_model.safetensors", 3)
    assert store.verify(gen.id)[0].problems == ["adapter/sub/adapter_model.safetensors: sha256 mismatch"]


def test_update_eval_keeps_verify_green(store, new_gen):
    g1 = new_gen(0, 1)
    store.update_eval(g1, {"retention": 0.9})
    assert store.read_eval(g1) == {"retention": 0.9}
    assert store.verify(g1)[0].ok
    (store.root / str(g1) / "notes.txt").write_text("hi")
    res = store.verify(g1)[0]
    assert res.ok and res.warnings == ["notes.txt: not in the manifest"]
    (store.root / str(g1) / "manifest.json").write_text(json.dumps({"id": g1, "files": {}}))
    res = store.verify(g1)[0]
    assert not res.ok and "manifest.json: sha256 differs from the DB record" in res.problems


def test_watcher_sees_a_switch_made_by_another_connection(store, new_gen, db):
    g1 = new_gen(0, 1)
    seen: list[tuple] = []
    got = threading.Event()
    watcher = CurrentGenerationWatcher(
        db, lambda old, new: (seen.append((old, new)), got.set()), interval=0.02
    )
    assert watcher.last == 0 and watcher.poll_once() is False
    watcher.start()
    try:
        other = Database(db.path)  # as if `sleepd gen promote` ran in another process
        from memory.generations import GenerationStore

        GenerationStore(other, store.root).promote(g1)
        other.dispose()
        assert got.wait(5)
    finally:
        watcher.stop()
    assert seen == [(0, g1)]

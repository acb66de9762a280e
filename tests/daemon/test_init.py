"""`sleepd init`: creates everything once, repairs what is missing, never overwrites or deletes."""

from __future__ import annotations

import os
import stat

import pytest
from support import TINY

from daemon.config import load_config
from daemon.init import BaseModel, init_data_dir, inspect_base_model, open_data_dir, read_token
from daemon.paths import DataPaths
from memory.errors import InputError
from memory.generations import current_generation_id
from model.state import State


def fake(path=None):
    return BaseModel(path=str(path or "/models/tiny.pth"), model_id="tiny", sha256="ef" * 32, config=TINY)


def snapshot(root):
    return {
        p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else os.readlink(p))
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and not p.name.startswith("sleepd.db") and p.name != ".lock"
    }


def test_init_creates_everything(tmp_path):
    d = tmp_path / "home"
    res = init_data_dir(d, inspect=fake)
    assert res.created == [
        "data directory",
        "config.toml",
        "sleepd.db",
        "token",
        "generations/",
        "cycles/",
        "generation 0",
    ]
    assert res.generation == 0
    paths = DataPaths(d)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.token.stat().st_mode) == 0o600
    assert len(read_token(paths)) >= 40
    cfg = load_config(paths.config)
    assert (cfg.model.path, cfg.model.sha256) == ("/models/tiny.pth", "ef" * 32)
    assert os.readlink(paths.current_link) == "0"
    with open_data_dir(d) as dd:
        assert all(r.ok for r in dd.generations.verify())
        loaded = dd.generations.load_current_state()
        assert loaded.generation_id == 0 and loaded.state.equal(State.zeros(TINY))
        assert loaded.manifest["base_model"] == {"id": "tiny", "sha256": "ef" * 32}


def test_second_init_is_a_no_op_and_changes_nothing(tmp_path):
    init_data_dir(tmp_path, inspect=fake)
    before = snapshot(tmp_path)
    res = init_data_dir(tmp_path, inspect=fake)
    assert not res.changed and res.notes == ["already initialised; nothing changed"]
    assert snapshot(tmp_path) == before  # token, config, generation files all untouched


def test_init_repairs_what_is_missing_without_touching_the_rest(tmp_path):
    init_data_dir(tmp_path, inspect=fake)
    paths = DataPaths(tmp_path)
    token = read_token(paths)
    os.chmod(paths.token, 0o644)
    os.unlink(paths.current_link)
    config_before = paths.config.read_bytes()
    res = init_data_dir(tmp_path, inspect=fake)
    assert res.repaired == ["token permissions 0o644 -> 0o600", "generations/current -> 0"]
    assert read_token(paths) == token and paths.config.read_bytes() == config_before
    os.unlink(paths.token)
    res = init_data_dir(tmp_path, inspect=fake)
    assert res.created == ["token"] and read_token(paths) != token


def test_init_refuses_conflicts_with_one_line(tmp_path):
    init_data_dir(tmp_path, inspect=fake)
    with pytest.raises(InputError, match=r"already initialised with model /models/tiny\.pth"):
        init_data_dir(tmp_path, model_path="/models/other.pth", inspect=fake)
    (tmp_path / "config.toml").write_text("[server]\nport = 0\n")
    with pytest.raises(InputError, match=r"\[server\] port: expected an integer 1..65535"):
        init_data_dir(tmp_path, inspect=fake)
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(InputError, match="not a directory"):
        init_data_dir(f, inspect=fake)


def test_init_without_a_model_creates_no_generation_yet(tmp_path):
    res = init_data_dir(tmp_path, inspect=lambda p: None)
    assert "generation 0" not in res.created and res.generation is None
    assert "generation 0 not created" in res.notes[0]
    res = init_data_dir(tmp_path, model_path="/models/tiny.pth", inspect=fake)  # later, with a model
    assert res.created == ["generation 0"] and res.generation == 0


def test_init_with_a_real_checkpoint(tmp_path):
    from model.checkpoint import save_pth
    from model.random_init import random_state_dict

    ckpt = tmp_path / "tiny-rwkv7.pth"
    save_pth(random_state_dict(TINY, seed=3), ckpt)
    res = init_data_dir(tmp_path / "home", model_path=ckpt)
    assert res.generation == 0
    with open_data_dir(tmp_path / "home") as dd:
        m = dd.generations.read_manifest(0)
        assert m["base_model"]["id"] == "tiny-rwkv7"
        assert m["model_config"]["n_embd"] == TINY.n_embd
        assert dd.config.model.sha256 == m["base_model"]["sha256"]
        with dd.db.read() as s:
            assert current_generation_id(s) == 0
    ckpt.write_bytes(ckpt.read_bytes() + b"x")  # the model file changed since init
    with pytest.raises(InputError, match="the file changed since init"):
        init_data_dir(tmp_path / "home", model_path=ckpt)
    with pytest.raises(InputError, match="no such model file"):
        inspect_base_model(tmp_path / "missing.pth")


def test_open_data_dir_needs_an_initialised_dir(tmp_path):
    with pytest.raises(InputError, match="run `sleepd init`"):
        open_data_dir(tmp_path / "nothing")

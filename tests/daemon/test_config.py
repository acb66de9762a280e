"""config.toml validation and rendering; data-directory resolution."""

from __future__ import annotations

import dataclasses
import os
import stat
import tomllib
from dataclasses import dataclass, field
from typing import Literal

import pytest

from daemon.config import (
    ConfigError,
    SleepdConfig,
    from_mapping,
    load_config,
    parse_config,
    render_config,
    toml_value,
    write_config,
)
from daemon.paths import DataPaths, resolve_data_dir, runtime_dir


def test_defaults_round_trip_through_the_rendered_file():
    text = render_config()
    assert "# TCP port of the HTTP API." in text and 'host = "127.0.0.1"' in text and "port = 8417" in text
    assert parse_config(tomllib.loads(text)) == SleepdConfig()
    cfg = SleepdConfig()
    assert (cfg.server.host, cfg.server.port, cfg.scheduler.time) == ("127.0.0.1", 8417, "03:00")


def test_non_default_values_round_trip():
    cfg = dataclasses.replace(
        SleepdConfig(),
        server=dataclasses.replace(SleepdConfig().server, host="::1", port=9000),
        model=dataclasses.replace(SleepdConfig().model, path='/m/"odd" näme\\x.pth', sha256="0f" * 32),
    )
    assert parse_config(tomllib.loads(render_config(cfg))) == cfg


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[server]\nport = "x"', 'config.toml: [server] port: expected an integer 1..65535, got "x"'),
        ("[server]\nport = 0", "config.toml: [server] port: expected an integer 1..65535, got 0"),
        ("[server]\nport = 80.5", "config.toml: [server] port: expected an integer 1..65535, got 80.5"),
        (
            "[server]\nprot = 1",
            "config.toml: [server] prot: unknown key (known: host, port, max_body_bytes, max_tokens,",
        ),
        (
            "[serve]\nport = 1",
            "config.toml: unknown section [serve] (known: server, scheduler, model, generations, "
            "reflection, tuner, gates)",
        ),
        ("server = 1", "config.toml: [server]: expected a table, got 1"),
        (
            '[scheduler]\ntime = "3am"',
            'config.toml: [scheduler] time: expected a string, HH:MM (24-hour), got "3am"',
        ),
        ("[scheduler]\nenabled = 1", "config.toml: [scheduler] enabled: expected true or false, got 1"),
        (
            "[scheduler]\nmisfire_grace_hours = -1",
            "[scheduler] misfire_grace_hours: expected a number 0..168",
        ),
        (
            "[scheduler]\nmisfire_grace_hours = nan",
            "[scheduler] misfire_grace_hours: expected a number 0..168",
        ),
        (
            "[generations]\nkeep_ancestors = -1",
            "[generations] keep_ancestors: expected an integer >= 0, got -1",
        ),
        (
            "[generations]\nkeep_ancestors = true",
            "[generations] keep_ancestors: expected an integer >= 0, got true",
        ),
        ('[model]\nsha256 = "XYZ"', '[model] sha256: expected a string, 64 lowercase hex digits, got "XYZ"'),
    ],
)
def test_bad_config_errors_name_the_key(toml, message):
    with pytest.raises(ConfigError) as e:
        parse_config(tomllib.loads(toml))
    assert message in str(e.value)


def test_float_fields_accept_integers():
    assert parse_config({"scheduler": {"misfire_grace_hours": 3}}).scheduler.misfire_grace_hours == 3.0


# A section shaped like the ones reflection/tuner/eval will add: nested tables, Literal, tuples, dicts.
@dataclass(frozen=True)
class Objective:
    kind: Literal["distill", "next_token"] = "distill"
    weights: dict[str, float] = field(default_factory=lambda: {"replay": 0.5})


@dataclass(frozen=True)
class TunerSection:
    lr: float = field(default=0.01, metadata={"help": "Learning rate.", "min": 0.0, "max": 1.0})
    steps: int | None = None
    layers: tuple[int, ...] = (0, 1)
    objective: Objective = field(default_factory=Objective)

    def __post_init__(self):
        if self.steps is not None and self.steps < len(self.layers):
            raise ValueError("steps must be at least the number of layers")


@dataclass(frozen=True)
class ExtendedConfig(SleepdConfig):
    tuner: TunerSection = field(default_factory=TunerSection)


def test_generic_validator_handles_nested_sections():
    cfg = from_mapping(
        ExtendedConfig,
        {
            "tuner": {
                "lr": 0.5,
                "steps": 4,
                "layers": [1, 2],
                "objective": {"kind": "next_token", "weights": {"kl": 1}},
            }
        },
        where="config.toml",
        root=True,
    )
    assert cfg.tuner == TunerSection(
        lr=0.5, steps=4, layers=(1, 2), objective=Objective("next_token", {"kl": 1.0})
    )
    text = "\n".join(
        ["[tuner]", "# Learning rate.", "lr = 0.5", "steps = 4", "layers = [1, 2]", "", "[tuner.objective]"]
    )
    assert text in _render(cfg)
    bad = [
        (
            {"tuner": {"objective": {"kind": "x"}}},
            'config.toml: [tuner.objective] kind: expected one of "distill", "next_token", got "x"',
        ),
        ({"tuner": {"objective": {"colour": 1}}}, "config.toml: [tuner.objective] colour: unknown key"),
        ({"tuner": {"layers": [1, "a"]}}, 'config.toml: [tuner] layers[1]: expected an integer, got "a"'),
        ({"tuner": {"lr": 2}}, "config.toml: [tuner] lr: expected a number 0..1, got 2"),
        ({"tuner": {"steps": 1}}, "config.toml: [tuner]: steps must be at least the number of layers"),
        (
            {"tuner": {"objective": {"weights": {"kl": "big"}}}},
            "[tuner.objective] weights.kl: expected a number",
        ),
    ]
    for data, message in bad:
        with pytest.raises(ConfigError) as e:
            from_mapping(ExtendedConfig, data, where="config.toml", root=True)
        assert message in str(e.value)


def _render(cfg):
    from daemon import config as c

    parts: list[str] = []
    for f in dataclasses.fields(cfg):
        c._render_table(getattr(cfg, f.name), f.name, parts)
    text = "\n".join(parts)
    assert from_mapping(type(cfg), tomllib.loads(text), where="x", root=True) == cfg
    return text


def test_toml_values():
    assert toml_value(True) == "true" and toml_value(1.0) == "1.0" and toml_value(float("inf")) == "inf"
    assert toml_value('a"b\n') == '"a\\"b\\n"' and toml_value([1, "x"]) == '[1, "x"]'
    assert toml_value({"a b": 1}) == '{ "a b" = 1 }'
    assert tomllib.loads("x = " + toml_value("tab\there ünï \\ \x01"))["x"] == "tab\there ünï \\ \x01"


def test_load_and_write_config(tmp_path):
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError, match="not found"):
        load_config(path)
    assert load_config(path, missing_ok=True) == SleepdConfig()
    write_config(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(path) == SleepdConfig()
    with pytest.raises(ConfigError, match="already exists"):
        write_config(path)
    path.write_text("[server\n")
    with pytest.raises(ConfigError, match=r"config\.toml: invalid TOML"):
        load_config(path)
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp files left behind


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("SLEEPD_HOME", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "cli") == tmp_path / "cli"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("SLEEPD_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(None) == tmp_path / "xdg" / "sleepd"
    assert resolve_data_dir("~/x") == resolve_data_dir(os.path.expanduser("~/x"))
    p = DataPaths(tmp_path / "d")
    assert (p.db.name, p.token.name, p.config.name) == ("sleepd.db", "token", "config.toml")
    assert p.current_link == tmp_path / "d" / "generations" / "current" and p.cycle_dir(3).name == "3"


def test_runtime_dir_falls_back_into_the_data_dir(tmp_path):
    xdg = tmp_path / "run"
    xdg.mkdir()
    assert runtime_dir(tmp_path / "d", env={"XDG_RUNTIME_DIR": str(xdg)}) == xdg / "sleepd"
    fallback = runtime_dir(tmp_path / "d", env={})
    assert fallback == tmp_path / "d" / "run" and stat.S_IMODE(fallback.stat().st_mode) == 0o700
    a, b = DataPaths(tmp_path / "a"), DataPaths(tmp_path / "b")
    assert a.lock_file != b.lock_file  # one daemon per data directory

"""config.toml: one frozen dataclass per section, validated strictly.

Every section is a frozen dataclass; `SleepdConfig` has one field per section. To add a section (e.g.
`[tuner]` from `tuner.config.TunerConfig`), add a field to `SleepdConfig`:

    tuner: TunerConfig = field(default_factory=TunerConfig)

Nothing else is needed: `from_mapping` validates any dataclass from its type hints (bool, int, float, str,
Path, Literal[...], X | None, tuple[T, ...], list[T], dict[str, T], nested dataclasses as [section.sub]
tables), and `render_config` writes it with comments. Field metadata, all optional and plain data so that
packages below `daemon` need not import anything from here:

    field(default=0.1, metadata={"help": "one line for the rendered file", "min": 0.0, "max": 1.0,
                                 "pattern": r"^...$", "format": "what the pattern means"})

A `__post_init__` that raises ValueError (cross-field checks) is reported with the section name.

Errors name the key: `config.toml: [server] port: expected an integer 1..65535, got "x"`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from eval.gates import GateConfig
from memory.errors import InputError
from model.fileio import atomic_open
from reflection.config import ReflectionConfig
from tuner.config import TunerConfig

T = TypeVar("T")


class ConfigError(InputError):
    """config.toml is missing, unreadable or invalid; the message names the key."""


# ---- sections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "Address to listen on. Anything but a loopback address exposes your memory."},
    )
    port: int = field(default=8417, metadata={"help": "TCP port of the HTTP API.", "min": 1, "max": 65535})
    max_body_bytes: int = field(
        default=4 * 1024 * 1024,
        metadata={
            "help": "Largest accepted request body in bytes (larger: 413).",
            "min": 1024,
            "max": 1 << 30,
        },
    )
    max_tokens: int = field(
        default=512,
        metadata={
            "help": "Most tokens one chat reply may have; a request asking for more gets this many.",
            "min": 1,
            "max": 1 << 20,
        },
    )
    max_prompt_tokens: int = field(
        default=32768,
        metadata={"help": "Longest accepted chat prompt in tokens (longer: 422).", "min": 16, "max": 1 << 24},
    )
    default_temperature: float = field(
        default=1.0,
        metadata={
            "help": "Sampling temperature when a request gives none (0: greedy).",
            "min": 0.0,
            "max": 2.0,
        },
    )
    default_top_p: float = field(
        default=0.7,
        metadata={"help": "Nucleus sampling top_p when a request gives none.", "min": 0.01, "max": 1.0},
    )
    inference_threads: int = field(
        default=0,
        metadata={
            "help": "torch threads for inference; 0: all cores but one, so the API stays responsive.",
            "min": 0,
            "max": 1024,
        },
    )
    max_queued_requests: int = field(
        default=32,
        metadata={
            "help": "Chat requests waiting for the inference worker before new ones get 429.",
            "min": 1,
        },
    )
    switch_poll_seconds: float = field(
        default=1.0,
        metadata={
            "help": "How often the daemon checks for a promoted or rolled-back generation.",
            "min": 0.05,
            "max": 3600.0,
        },
    )
    shutdown_timeout_seconds: float = field(
        default=10.0,
        metadata={"help": "On SIGTERM, how long in-flight requests may take to finish.", "min": 0.0},
    )


@dataclass(frozen=True)
class SchedulerConfig:
    enabled: bool = field(default=True, metadata={"help": "Run a sleep cycle every night."})
    time: str = field(
        default="03:00",
        metadata={
            "help": "Local time of the nightly cycle.",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
            "format": "HH:MM (24-hour)",
        },
    )
    misfire_grace_hours: float = field(
        default=20.0,
        metadata={
            "help": "A night missed while the machine slept runs once on wake, if within this many hours.",
            "min": 0.0,
            "max": 24.0 * 7,
        },
    )
    overdue_check_minutes: float = field(
        default=5.0,
        metadata={
            "help": "How often to check for a missed night (the scheduler's timer may not see a suspend).",
            "min": 0.1,
            "max": 1440.0,
        },
    )
    cycle_nice: int = field(
        default=10,
        metadata={"help": "Niceness added to the sleep-cycle child process (0..19).", "min": 0, "max": 19},
    )
    cycle_stop_timeout_seconds: float = field(
        default=30.0,
        metadata={
            "help": "On shutdown, how long the cycle child may take to stop after SIGTERM (then SIGKILL).",
            "min": 0.0,
        },
    )


@dataclass(frozen=True)
class ModelConfig:
    path: str = field(
        default="",
        metadata={"help": "Base model checkpoint (.pth or .safetensors); empty: the embedded model."},
    )
    sha256: str = field(
        default="",
        metadata={
            "help": "sha256 of the checkpoint, checked at start; filled in by `sleepd init`.",
            "pattern": r"^([0-9a-f]{64})?$",
            "format": "64 lowercase hex digits",
        },
    )


@dataclass(frozen=True)
class GenerationsConfig:
    keep_ancestors: int = field(
        default=5,
        metadata={"help": "`gen gc` keeps this many ancestors of the current generation.", "min": 0},
    )
    gc_rejected_after_days: float = field(
        default=14.0, metadata={"help": "`gen gc` removes rejected candidates older than this.", "min": 0.0}
    )


@dataclass(frozen=True)
class SleepdConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    generations: GenerationsConfig = field(default_factory=GenerationsConfig)
    # The night's components define their own config dataclasses; they are recorded in every manifest.
    reflection: ReflectionConfig = field(default_factory=ReflectionConfig)
    tuner: TunerConfig = field(default_factory=TunerConfig)
    gates: GateConfig = field(default_factory=GateConfig)


HEADER = """\
# sleepd configuration.
# Every key is optional: delete one to get its default. Unknown keys are errors.
"""


# ---- loading -----------------------------------------------------------------------------------


def load_config(path: str | Path, *, missing_ok: bool = False) -> SleepdConfig:
    """Read and validate config.toml; `missing_ok` gives the defaults when the file does not exist."""
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return SleepdConfig()
        raise ConfigError(f"{path}: not found (run `sleepd init`)") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{name}: invalid TOML: {e}") from None
    return parse_config(data, name=name)


def parse_config(data: Mapping[str, Any], *, name: str = "config.toml") -> SleepdConfig:
    return from_mapping(SleepdConfig, data, where=name, root=True)


def from_mapping(cls: type[T], data: Any, *, where: str, root: bool = False) -> T:
    """Build dataclass `cls` from a parsed TOML table, validating every value against the type hints.

    `where` prefixes messages: for a section it is "config.toml: [server]"; with `root=True` the fields of
    `cls` are themselves sections ("config.toml")."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {_show(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            known = ", ".join(fields) or "none"
            if root:
                raise ConfigError(f"{where}: unknown section [{key}] (known: {known})")
            raise ConfigError(f"{where} {key}: unknown key (known: {known})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            continue
        tp = hints[name]
        if root:
            kwargs[name] = from_mapping(tp, data[name], where=f"{where}: [{name}]")
        else:
            kwargs[name] = _convert(data[name], tp, f.metadata, where, name)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{where}: {e}") from None


def _sub_where(where: str, key: str) -> str:
    # "config.toml: [tuner]" + "objective" -> "config.toml: [tuner.objective]"
    m = re.fullmatch(r"(.*)\[(.+)\]", where)
    return f"{m.group(1)}[{m.group(2)}.{key}]" if m else f"{where}: [{key}]"


def _convert(value: Any, tp: Any, meta: Mapping[str, Any], where: str, key: str) -> Any:
    label = f"{where} {key}"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, where=_sub_where(where, key))
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(value, inner[0], meta, where, key)
        for a in inner:
            try:
                return _convert(value, a, meta, where, key)
            except ConfigError:
                continue
        raise ConfigError(
            f"{label}: expected {' or '.join(_describe(a, {}) for a in inner)}, got {_show(value)}"
        )
    if origin is Literal:
        if value not in args:
            raise ConfigError(
                f"{label}: expected one of {', '.join(_show(a) for a in args)}, got {_show(value)}"
            )
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise ConfigError(f"{label}: expected {_describe(tp, meta)}, got {_show(value)}")
        item_tp = args[0] if args else Any
        items = [_convert(v, item_tp, {}, where, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{label}: expected a table, got {_show(value)}")
        val_tp = args[1] if len(args) == 2 else Any
        return {str(k): _convert(v, val_tp, {}, where, f"{key}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    expected = _describe(tp, meta)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{label}: expected {expected}, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{label}: expected {expected}, got {_show(value)}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{label}: expected {expected}, got {_show(value)}")
        value = float(value)
    elif tp in (str, Path):
        if not isinstance(value, str):
            raise ConfigError(f"{label}: expected {expected}, got {_show(value)}")
        pattern = meta.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise ConfigError(f"{label}: expected {expected}, got {_show(value)}")
        return Path(value).expanduser() if tp is Path else value
    else:
        raise TypeError(f"{label}: config fields of type {tp!r} are not supported")
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{label}: expected {expected}, got {_show(value)}")
    return value


def _describe(tp: Any, meta: Mapping[str, Any]) -> str:
    origin = typing.get_origin(tp)
    if tp is bool:
        return "true or false"
    if tp in (int, float):
        noun = "an integer" if tp is int else "a number"
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and hi is not None:
            return f"{noun} {_num(lo)}..{_num(hi)}"
        if lo is not None:
            return f"{noun} >= {_num(lo)}"
        if hi is not None:
            return f"{noun} <= {_num(hi)}"
        return noun
    if tp in (str, Path):
        fmt = meta.get("format")
        return f"a string, {fmt}" if fmt else "a string"
    if origin in (tuple, list):
        return "an array"
    if origin is Literal:
        return "one of " + ", ".join(_show(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _show(value: Any) -> str:
    """A value as the user wrote it in TOML (strings quoted), shortened."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Mapping):
        text = "a table"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except ValueError:
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---- writing -----------------------------------------------------------------------------------


def render_config(cfg: SleepdConfig | None = None) -> str:
    """TOML text for `cfg` (default: the defaults), every key preceded by its help as a comment."""
    cfg = cfg or SleepdConfig()
    parts = [HEADER]
    for f in dataclasses.fields(cfg):
        _render_table(getattr(cfg, f.name), f.name, parts)
    return "\n".join(parts).rstrip() + "\n"


def _render_table(obj: Any, name: str, parts: list[str]) -> None:
    lines = [f"[{name}]"]
    nested: list[tuple[str, Any]] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            nested.append((f.name, value))
            continue
        help_text = f.metadata.get("help")
        if help_text:
            lines.extend(f"# {line}" for line in str(help_text).splitlines())
        if value is None:
            lines.append(f"# {_key(f.name)} =   (unset)")
        else:
            lines.append(f"{_key(f.name)} = {toml_value(value)}")
    parts.append("\n".join(lines) + "\n")
    for sub, value in nested:
        _render_table(value, f"{name}.{_key(sub)}", parts)


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str | Path):
        # JSON string escapes (\" \\ \n \t \uXXXX ...) are all valid in TOML basic strings.
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    if dataclasses.is_dataclass(value):
        return toml_value({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def write_config(path: str | Path, cfg: SleepdConfig | None = None, *, overwrite: bool = False) -> None:
    """Atomically write config.toml; refuses to replace an existing file unless `overwrite`."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path}: already exists")
    text = render_config(cfg)
    parse_config(tomllib.loads(text), name=path.name)  # never write a file we could not read back
    with atomic_open(path, "w", perm=0o600, encoding="utf-8") as f:
        f.write(text)

"""Helpers shared by the tests (importable as `support`: pytest puts tests/ on sys.path, pyproject.toml).

- TINY: the smallest RWKV-7 config the storage and daemon tests describe a base model with (no weights
  are ever loaded for it); TINY_ODD: an L2/C128 config with odd LoRA ranks, which the checkpoint loader
  must read from the tensor shapes.
- tiny_base: what `sleepd init` records about such a model, without a file.
- run_cli: a typer app invoked the way `sleepd` runs it, errors mapped to exit codes by the one mapping
  the entry point uses (daemon.cli.exit_status).
"""

from __future__ import annotations

from collections.abc import Callable

import typer
from typer.testing import CliRunner

from model.config import RWKV7Config

TINY = RWKV7Config(vocab_size=64, n_embd=32, n_layer=2, head_size=16, d_decay=4, d_aaa=4, d_mv=4, d_gate=4)

TINY_ODD = RWKV7Config(
    vocab_size=1024, n_embd=128, n_layer=2, head_size=64, d_decay=24, d_aaa=20, d_mv=12, d_gate=40
)
TINY_SHA = "ef" * 32


def tiny_base(path="/m.pth"):
    """An `inspect` for init_data_dir: a described base model that is never loaded."""
    from daemon.init import BaseModel

    return BaseModel(str(path), "tiny", TINY_SHA, TINY)


def cli_app(*register: Callable[[typer.Typer], None]) -> typer.Typer:
    """The root callback (global --json/--data-dir) with the given command groups mounted."""
    import daemon.cli as cli

    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    app.callback()(cli.root)
    for r in register:
        r(app)
    return app


def run_cli(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) as `sleepd` would give them: mapped errors give their code and line."""
    from daemon.cli import exit_status

    res = CliRunner().invoke(app, list(args))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        status = exit_status(res.exception)
        if status is None:
            raise res.exception
        return status[0], res.stdout, status[1]
    return res.exit_code, res.stdout, res.stderr

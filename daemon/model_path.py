"""The base model's checkpoint: which file it is, and that it is still the file `sleepd init` recorded.

One resolver for every reader (init, the inference worker, the night, reflection, tuning, re-evaluation):
`[model] path` in config.toml, or the embedded default model when the path is empty; loading checks the
file's sha256 against the one recorded at init, so a replaced checkpoint is refused, never served.
"""

from __future__ import annotations

from pathlib import Path

from daemon.config import ModelConfig
from memory.errors import InputError, IntegrityFailure
from model.bundle import ModelBundle, load_bundle


def model_path(configured: str | None) -> Path:
    """The configured checkpoint, or the embedded default model when none is configured."""
    if configured:
        return Path(configured).expanduser()
    try:
        from model.default_model import default_model_path

        return default_model_path()
    except (ImportError, FileNotFoundError):
        raise InputError(
            "no model configured and no embedded default model: run `sleepd init --model PATH`"
        ) from None


def load_base_model(cfg: ModelConfig) -> ModelBundle:
    """Load the base model; refuses a checkpoint whose sha256 differs from the one recorded at init."""
    from model.checkpoint import CheckpointError

    path = model_path(cfg.path)
    if not path.is_file():
        raise InputError(f"model file {path} is missing ([model] path in config.toml)")
    try:
        bundle = load_bundle(path)
    except CheckpointError as e:
        raise InputError(str(e)) from None
    if cfg.sha256 and bundle.info.sha256 != cfg.sha256:
        raise IntegrityFailure(
            f"model {path} has sha256 {bundle.info.sha256[:12]}…, but config.toml expects "
            f"{cfg.sha256[:12]}…; the file changed since `sleepd init`"
        )
    return bundle

"""What a sleep-cycle pipeline receives (daemon/cycle.py runs it; daemon/night.py is the real one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from daemon.init import DataDir


class CycleInterrupted(BaseException):
    """The cycle was asked to stop (SIGTERM): the daemon is shutting down. A BaseException, so that
    `except Exception` in a pipeline does not swallow it."""


@dataclass
class CycleContext:
    """What a pipeline gets."""

    data: DataDir
    cycle_id: int
    trigger: str
    resumed: bool  # an unfinished cycle from a crash is being resumed
    should_stop: Callable[[], bool] = lambda: False
    actor: str = ""

    @property
    def cycle_dir(self) -> Path:
        return self.data.paths.cycle_dir(self.cycle_id)


Pipeline = Callable[[CycleContext], None]

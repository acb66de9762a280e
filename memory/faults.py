"""Fault injection for crash tests: `SLEEPD_FAULT=op:step[:action][,op:step...]`.

At a named step the process kills itself with SIGKILL (action `kill`, the default: nothing runs after it,
no finally blocks, no flushes, exactly like a power cut as far as this process is concerned) or raises
`InjectedFault` (action `raise`, for in-process tests of error paths). The steps are listed in `STEPS` so a
test can iterate over every one of them; an unlisted step name is a programming error.

The environment is read at every fault point (cheap), so tests can set it with monkeypatch.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "SLEEPD_FAULT"

_SWITCH_STEPS = (
    "start",  # validated, nothing changed
    "verified",  # target's files verified
    "before_db_commit",  # pointer updated inside the open transaction
    "after_db_commit",  # DB says new, symlink still old
    "after_temp_symlink",  # temp symlink to new created next to `current`
    "after_symlink_replace",  # symlink replaced, directory not yet fsynced
    "done",
)

STEPS: dict[str, tuple[str, ...]] = {
    "promote": _SWITCH_STEPS,
    "rollback": _SWITCH_STEPS,
    "create": ("files_written", "renamed", "before_db_commit", "after_db_commit"),
    "gc": ("after_db_commit", "after_rename"),
}


class InjectedFault(RuntimeError):
    """Raised at a fault point whose action is `raise`."""


def fault_point(op: str, step: str) -> None:
    if step not in STEPS.get(op, ()):
        raise ValueError(f"unknown fault point {op}:{step}")
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    for item in spec.split(","):
        parts = item.strip().split(":")
        if len(parts) >= 2 and parts[0] == op and parts[1] == step:
            action = parts[2] if len(parts) > 2 else "kill"
            if action == "raise":
                raise InjectedFault(f"injected fault at {op}:{step}")
            os.kill(os.getpid(), signal.SIGKILL)

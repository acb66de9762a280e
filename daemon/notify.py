"""systemd service notifications (sd_notify), without a library: one AF_UNIX datagram per message.

systemd sets $NOTIFY_SOCKET for `Type=notify` units. A leading "@" names a socket in the abstract
namespace (the name then starts with a NUL byte). The daemon sends:

    READY=1       once the HTTP socket is listening (systemd counts the unit as started only then)
    WATCHDOG=1    every WatchdogSec/2 while the event loop is alive ($WATCHDOG_USEC, for our pid)
    STOPPING=1    as soon as a shutdown begins
    STATUS=...    a one-line human status shown by `systemctl status`

Without $NOTIFY_SOCKET every call is a no-op, so the daemon runs the same outside systemd.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        raw = env.get("NOTIFY_SOCKET") or ""
        self.address: str | bytes | None = None
        if raw.startswith("@"):
            self.address = b"\0" + raw[1:].encode()
        elif raw.startswith("/"):
            self.address = raw
        elif raw:
            log.warning("ignoring NOTIFY_SOCKET=%r: not a unix socket path", raw)
        self.watchdog_usec = _watchdog_usec(env)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, message: str) -> bool:
        """Send one message ("READY=1", "STATUS=...", several joined by newlines); False if not sent."""
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall(message.encode())
            return True
        except OSError as e:  # systemd gone or socket removed: notifications are best effort
            log.warning("sd_notify %r failed: %s", message.split("\n", 1)[0], e)
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None when no watchdog is set."""
        if self.address is None or self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2e6


def _watchdog_usec(env: Mapping[str, str]) -> int | None:
    raw = env.get("WATCHDOG_USEC")
    if not raw:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # the watchdog is meant for another process (e.g. our parent)
    try:
        usec = int(raw)
    except ValueError:
        log.warning("ignoring WATCHDOG_USEC=%r: not an integer", raw)
        return None
    return usec if usec > 0 else None

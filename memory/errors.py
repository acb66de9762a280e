"""Error types of the memory layer.

`memory` must not import `daemon`, so it has its own small hierarchy. The CLI maps `InputError` to exit
code 2 (one line) and the HTTP layer maps it to a 4xx; `IntegrityError` means stored data failed a check
(exit code 1, never a 4xx).
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from a user or client: one clear line, exit code 2 / HTTP 422."""


class NotFound(InputError):
    """An id that does not exist (HTTP 404)."""


class Conflict(InputError):
    """The input contradicts what is stored, e.g. a message id reused with different content (HTTP 409)."""


class IntegrityFailure(RuntimeError):
    """Stored data failed a check (a checksum, a missing file): exit code 1."""

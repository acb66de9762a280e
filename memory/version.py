"""The installed sleepd version, recorded in every generation manifest."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def sleepd_version() -> str:
    try:
        return version("sleepd")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"

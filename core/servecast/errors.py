"""Errors servecast reports to its users: each says what is wrong, where, and what to do about it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class ServecastError(Exception):
    """Base of every error servecast reports to a user; `exit_code` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message}\n  what to do: {hint}" if hint else message)


class InputError(ServecastError):
    """A value given by the user is wrong (unknown name, out of range, inconsistent)."""

    exit_code = 2


class SpecFileError(ServecastError):
    """A hardware or framework spec file is malformed."""

    exit_code = 3

    def __init__(self, path: Path, problem: str, hint: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}", hint or "fix the file; docs/plugins/ shows each file's format")


class PluginError(ServecastError):
    """A plugin failed, conflicts with another, or returned something unusable."""

    exit_code = 3


class PluginLoadError(PluginError):
    """Strict mode: one or more plugins failed to load or register."""

    def __init__(self, failures: Sequence[str]) -> None:
        listing = "\n".join(f"  - {failure}" for failure in failures)
        super().__init__(
            f"{len(failures)} plugin(s) failed to load (strict mode):\n{listing}",
            "fix or uninstall the plugin, disable it with --disable-plugin NAME, "
            "or drop --strict-plugins / SERVECAST_STRICT_PLUGINS to skip broken plugins",
        )


class PluginConflictError(PluginError):
    """Two plugins register the same name."""


class NoFeasibleConfiguration(ServecastError):
    """A search found no configuration meeting the targets (the CLI exits 4)."""

    exit_code = 4


def undecodable(error: UnicodeDecodeError) -> str:
    """Where text stops being UTF-8: the line and the offending byte."""
    line = error.object[: error.start].count(b"\n") + 1
    return f"byte {error.object[error.start : error.start + 1]!r} on line {line} is not UTF-8"

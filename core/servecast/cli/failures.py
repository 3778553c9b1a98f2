"""How a command's failure reaches the user: a clear message and a documented exit code, never a traceback
(unless --debug asks for one).

Exit codes: 0 success, 2 bad input or a file that cannot be read or written, 3 a plugin failed, 4 nothing meets
the SLA, 1 a bug in servecast or a plugin, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click
from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.errors import InputError, ServecastError, undecodable

INTERRUPTED = 130
TERMINATED = 143
BUG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every `finally` cleans up what it was writing."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM unwinds the stack like Ctrl-C (staging files removed) instead of killing at once."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def file_error(error: OSError) -> InputError:
    """An InputError for a file or folder that cannot be read or written, naming it and the reason."""
    where = f" {str(error.filename)!r}" if error.filename is not None else ""
    reason = error.strerror or (os.strerror(error.errno) if error.errno else str(error))
    hints = {
        errno.EACCES: "check the permissions, or choose a folder you can write to",
        errno.EPERM: "check the permissions, or choose a folder you can write to",
        errno.ENOSPC: "free some disk space, or write elsewhere",
        errno.EROFS: "choose a folder on a writable file system",
        errno.ENOTDIR: "a file stands where a folder is expected: choose another path",
        errno.EISDIR: "a folder stands where a file is expected: give a file path",
        errno.ENOENT: "check the path",
    }
    return InputError(f"cannot use{where}: {reason}", hints.get(error.errno or 0, "check the path"))


def report(error: ServecastError) -> None:
    """Print a servecast error: what is wrong, then what to do."""
    click.echo(f"error: {error.message}", err=True)
    if error.hint:
        click.echo(f"  what to do: {error.hint}", err=True)


def as_servecast_error(error: Exception) -> ServecastError | None:
    """The user-facing form of an exception that is the input's fault, or None for a bug."""
    if isinstance(error, ServecastError):
        return error
    if isinstance(error, ValidationError):
        return InputError(f"invalid {error.title}: {validation_problems(error)}", "fix the value named")
    if isinstance(error, UnicodeDecodeError):
        return InputError(f"an input is not UTF-8 text: {undecodable(error)}", "save the file as UTF-8")
    if isinstance(error, OSError):
        return file_error(error)
    return None


def report_bug(error: BaseException) -> None:
    """Print an unexpected exception as a bug report request (the traceback only with --debug)."""
    click.echo(f"error: internal error: {type(error).__name__}: {error}", err=True)
    click.echo(
        "  what to do: this is a bug in servecast or one of its plugins; rerun with `servecast --debug ...` "
        "for the traceback and report it",
        err=True,
    )

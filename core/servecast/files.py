"""Writing output files whole or not at all: a failed, interrupted or concurrent run never leaves half a file, a
stale staging folder or a mix of two runs' results behind.

Files and folders get the permissions the user's umask gives new files (not the private ones temporary files are
created with).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servecast.errors import InputError, undecodable

STAGING_PREFIX = ".servecast-staging-"
"""Hidden folders a run fills before moving the results into place; named after the process that owns them."""


def read_input_text(path: Path, what: str, hint: str) -> str:
    """The UTF-8 text of the input file at `path` (`what` names it in messages, `hint` says what to pass instead);
    an InputError when it is missing, unreadable, not UTF-8 or empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {str(path)!r} not found", "check the path") from None
    except OSError as error:
        raise InputError(f"{what} {str(path)!r} cannot be read: {error.strerror}", "check the path") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text: {undecodable(error)}", hint) from None
    if not text.strip():
        raise InputError(f"{path}: empty", hint)
    return text


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish(path: Path, mode: int) -> None:
    """Give `path` the permissions a new file (0o666) or folder (0o777) gets under the user's umask."""
    path.chmod(mode & ~_umask())


def make_executable(path: Path) -> None:
    """Let whoever may read `path` under the user's umask also run it (a shell script)."""
    _publish(path, 0o777)


def write_text_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path` (removed again on failure);
    missing parent folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        _publish(Path(partial), 0o666)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(folder: Path) -> None:
    """Remove staging folders left in `folder` by runs that were killed (their process is gone)."""
    for entry in folder.glob(f"{STAGING_PREFIX}*"):
        owner = entry.name.removeprefix(STAGING_PREFIX).split("-", 1)[0]
        if entry.is_dir() and (not owner.isdigit() or not _alive(int(owner))):
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def staged_folder(destination: Path) -> Iterator[Path]:
    """A fresh hidden folder inside `destination` (created if missing) to write results into before moving them
    into place; removed when the block ends, however it ends. Stale ones of killed runs are removed first."""
    destination.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(destination)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=destination))
    try:
        _publish(staging, 0o777)
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def locked_folder(folder: Path) -> Iterator[None]:
    """Hold `folder` for this run's writes: a second servecast run writing into it at the same time is refused
    (an advisory lock on the folder itself, released when the block ends or the process dies)."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: writes stay atomic per file
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"another servecast run is writing into {str(folder)!r}",
                "wait for it to finish, or write into another folder",
            ) from None
        yield
    finally:
        os.close(descriptor)

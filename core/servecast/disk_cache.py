"""A disk cache for what is costly to rebuild and follows from files and inputs alone (the step tables of servers,
parsed measured tables and spec files): pickles under the user's cache directory, keyed by a digest of everything
they follow from, written atomically, and rebuilt whenever missing or unreadable.

`SERVECAST_CACHE_DIR` moves the cache (default: `$XDG_CACHE_HOME/servecast`, else `~/.cache/servecast`); set to
`off` (or empty) it turns the cache off. Each kind of entry keeps the `KEPT` most recently used; deleting the
directory at any time is safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import TypeVar

from servecast import __version__

T = TypeVar("T")

CACHE_DIR_VARIABLE = "SERVECAST_CACHE_DIR"
_OFF = ("", "off", "0", "none")
KEPT = 4096
"""Entries each namespace keeps (step tables are ~30 kB each): when a run first writes to a namespace, the least
recently used beyond these go (an upgrade or an edit leaves the old entries behind)."""


def cache_directory() -> Path | None:
    """Where the cache lives, or None where `SERVECAST_CACHE_DIR` turns it off."""
    chosen = os.environ.get(CACHE_DIR_VARIABLE)
    if chosen is not None:
        return None if chosen.strip().lower() in _OFF else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory (a container user without one): no cache
            return None
    return Path(base) / "servecast"


def digest(key: object) -> str:
    """A stable name for `key`: the SHA-256 of its repr (keys are tuples of strings, numbers, enums and frozen
    dataclasses or models, whose reprs are deterministic)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()


class DiskCache:
    """Values by (namespace, key) under one directory for this servecast version; a no-op without a directory."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = None if directory is None else directory / __version__
        self._pruned: set[str] = set()

    @classmethod
    def default(cls) -> DiskCache:
        return cls(cache_directory())

    def fetch(self, namespace: str, key: object, build: Callable[[], T]) -> T:
        """The value stored for `key`, or `build()`'s, stored for next time. A file that cannot be read (another
        version's pickle, a torn or foreign file) counts as missing; one that cannot be written is skipped: the
        cache only ever saves time."""
        if self.directory is None:
            return build()
        path = self.directory / namespace / f"{digest(key)}.pickle"
        try:
            with path.open("rb") as handle:
                value: T = pickle.load(handle)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            pass
        else:
            with contextlib.suppress(OSError):  # a read-only cache still serves
                os.utime(path)  # recently used
            return value
        value = build()
        if namespace not in self._pruned:
            self._pruned.add(namespace)
            _prune(path.parent)
        _write_atomically(path, value)
        return value


def _write_atomically(path: Path, value: object) -> None:
    """Pickle `value` to `path` through a temporary file, so that readers see the whole file or none."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except (OSError, pickle.PicklingError):
        return


def _prune(directory: Path) -> None:
    """Delete all but the `KEPT` most recently used entries of `directory` (what cannot be read or deleted stays)."""
    try:
        entries = [(entry.stat().st_mtime_ns, entry) for entry in directory.glob("*.pickle")]
    except OSError:
        return
    entries.sort(reverse=True)
    for _, entry in entries[KEPT:]:
        try:
            entry.unlink()
        except OSError:
            continue


def file_digest(path: Path) -> str:
    """What changes when a file's contents do: their SHA-256 (what a parse of it follows from)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def code_fingerprint() -> str:
    """A digest of the contents of every file of servecast and of the plugin packages imported so far (sources and
    data): cached results follow from them, so any edit, upgrade or newly loaded plugin invalidates them, while
    another checkout of the same code shares them."""
    return _fingerprint(frozenset(_package_roots()))


@cache
def _fingerprint(roots: frozenset[Path]) -> str:
    contents = hashlib.sha256(__version__.encode())
    for name, data in sorted(_contents(roots)):
        contents.update(name.encode())
        contents.update(hashlib.sha256(data).digest())
    return contents.hexdigest()


def _package_roots() -> set[Path]:
    """The directories (or single files) of the top-level modules named servecast* imported so far: servecast's
    and the plugin distributions' packages."""
    roots = set()
    for name in [name for name in sys.modules if "." not in name and name.startswith("servecast")]:
        location = getattr(sys.modules[name], "__file__", None)
        if location is not None:
            path = Path(location)
            roots.add(path.parent if path.name == "__init__.py" else path)
    return roots


def _contents(roots: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """Each file below `roots` (bytecode aside), named by its root and its path within it, with its bytes."""
    for root in roots:
        files = [root] if root.is_file() else (path for path in root.rglob("*") if path.is_file())
        for path in files:
            if "__pycache__" not in path.parts:
                yield f"{root.name}/{path.relative_to(root) if path != root else ''}", path.read_bytes()

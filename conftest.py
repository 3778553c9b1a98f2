"""Settings for every test, core and plugins: the disk cache lives in a directory of its own for the session, so no
test reads the developer's cache or writes to it."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from servecast.disk_cache import CACHE_DIR_VARIABLE


def pytest_configure(config: pytest.Config) -> None:
    directory = tempfile.mkdtemp(prefix="servecast-test-cache-")
    config.stash[_CACHE] = (os.environ.get(CACHE_DIR_VARIABLE), directory)
    os.environ[CACHE_DIR_VARIABLE] = directory


def pytest_unconfigure(config: pytest.Config) -> None:
    previous, directory = config.stash[_CACHE]
    shutil.rmtree(directory, ignore_errors=True)
    if previous is None:
        os.environ.pop(CACHE_DIR_VARIABLE, None)
    else:
        os.environ[CACHE_DIR_VARIABLE] = previous


_CACHE = pytest.StashKey[tuple[str | None, str]]()

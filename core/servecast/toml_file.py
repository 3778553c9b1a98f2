"""Reading one of servecast's TOML files (hardware, framework and calibration specs, table metadata): parsing it and
checking its schema version."""

from __future__ import annotations

import tomllib
from functools import partial
from pathlib import Path
from typing import Any

from servecast.disk_cache import DiskCache, file_digest
from servecast.errors import SpecFileError

SCHEMA_VERSION = 1
"""The spec-file schema version this servecast reads."""


def read_toml(path: Path) -> dict[str, Any]:
    """Parse `path` (or take the parse from the disk cache, where the file is unchanged) and check its schema
    version."""
    try:
        contents = file_digest(path)
    except OSError:  # parsing says what is wrong
        data = _parse(path)
    else:
        data = DiskCache.default().fetch("toml", contents, partial(_parse, path))
    version = data.pop("schema_version", None)
    if version != SCHEMA_VERSION:
        raise SpecFileError(
            path,
            f"schema_version is {version!r}, this servecast reads schema_version = {SCHEMA_VERSION}",
            f"set schema_version = {SCHEMA_VERSION}, or upgrade servecast if the file is newer",
        )
    return data


def _parse(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SpecFileError(path, "file not found", "check the path, or reinstall the plugin that ships it") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecFileError(path, f"not valid TOML: {error}", "fix the syntax at the position given") from None

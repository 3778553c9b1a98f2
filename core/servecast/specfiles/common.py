"""Reading a spec TOML file: parsing, the shared [sources] table, and turning validation errors into prose."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.domain.provenance import Source
from servecast.errors import SpecFileError

SCHEMA_VERSION = 1
"""The spec-file schema version this servecast reads."""


def read_toml(path: Path) -> dict[str, Any]:
    """Parse `path` and check its schema version."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SpecFileError(path, "file not found", "check the path, or reinstall the plugin that ships it") from None
    except tomllib.TOMLDecodeError as error:
        raise SpecFileError(path, f"not valid TOML: {error}", "fix the syntax at the position given") from None
    version = data.pop("schema_version", None)
    if version != SCHEMA_VERSION:
        raise SpecFileError(
            path,
            f"schema_version is {version!r}, this servecast reads schema_version = {SCHEMA_VERSION}",
            f"set schema_version = {SCHEMA_VERSION}, or upgrade servecast if the file is newer",
        )
    return data


def read_sources(path: Path, data: dict[str, Any]) -> dict[str, Source]:
    """Pop and validate the top-level [sources.<id>] tables that figures and knobs refer to by id."""
    raw = data.pop("sources", {})
    if not isinstance(raw, Mapping) or not raw:
        raise SpecFileError(
            path, "no [sources.<id>] tables", "cite where the numbers come from: see docs/plugins/hardware-specs.md"
        )
    sources: dict[str, Source] = {}
    for source_id, fields in raw.items():
        try:
            sources[source_id] = Source.model_validate(fields)
        except ValidationError as error:
            raise SpecFileError(path, validation_problems(error, prefix=f"sources.{source_id}")) from None
    return sources


def resolve_source(path: Path, sources: Mapping[str, Source], source_id: object, where: str) -> Source:
    """The source that `where` cites by id."""
    if not isinstance(source_id, str) or source_id not in sources:
        known = ", ".join(sorted(sources)) or "none"
        raise SpecFileError(
            path,
            f"{where}: source {source_id!r} is not defined",
            f"cite one of the [sources.<id>] tables ({known}) or add one",
        )
    return sources[source_id]

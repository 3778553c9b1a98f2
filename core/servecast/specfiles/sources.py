"""The [sources] table every spec file shares: reading it, and resolving the ids that figures and knobs cite."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.domain.provenance import Source
from servecast.errors import SpecFileError


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

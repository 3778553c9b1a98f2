"""Warnings for registered specs that still cite a scaffold's placeholder sources: their numbers are stand-ins
(an H100's figures, guessed framework defaults) until the plugin's author replaces them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from servecast.domain.provenance import Source
from servecast.host.registry import Registry


def placeholder_warnings(registries: dict[str, Registry[Any]]) -> tuple[str, ...]:
    """One warning per registered spec citing placeholder sources; `registries` maps a kind ('hardware') to its
    registry and the command that shows such a spec ('hardware show')."""
    warnings = []
    for command, registry in registries.items():
        for name in registry.names():
            entry = registry.entry(name)
            sources = list(_sources(entry.value))
            placeholders = sum(source.is_placeholder for source in sources)
            if placeholders:
                warnings.append(
                    f"{name} (plugin {entry.owner.name}): {placeholders} of {len(sources)} cited figures are scaffold "
                    f"placeholders, not facts about it; estimates use them until the spec cites real sources "
                    f"(`servecast {command} {name}` lists them)"
                )
    return tuple(warnings)


def _sources(value: object) -> Iterator[Source]:
    """Every Source inside a spec, however deeply nested."""
    if isinstance(value, Source):
        yield value
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            yield from _sources(getattr(value, field))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _sources(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _sources(item)

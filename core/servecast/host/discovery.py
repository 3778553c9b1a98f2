"""Finding plugins: entry points in the `servecast` group of the installed distributions."""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from servecast import PROJECT_NAME, __version__


@dataclass(frozen=True)
class PluginSource:
    """Something the host can load as a plugin, with the distribution that provides it."""

    name: str
    distribution: str
    version: str
    module: str
    load: Callable[[], object]


def discover_plugins(path: Sequence[str] | None = None) -> list[PluginSource]:
    """Every `servecast` entry point of the distributions on `path` (default: sys.path), sorted by name.

    A distribution found twice on the path (e.g. installed and on PYTHONPATH) is listed once.
    """
    distributions = (
        importlib.metadata.distributions(path=list(path)) if path is not None else importlib.metadata.distributions()
    )
    found: dict[tuple[str, str], PluginSource] = {}
    for distribution in distributions:
        dist_name = distribution.metadata["Name"] or "<unnamed distribution>"
        for entry_point in distribution.entry_points.select(group=PROJECT_NAME):
            found.setdefault(
                (entry_point.name, dist_name),
                PluginSource(
                    name=entry_point.name,
                    distribution=dist_name,
                    version=distribution.version,
                    module=entry_point.value,
                    load=entry_point.load,
                ),
            )
    return sorted(found.values(), key=lambda source: (source.name, source.distribution))


BUILTIN_MODULE = "servecast.models.builtin"


def builtin_plugins() -> list[PluginSource]:
    """The core's own plugin (built-in model families), loaded like any other so plugins can conflict with it."""
    return [
        PluginSource(
            name="core",
            distribution=PROJECT_NAME,
            version=__version__,
            module=BUILTIN_MODULE,
            load=lambda: importlib.import_module(BUILTIN_MODULE),
        )
    ]

"""What the host knows about each plugin it found: where it comes from, whether it loaded, and why not."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PluginStatus(StrEnum):
    """The outcome of loading one plugin."""

    OK = "ok"
    FAILED = "failed"
    DISABLED = "disabled"


@dataclass(frozen=True)
class PluginRecord:
    """One discovered plugin: identity, outcome, the hooks it implements, and what to do if it failed."""

    name: str
    distribution: str
    version: str
    module: str
    status: PluginStatus
    hooks: tuple[str, ...] = ()
    error: str | None = None
    hint: str | None = None
    conflicts: tuple[str, ...] = field(default=())

    @property
    def origin(self) -> str:
        """'distribution version (plugin name)': how errors refer to a plugin."""
        return f"{self.distribution} {self.version} (plugin {self.name!r})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, as `servecast plugins --json` prints it."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status.value,
            "hooks": list(self.hooks),
            "error": self.error,
            "hint": self.hint,
            "conflicts": list(self.conflicts),
        }

"""What a hook is asked about: a system, and optionally a framework version running on it."""

from __future__ import annotations

from servecast.domain.base import FrozenModel


class Target(FrozenModel):
    """The (hardware, framework, version) a primitive, policy or launch config is resolved for.

    Hashable: the plugin host caches hook results per target.
    """

    hardware: str
    framework: str | None = None
    framework_version: str | None = None

    def __str__(self) -> str:
        if self.framework is None:
            return self.hardware
        version = f" {self.framework_version}" if self.framework_version else ""
        return f"{self.framework}{version} on {self.hardware}"

"""Which plugins to load and how strictly, from command-line options and the environment."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from servecast.errors import InputError

STRICT_ENV = "SERVECAST_STRICT_PLUGINS"
DISABLE_ENV = "SERVECAST_DISABLE_PLUGINS"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class PluginSettings:
    """`strict`: any plugin load error is fatal. `disabled`: plugin names not to load."""

    strict: bool = False
    disabled: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def resolve(
        cls, strict: bool = False, disabled: Iterable[str] = (), environ: Mapping[str, str] | None = None
    ) -> PluginSettings:
        """Command-line values combined with SERVECAST_STRICT_PLUGINS and SERVECAST_DISABLE_PLUGINS."""
        environ = os.environ if environ is None else environ
        raw_strict = environ.get(STRICT_ENV, "").strip().lower()
        if raw_strict not in _TRUE | _FALSE:
            raise InputError(
                f"{STRICT_ENV}={environ[STRICT_ENV]!r} is neither true nor false",
                f"set {STRICT_ENV}=1 to make plugin load errors fatal, or unset it",
            )
        from_env = {name.strip() for name in environ.get(DISABLE_ENV, "").split(",") if name.strip()}
        return cls(strict=strict or raw_strict in _TRUE, disabled=frozenset({*disabled, *from_env}))

"""The SGLang plugin's hook implementations."""

from __future__ import annotations

from importlib.resources import files

from servecast import hookimpl
from servecast.domain import FrameworkSpec
from servecast.specfiles import load_framework_spec


@hookimpl
def servecast_register_frameworks() -> list[FrameworkSpec]:
    """SGLang, per modelled version, from the sourced data file shipped in this package."""
    return [load_framework_spec(str(files(__package__) / "data" / "sglang.toml"))]

"""What every plugin scaffold shares: the name rule, rendering the package's templates, writing it all at once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from string import Template

from servecast.errors import InputError
from servecast.files import staged_folder

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""A plugin's short id as servecast spells them (`h100_sxm`, `vllm`): it is also the Python package's suffix."""
CORE_REQUIREMENT = "servecast>=0.1,<1"
"""The core version range a generated plugin depends on, the same as the shipped plugins'."""
TEMPLATES = files(__package__) / "templates"
UNQUOTABLE = frozenset('"\\' + "".join(map(chr, range(32))) + chr(127))
"""Characters a display name may not hold: it is written verbatim into TOML strings and Python docstrings."""


TAKEN = {
    "core": "servecast's built-in plugin",
    "vllm": "servecast-vllm",
    "sglang": "servecast-sglang",
    "trtllm": "servecast-trtllm",
    "hardware_h100": "servecast-hardware-h100",
}
"""Names servecast's own distributions use: a package generated under one would replace that distribution when
installed, or fail to load beside it."""


def check_not_taken(plugin: str, what: str) -> None:
    """Refuse a plugin id one of servecast's own distributions uses (`what`: 'framework name')."""
    if plugin in TAKEN:
        raise InputError(
            f"{what} {plugin.removeprefix('hardware_')!r} is taken by {TAKEN[plugin]}",
            "pick a name of your own: a package generated under a taken name would replace that distribution when "
            "installed, or fail to load beside it",
        )


def check_name(name: str, what: str, names: str, example: str) -> None:
    """Refuse a name (`what`: 'hardware name') that cannot name both `names` ('a system') and a Python package."""
    if not NAME.fullmatch(name):
        raise InputError(
            f"{what} {name!r} cannot name {names} and a Python package",
            f"use lower-case letters, digits and underscores, starting with a letter (e.g. {example!r})",
        )


def check_display_name(display_name: str | None) -> None:
    """Refuse a display name that would break the TOML strings, docstrings and README it is written into."""
    if display_name is not None and (not display_name.strip() or any(c in display_name for c in UNQUOTABLE)):
        raise InputError(
            f"display name {display_name!r} is empty or holds a quote, a backslash or a control character",
            "give plain text, e.g. 'NVIDIA H200 SXM 141GB' or 'My Serve'",
        )


def render(kind: str, layout: Mapping[str, str | None], values: Mapping[str, str]) -> dict[str, str]:
    """The package's files (path relative to its root -> text): each template of `templates/<kind>/` filled in with
    `values`, an empty file where the layout names no template."""
    folder = TEMPLATES / kind
    return {
        path: "" if template is None else Template((folder / template).read_text()).substitute(values)
        for path, template in layout.items()
    }


def write_package(texts: dict[str, str], out: Path) -> None:
    """Write the files under `out` all at once (a staging folder renamed into place); `out` must not exist yet or
    be empty, so nothing is overwritten and nothing is left half-written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} already exists and is not empty", "choose a new folder for the plugin package")
    with staged_folder(out.parent) as staging:
        for relative, text in texts.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)


def template_values(name: str, display_name: str | None) -> dict[str, str]:
    """What every package template is rendered with: the plugin's name, its distribution slug, the display name
    and the core version range it depends on."""
    return {
        "name": name,
        "slug": name.replace("_", "-"),
        "display_name": display_name or name,
        "core_requirement": CORE_REQUIREMENT,
    }

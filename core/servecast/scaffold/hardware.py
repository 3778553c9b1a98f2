"""A hardware plugin package for a new GPU: pyproject with the entry point, the spec to fill in, the tables folder
`servecast collect --into` writes to, a README and a contract test."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path
from string import Template

from servecast.errors import InputError

NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""A system name as servecast spells them (`h100_sxm`): it is also the Python package's suffix."""
TEMPLATES = files(__package__) / "templates" / "hardware"


def hardware_plugin_files(name: str, display_name: str | None = None) -> dict[str, str]:
    """The package's files (path relative to its root -> text) for system `name`."""
    if not NAME.fullmatch(name):
        raise InputError(
            f"hardware name {name!r} cannot name a system and a Python package",
            "use lower-case letters, digits and underscores, starting with a letter (e.g. 'h200_sxm')",
        )
    values = {"name": name, "slug": name.replace("_", "-"), "display_name": display_name or name}
    package = f"servecast_hardware_{name}"
    layout = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"{package}/__init__.py": None,
        f"{package}/py.typed": None,
        f"{package}/plugin.py": "plugin.py.tmpl",
        f"{package}/data/{name}.toml": "spec.toml.tmpl",
        f"{package}/data/tables/README.md": "tables-README.md.tmpl",
        "tests/test_contract.py": "test_contract.py.tmpl",
    }
    return {
        path: "" if template is None else Template((TEMPLATES / template).read_text()).substitute(values)
        for path, template in layout.items()
    }


def write_package(texts: dict[str, str], out: Path) -> None:
    """Write the files under `out` all at once (a staging folder renamed into place); `out` must not exist yet or
    be empty, so nothing is overwritten and nothing is left half-written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} already exists and is not empty", "choose a new folder for the plugin package")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for relative, text in texts.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

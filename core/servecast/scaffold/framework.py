"""A framework plugin package for a new serving framework: pyproject with the entry point, the spec to fill in, the
plugin module answering the registration, scheduler and launch hooks, a README and a contract test."""

from __future__ import annotations

from servecast.errors import InputError
from servecast.scaffold.package import check_display_name, check_name, check_not_taken, render, template_values


def framework_plugin_files(name: str, display_name: str | None = None) -> dict[str, str]:
    """The package's files (path relative to its root -> text) for framework `name`."""
    check_name(name, "framework name", "a framework", "myserve")
    check_not_taken(name, "framework name")
    if name.startswith("hardware_"):
        raise InputError(
            f"framework name {name!r} starts with 'hardware_', the prefix of hardware plugins (servecast-hardware-*)",
            "name the framework without that prefix",
        )
    check_display_name(display_name)
    values = template_values(name, display_name)
    package = f"servecast_{name}"
    layout = {
        "pyproject.toml": "pyproject.toml.tmpl",
        "README.md": "README.md.tmpl",
        f"{package}/__init__.py": "__init__.py.tmpl",
        f"{package}/py.typed": None,
        f"{package}/plugin.py": "plugin.py.tmpl",
        f"{package}/data/{name}.toml": "spec.toml.tmpl",
        "tests/test_contract.py": "test_contract.py.tmpl",
    }
    return render("framework", layout, values)

"""A hardware plugin package for a new GPU: pyproject with the entry point, the spec to fill in, the tables folder
`servecast collect --into` writes to, a README and a contract test."""

from __future__ import annotations

from servecast.scaffold.package import check_display_name, check_name, check_not_taken, render, template_values


def hardware_plugin_files(name: str, display_name: str | None = None) -> dict[str, str]:
    """The package's files (path relative to its root -> text) for system `name`."""
    check_name(name, "hardware name", "a system", "h200_sxm")
    check_not_taken(f"hardware_{name}", "hardware name")
    check_display_name(display_name)
    values = template_values(name, display_name)
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
    return render("hardware", layout, values)

"""Plugins, the shipped ones and the ones `servecast new-plugin` writes, import servecast only through its public API:
`servecast.plugin` (and `servecast.testing` in contract tests), which imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import servecast.plugin
from servecast.scaffold.framework import framework_plugin_files
from servecast.scaffold.hardware import hardware_plugin_files

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = frozenset({"servecast.plugin", "servecast.testing"})
PLUGIN_FILES = sorted(ROOT.glob("plugins/*/servecast_*/**/*.py"))


def internal_imports(source: str, where: str) -> list[str]:
    """`where:line imports module` for each import of a servecast module other than the public ones."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        found += [
            f"{where}:{node.lineno} imports {module}"
            for module in modules
            if (module == "servecast" or module.startswith("servecast.")) and module not in PUBLIC
        ]
    return found


def test_the_shipped_plugins_are_found():
    assert {path.relative_to(ROOT).parts[1] for path in PLUGIN_FILES} == {
        "hardware_ada",
        "hardware_amd",
        "hardware_ampere",
        "hardware_blackwell",
        "hardware_h100",
        "vllm",
        "sglang",
        "trtllm",
    }


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=lambda path: str(path.relative_to(ROOT / "plugins")))
def test_a_shipped_plugin_imports_only_the_public_api(path):
    assert internal_imports(path.read_text(), str(path.relative_to(ROOT))) == []


@pytest.mark.parametrize("files", [framework_plugin_files("myserve"), hardware_plugin_files("mygpu")])
def test_a_scaffolded_plugin_imports_only_the_public_api(files):
    python = {path: text for path, text in files.items() if path.endswith(".py")}
    assert python
    assert [problem for path, text in python.items() for problem in internal_imports(text, path)] == []


def test_the_rule_names_the_file_and_line():
    source = "from servecast.plugin import hookimpl\n\nfrom servecast.launch import knobs\nimport servecast\n"
    assert internal_imports(source, "x.py") == ["x.py:3 imports servecast.launch", "x.py:4 imports servecast"]


def test_every_public_name_exists():
    assert [name for name in servecast.plugin.__all__ if not hasattr(servecast.plugin, name)] == []


def test_the_public_api_imports_on_its_own():
    completed = subprocess.run(
        [sys.executable, "-c", "import servecast.plugin"], capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 0, completed.stderr

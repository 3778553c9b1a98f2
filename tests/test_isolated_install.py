"""Installed alone, each distribution contributes exactly its own plugin: the operator installs only what they need."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUR_DISTRIBUTIONS = ("servecast", "servecast-vllm", "servecast-hardware-h100", "servecast-sglang", "servecast-trtllm")

pytestmark = pytest.mark.install


def uv_executable() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` exports UV, the path of its own binary
    assert uv, "this test needs uv (.ci/run installs it; see the README)"
    return uv


class Environment:
    """A fresh virtual environment outside the repository, with non-editable installs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uv = uv_executable()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVECAST_", "VIRTUAL_ENV", "PYTHON"))}
        subprocess.run([self.uv, "venv", "--quiet", "--python", sys.executable, str(root)], check=True, env=self.env)

    def install(self, *paths: Path | str) -> None:
        refresh = [arg for name in OUR_DISTRIBUTIONS for arg in ("--refresh-package", name)]
        command = [
            self.uv,
            "pip",
            "install",
            "--quiet",
            "--no-sources",
            "--python",
            str(self.root / "bin" / "python"),
            *refresh,
        ]
        subprocess.run([*command, *map(str, paths)], check=True, env=self.env, cwd=self.root)

    def servecast_json(self, *args: str) -> list[dict]:
        completed = subprocess.run(
            [str(self.root / "bin" / "servecast"), *args, "--json"],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    def pytest(self, folder: Path) -> subprocess.CompletedProcess[str]:
        """Run pytest on `folder` (from inside it) with this environment's interpreter."""
        return subprocess.run(
            [str(self.root / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=folder.parent,
            check=False,
        )

    def python(self, code: str) -> str:
        command = [str(self.root / "bin" / "python"), "-c", code]
        return subprocess.run(command, capture_output=True, text=True, env=self.env, cwd=self.root, check=True).stdout


def test_core_plus_vllm_lists_only_vllm_and_adding_h100_adds_its_hardware(tmp_path):
    venv = Environment(tmp_path / "venv")
    venv.install(ROOT, ROOT / "plugins" / "vllm")

    assert str(venv.root) in venv.python("import servecast; print(servecast.__file__)"), "not a non-editable install"
    plugins = venv.servecast_json("plugins")
    assert [(p["name"], p["distribution"], p["status"]) for p in plugins] == [
        ("core", "servecast", "ok"),
        ("vllm", "servecast-vllm", "ok"),
    ]
    assert [f["name"] for f in venv.servecast_json("frameworks", "list")] == ["vllm"]
    assert venv.servecast_json("hardware", "list") == []

    venv.install(ROOT / "plugins" / "hardware_h100")
    assert [h["name"] for h in venv.servecast_json("hardware", "list")] == [
        "h100_nvl",
        "h100_pcie",
        "h100_sxm",
        "h20",
        "h200_sxm",
    ]
    assert sorted(p["name"] for p in venv.servecast_json("plugins")) == ["core", "hardware_h100", "vllm"]

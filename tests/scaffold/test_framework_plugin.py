"""`servecast new-plugin framework` writes a package whose spec loads with every value marked a placeholder, which
the core can estimate with and which stops a launch with what to add, and which installs and passes its own tests
as generated."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result

from servecast.cli import cli
from servecast.domain import SourceKind
from servecast.domain.calibration import ParameterOrigin
from servecast.specfiles import load_framework_spec

from ..test_isolated_install import ROOT, Environment

ESTIMATE = ["--model", "meta-llama/Llama-3.1-8B", "--system", "h100_sxm", "--framework", "myserve"]
LOAD = ["--isl", "1000", "--osl", "100", "--concurrency", "16", "--tp", "1"]


def scaffold(tmp_path: Path, *extra: str) -> Path:
    out = tmp_path / "myserve"
    result = CliRunner().invoke(cli, ["new-plugin", "framework", "myserve", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A generated package importable and registered as a distribution, as an editable install would leave it, next
    to the workspace's plugins (h100_sxm among them)."""
    out = scaffold(tmp_path)
    dist_info = tmp_path / "site" / "servecast_myserve-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: servecast-myserve\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text("[servecast]\nmyserve = servecast_myserve.plugin\n")
    monkeypatch.syspath_prepend(str(out))
    monkeypatch.syspath_prepend(str(dist_info.parent))
    yield out
    for module in [name for name in sys.modules if name.startswith("servecast_myserve")]:
        del sys.modules[module]


def servecast(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_the_spec_loads_and_every_value_is_marked_a_placeholder(tmp_path):
    out = scaffold(tmp_path, "--display-name", "My Serve")
    spec_path = out / "servecast_myserve" / "data" / "myserve.toml"
    assert "EVERYTHING BELOW IS A PLACEHOLDER" in spec_path.read_text()
    spec = load_framework_spec(spec_path)
    assert (spec.name, spec.display_name, spec.version_names) == ("myserve", "My Serve", ("0.0.0",))
    (version,) = spec.versions
    assert version.notes and "PLACEHOLDER" in version.notes
    for knob in version.knobs:
        assert knob.source.kind is SourceKind.DOCUMENTATION and "PLACEHOLDER" in knob.source.citation
        assert knob.source.url and urlsplit(knob.source.url).hostname.endswith(".invalid")  # a URL that never resolves
        assert "PLACEHOLDER" in knob.description and "placeholder" in (knob.default_note or "")
    kernels = [version.kernels.attention, version.kernels.all_reduce, version.kernels.moe]
    scheduling = version.scheduling
    assert scheduling is not None and "PLACEHOLDER" in scheduling.note
    for source in [kernel.source for kernel in kernels if kernel] + [scheduling.source]:
        assert source.kind is SourceKind.ASSUMPTION and "PLACEHOLDER" in source.citation
    assert all(kernel and "placeholder" in (kernel.note or "") for kernel in kernels)
    overheads = scheduling.overheads.model_dump()
    assert {p["origin"] for p in overheads.values()} == {ParameterOrigin.ASSUMPTION}
    assert all("placeholder" in p["note"] for p in overheads.values())


def test_the_package_registers_its_framework_answers_its_scheduler_and_names_its_entry_point(tmp_path):
    out = scaffold(tmp_path)
    pyproject = (out / "pyproject.toml").read_text()
    assert 'name = "servecast-myserve"' in pyproject and 'dependencies = ["servecast>=0.1,<1"]' in pyproject
    assert '[project.entry-points.servecast]\nmyserve = "servecast_myserve.plugin"' in pyproject
    assert 'framework_names = ("myserve",)' in (out / "tests" / "test_contract.py").read_text()
    assert (out / "servecast_myserve" / "py.typed").exists()


def test_the_core_lists_shows_and_estimates_with_the_scaffolded_framework(installed):
    listed = servecast("frameworks", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (entry,) = [f for f in json.loads(listed.stdout) if f["name"] == "myserve"]
    assert (entry["plugin"], entry["distribution"]) == ("myserve", "servecast-myserve")
    shown = servecast("frameworks", "show", "myserve")
    assert shown.exit_code == 0 and "placeholder" in shown.stdout
    estimate = servecast("estimate", *ESTIMATE, *LOAD, "--json")
    assert estimate.exit_code == 0, estimate.output
    assert json.loads(estimate.stdout)["tokens_per_s_per_gpu"] > 0


def test_a_launch_stops_with_what_to_add_and_writes_nothing(installed, tmp_path):
    launch = tmp_path / "launch"
    result = servecast("generate", *ESTIMATE, *LOAD, "--out", str(launch))
    assert result.exit_code == 3
    assert "servecast_myserve models myserve but writes no launch configs yet" in result.output
    assert "servecast_myserve/launch.py" in result.output
    assert not launch.exists() or not any(launch.iterdir())


@pytest.mark.parametrize(
    ("name", "display_name", "complaint"),
    [
        ("My Serve", None, "'My Serve'"),
        ("vllm", None, "taken by servecast-vllm"),
        ("core", None, "taken by servecast's built-in plugin"),
        ("hardware_x", None, "prefix of hardware plugins"),
        ("myserve", 'My "Serve"', "holds a quote"),
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(tmp_path, name, display_name, complaint):
    extra = [] if display_name is None else ["--display-name", display_name]
    result = servecast("new-plugin", "framework", name, "--out", str(tmp_path / "x"), *extra)
    assert result.exit_code == 2 and complaint in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_occupied_folder_is_refused_and_left_as_it_was(tmp_path):
    out = scaffold(tmp_path)
    before = sorted(path.relative_to(out) for path in out.rglob("*"))
    again = servecast("new-plugin", "framework", "other", "--out", str(out))
    assert again.exit_code == 2 and "not empty" in again.output
    assert sorted(path.relative_to(out) for path in out.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left behind


@pytest.mark.install
def test_the_generated_package_installs_lists_its_framework_and_passes_its_own_tests(tmp_path):
    out = scaffold(tmp_path, "--display-name", "My Serve")
    venv = Environment(tmp_path / "venv")
    venv.install(ROOT, out, "pytest")
    assert [(f["name"], f["display_name"]) for f in venv.servecast_json("frameworks", "list")] == [
        ("myserve", "My Serve")
    ]
    completed = venv.pytest(out / "tests")
    assert completed.returncode == 0, completed.stdout + completed.stderr

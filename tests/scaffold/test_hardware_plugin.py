"""`servecast new-plugin hardware` writes a package that loads, installs and passes its own tests as generated, and
whose tables folder registers whatever measured tables are dropped into it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.domain import SourceKind
from servecast.perfdb.folder import tables_in
from servecast.perfdb.loading import PerfTableError
from servecast.scaffold.hardware import hardware_plugin_files
from servecast.specfiles import load_hardware_spec

from ..estimate.conftest import SIDECAR
from ..test_isolated_install import ROOT, Environment

GEMM_SIDECAR = SIDECAR.replace('"h100_sxm"', '"h200_sxm"')


def scaffold(tmp_path, *extra: str):
    out = tmp_path / "h200"
    result = CliRunner().invoke(cli, ["new-plugin", "hardware", "h200_sxm", "--out", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def test_the_spec_loads_and_every_figure_is_marked_a_placeholder(tmp_path):
    out = scaffold(tmp_path, "--display-name", "NVIDIA H200 SXM")
    spec = load_hardware_spec(out / "servecast_hardware_h200_sxm" / "data" / "h200_sxm.toml")
    assert (spec.name, spec.display_name) == ("h200_sxm", "NVIDIA H200 SXM")
    assert {p.source.kind for p in spec.provenance.values()} == {SourceKind.ASSUMPTION}
    assert all(p.source.is_placeholder for p in spec.provenance.values())


def test_bad_names_and_occupied_folders_are_refused_and_nothing_is_written(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(cli, ["new-plugin", "hardware", "H200 SXM", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "'H200 SXM'" in bad.output
    taken = runner.invoke(cli, ["new-plugin", "hardware", "h100", "--out", str(tmp_path / "x")])
    assert taken.exit_code == 2 and "'h100' is taken by servecast-hardware-h100" in taken.output
    assert not (tmp_path / "x").exists()
    scaffold(tmp_path)
    again = runner.invoke(cli, ["new-plugin", "hardware", "h200_sxm", "--out", str(tmp_path / "h200")])
    assert again.exit_code == 2 and "not empty" in again.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left behind


def test_a_tables_folder_registers_each_sidecar_with_its_csv(tmp_path):
    (tmp_path / "gemm.toml").write_text(GEMM_SIDECAR)
    with pytest.raises(PerfTableError, match="no gemm.csv beside it"):
        tables_in(tmp_path)
    (tmp_path / "gemm.csv").write_text("dtype,m,n,k,latency\n")
    (ref,) = tables_in(tmp_path)
    assert (ref.hardware, ref.framework, ref.op.value) == ("h200_sxm", None, "gemm")
    assert tables_in(tmp_path / "absent") == []


@pytest.mark.install
def test_the_generated_package_installs_and_passes_its_own_tests(tmp_path):
    out = scaffold(tmp_path)
    venv = Environment(tmp_path / "venv")
    venv.install(ROOT, out, "pytest")
    assert [h["name"] for h in venv.servecast_json("hardware", "list")] == ["h200_sxm"]
    completed = venv.pytest(out / "tests")
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_a_spec_still_citing_placeholders_is_warned_about_on_every_command(fake_site):
    spec = hardware_plugin_files("lab_gpu")["servecast_hardware_lab_gpu/data/lab_gpu.toml"]
    fake_site.add_spec_plugin("lab", "servecast_register_hardware", "load_hardware_spec", spec)
    fake_site.add_hardware_plugin("real", "real_gpu")
    (warning,) = fake_site.host().warnings
    assert warning.startswith("lab_gpu (plugin lab): 12 of 12 cited figures are scaffold placeholders")
    assert "`servecast hardware show lab_gpu`" in warning

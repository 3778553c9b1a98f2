"""`servecast hardware check FILE`: a hardware plugin's spec, calibration and tables checked before installing."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

from click.testing import CliRunner

from servecast.cli import cli
from servecast.scaffold.hardware import hardware_plugin_files
from servecast.specfiles import load_hardware_spec

H100_DATA = Path(str(files("servecast_hardware_h100") / "data"))


def check(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["hardware", "check", *arguments])
    return result.exit_code, result.output


def test_the_shipped_h100_files_pass_with_their_table():
    code, output = check(str(H100_DATA / "h100_sxm.toml"))
    assert code == 0, output
    spec = load_hardware_spec(H100_DATA / "h100_sxm.toml")
    assert spec.calibration is not None
    parameters = len(spec.calibration.parameters)
    assert f"h100_sxm: {len(spec.figure_paths())} sourced figures, {parameters} parameters, 1 tables" in output
    assert "gemm: 35742 points (bf16, fp16)" in output
    assert "warning" not in output


def test_every_problem_of_a_broken_spec_is_named_at_once(tmp_path):
    shutil.copy(H100_DATA / "h100_sxm_calibration.toml", tmp_path)
    text = (H100_DATA / "h100_sxm.toml").read_text()
    text = text.replace("sm_count = { value = 132", "sm_count = { value = -3")
    text = text.replace("mem_bw_bytes_per_s = { value = 3.35e12", 'mem_bw_bytes_per_s = { value = "fast"')
    (tmp_path / "h100_sxm.toml").write_text(text)
    code, output = check(str(tmp_path / "h100_sxm.toml"))
    assert code == 3
    assert "gpu.mem_bw_bytes_per_s: must be a number (got 'fast')" in output
    assert "gpu.sm_count: must be above 0 (got -3)" in output
    assert "Traceback" not in output


def test_a_scaffolded_spec_is_readable_but_warned_about(tmp_path):
    spec = tmp_path / "lab_gpu.toml"
    spec.write_text(hardware_plugin_files("lab_gpu")["servecast_hardware_lab_gpu/data/lab_gpu.toml"])
    code, output = check(str(spec))
    assert code == 0, output
    assert "scaffold placeholders" in output
    assert "no calibration: ops without a measured table are estimated at speed of light" in output


def test_a_table_of_another_system_is_named_not_counted(tmp_path):
    for name in ("h100_sxm.toml", "h100_sxm_calibration.toml"):
        shutil.copy(H100_DATA / name, tmp_path)
    (tmp_path / "tables").mkdir()
    for name in ("gemm.csv", "gemm.toml"):
        shutil.copy(H100_DATA / "tables" / name, tmp_path / "tables")
    sidecar = tmp_path / "tables" / "gemm.toml"
    sidecar.write_text(sidecar.read_text().replace('hardware = "h100_sxm"', 'hardware = "h200_sxm"'))
    code, output = check(str(tmp_path / "h100_sxm.toml"))
    assert code == 0, output
    assert ", 0 tables" in output
    assert "warning: gemm.toml is for h200_sxm, not h100_sxm" in output


def test_a_calibration_file_the_spec_names_but_lacks_is_an_authors_error(tmp_path):
    shutil.copy(H100_DATA / "h100_sxm.toml", tmp_path)
    code, output = check(str(tmp_path / "h100_sxm.toml"))
    assert code == 3
    assert "calibration = 'h100_sxm_calibration.toml', but there is no such file beside the spec" in output
    assert "servecast hardware fit h100_sxm --write" in output
    assert "reinstall" not in output

"""The A100 SXM4 80GB: datasheet figures, no FP8 tensor cores, a calibration transferred from H100's, and Vidur's
measured GEMM table rebuilt from its source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from servecast.domain import ComputeDtype, Target
from servecast.domain.calibration import ParameterOrigin
from servecast.host import PluginHost
from servecast.ops import EstimateProvenance, OpKind
from servecast_hardware_ampere.plugin import servecast_register_hardware

REPO = Path(__file__).resolve().parents[3]
MEASURED = REPO.parent / "shared" / "calibration" / "measured"


def a100(name="a100_sxm"):
    return next(spec for spec in servecast_register_hardware() if spec.name == name)


def test_dense_peaks_memory_and_links_match_the_datasheet():
    spec = a100()
    rates = spec.gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.BF16] == rates[ComputeDtype.FP16] == 312e12
    assert ComputeDtype.FP8 not in rates and ComputeDtype.FP4 not in rates
    assert (spec.gpu.memory_bytes, spec.gpu.mem_bw_bytes_per_s) == (80 * 2**30, 2.039e12)
    assert spec.node.intra_node_bw_bytes_per_s == 600e9 / 2


def test_the_40gb_part_has_hbm2_and_the_same_peaks():
    small, large = a100("a100_sxm_40gb"), a100()
    assert (small.gpu.memory_bytes, small.gpu.mem_bw_bytes_per_s) == (40 * 2**30, 1.555e12)
    assert small.gpu.dense_tensor_flops_per_s == large.gpu.dense_tensor_flops_per_s


def test_the_calibration_is_transferred_from_h100():
    calibration = a100().calibration
    assert calibration is not None
    assert {p.origin for p in calibration.parameters.values()} == {ParameterOrigin.TRANSFERRED}


def test_gemms_inside_the_table_are_measured():
    host = PluginHost.from_entry_points()
    estimate = host.op_estimator(OpKind.GEMM, Target(hardware="a100_sxm"))({"m": 128, "n": 4096, "k": 4096}, "bf16")
    assert estimate.provenance[0] in (EstimateProvenance.MEASURED, EstimateProvenance.INTERPOLATED)


@pytest.mark.skipif(not (MEASURED / "gemm.csv.gz").is_file(), reason="the measured pack is not beside the repository")
def test_the_committed_table_is_what_its_source_builds():
    script = REPO / "scripts" / "build_vidur_tables.py"
    result = subprocess.run(
        [sys.executable, str(script), "--gpu", "A100", "--measured", str(MEASURED), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr

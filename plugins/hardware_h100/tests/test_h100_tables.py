"""The H100 plugin's measured tables: they load, answer the shapes they hold, and match their published source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from servecast.domain.target import Target
from servecast.host import PluginHost, PluginSettings, builtin_plugins, discover_plugins
from servecast.ops.estimator import EstimateProvenance, OpKind

REPO = Path(__file__).resolve().parents[3]
MEASURED = REPO.parent / "shared" / "calibration" / "measured" / "gemm.csv.gz"


@pytest.fixture(scope="module")
def gemm():
    host = PluginHost([*builtin_plugins(), *discover_plugins()], PluginSettings.resolve(strict=True, disabled=()))
    return host.op_estimator(OpKind.GEMM, Target(hardware="h100_sxm"))


def test_llama_70b_gemms_are_measured_and_other_shapes_calibrated(gemm):
    """Llama-2-70B's (and Llama-3.1-70B's) output projection at TP 1 is in Vidur's profiles; a shape near the
    profiled ones borrows their ratio to the model; Llama-3.2-1B's vocabulary projection is far from all."""
    estimate = gemm({"m": [256, 300, 256, 256], "n": [8192, 8192, 8000, 128256], "k": [8192, 8192, 8000, 2048]}, "bf16")
    assert estimate.provenance.tolist() == [
        EstimateProvenance.MEASURED,
        EstimateProvenance.INTERPOLATED,
        EstimateProvenance.EXTRAPOLATED,
        EstimateProvenance.CALIBRATED_ROOFLINE,
    ]
    assert "Vidur" in estimate.source_of(0)
    assert "nearest shapes in" in estimate.source_of(2)


@pytest.mark.skipif(not MEASURED.exists(), reason="the published measurements (../shared) are not beside this clone")
def test_the_committed_table_is_what_the_build_script_makes_of_its_source():
    script = REPO / "scripts" / "build_vidur_tables.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr

"""Calibration: reading published kernel measurements, fitting, and the calibration file's validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from servecast.calibrate import read_published_kernels
from servecast.calibrate.fit import fit_calibration
from servecast.calibrate.measured import read_measured_kernels
from servecast.domain.kernels import AllReduceKernel
from servecast.errors import InputError, SpecFileError
from servecast.estimate.parameters import CALIBRATION_PARAMETERS
from servecast.specfiles.calibration_file import load_calibration

SHARED_KERNELS = Path(__file__).resolve().parents[3] / "shared" / "calibration" / "kernels.csv"
SHARED_MEASURED = SHARED_KERNELS.parent / "measured"
HEADER = "source,gpu,op,shape/params,dtype,value,unit,notes\n"


def test_published_rows_become_points_at_explicit_shapes_or_are_skipped_with_a_reason(tmp_path):
    (tmp_path / "k.csv").write_text(
        HEADER
        + "s1,H100 SXM,GEMM (torch.matmul) max achievable,best shape MxNxK=2048x2048x13312,BF16,794.5,TFLOPS,n\n"
        + 's2,H100,"all-reduce latency, vLLM custom allreduce (copy to IPC buffer)",'
        + "tp=4; 'data size'=512,bf16,0.0091,ms,n\n"
        + "s3,H100 PCIe,GEMM max achievable,best shape 6912x16384x2048,BF16,499.5,TFLOPS,n\n"
    )
    points, skipped = read_published_kernels(tmp_path / "k.csv")
    gemm, all_reduce = points
    assert gemm.shapes == {"m": 2048, "n": 2048, "k": 13312}
    assert gemm.measured_ms == pytest.approx(2 * 2048 * 2048 * 13312 / 794.5e12 * 1e3)
    assert all_reduce.shapes == {"message_bytes": 1024, "num_gpus": 4}
    assert all_reduce.all_reduce_kernel is AllReduceKernel.VLLM_CUSTOM
    assert [(row.line, row.reason) for row in skipped] == [(4, "not an H100 SXM (H100 PCIe)")]


@pytest.mark.skipif(not SHARED_MEASURED.exists(), reason="the shared calibration data is not next to this checkout")
def test_the_shipped_h100_calibration_is_what_the_fit_produces(h100):
    points, _ = read_published_kernels(SHARED_KERNELS)
    points += read_measured_kernels(SHARED_MEASURED)
    bare = h100.model_copy(update={"calibration": None})
    fitted, _, _ = fit_calibration(points, bare, ["kernels.csv"], "the test suite")
    assert h100.calibration is not None
    for name, parameter in h100.calibration.parameters.items():
        assert fitted.parameters[name].value == pytest.approx(parameter.value, rel=1e-3), name
        assert fitted.parameters[name].origin is parameter.origin


@pytest.mark.skipif(not SHARED_MEASURED.exists(), reason="the shared calibration data is not next to this checkout")
def test_the_measured_pack_fits_small_decode_calls_and_fp8_and_fa2_attention_only():
    points = read_measured_kernels(SHARED_MEASURED)
    fitted = {(point.family, point.dtype.value, point.shapes.get("kv_len")) for point in points if point.fit}
    assert ("decode_attention", "bf16", 128.0) in fitted
    assert {family for family, dtype, _ in fitted} == {"decode_attention", "context_attention"}
    assert all(point.shapes["kv_len"] <= 512 for point in points if point.fit and point.family == "decode_attention")
    assert {point.family for point in points} == {"decode_attention", "context_attention", "all_reduce", "p2p"}


def test_a_missing_measured_pack_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="attention.csv.gz"):
        read_measured_kernels(tmp_path)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ('"gemm.k_overhaed" = { value = 600, origin = "fitted", note = "typo" }', "unknown calibration parameter"),
        ('"gemm.memory_efficiency" = { value = 1.3, origin = "fitted", note = "too good" }', r"in \(0, 1\]"),
        ('"gemm.k_overhead" = { value = 600, origin = "guessed", note = "bad" }', "origin"),
    ],
)
def test_a_bad_calibration_file_is_a_clear_error(tmp_path, parameters, message):
    path = tmp_path / "cal.toml"
    path.write_text(
        'schema_version = 1\nfitted_by = "hand"\nfitted_on = 2026-11-21\ndata = ["x"]\n[parameters]\n' + parameters
    )
    with pytest.raises(SpecFileError, match=message):
        load_calibration(path, CALIBRATION_PARAMETERS)

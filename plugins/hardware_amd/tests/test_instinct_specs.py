"""MI300X and MI325X: AMD's datasheet peaks and memory, AMD as their vendor, and GEMM efficiencies derived from the
published matmul rates while the rest of the calibration is H100's."""

import pytest

from servecast.domain import ComputeDtype, GpuVendor
from servecast.domain.calibration import ParameterOrigin
from servecast_hardware_amd.plugin import servecast_register_hardware


def spec(name):
    return next(spec for spec in servecast_register_hardware() if spec.name == name)


@pytest.mark.parametrize(("name", "memory_gib", "bandwidth"), [("mi300x", 192, 5.3e12), ("mi325x", 256, 6.0e12)])
def test_peaks_memory_and_vendor_match_the_datasheets(name, memory_gib, bandwidth):
    system = spec(name)
    rates = system.gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.BF16] == 1307.4e12 and rates[ComputeDtype.FP8] == 2614.9e12
    assert ComputeDtype.FP4 not in rates
    assert (system.gpu.memory_bytes, system.gpu.mem_bw_bytes_per_s) == (memory_gib * 2**30, bandwidth)
    assert system.vendor is GpuVendor.AMD and not system.node.nvswitch


def test_mi355x_doubles_the_matrix_rates_and_has_hbm3e():
    system = spec("mi355x")
    rates = system.gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.BF16] == 2.5e15 and rates[ComputeDtype.FP8] == 5.0e15
    assert (system.gpu.memory_bytes, system.gpu.mem_bw_bytes_per_s) == (288 * 2**30, 8.0e12)


@pytest.mark.parametrize("name", ["mi300x", "mi325x", "mi355x"])
def test_gemm_efficiencies_are_derived_and_the_rest_transferred(name):
    calibration = spec(name).calibration
    assert calibration is not None
    derived = {n for n, p in calibration.parameters.items() if p.origin is ParameterOrigin.DERIVED}
    assert derived == {f"gemm.efficiency.{d}" for d in ("bf16", "fp16", "fp8", "int8", "fp8_block")}
    assert calibration.value("gemm.efficiency.bf16") == pytest.approx(0.911325 * 0.5415 / 0.803, rel=0.01)
    others = {p.origin for n, p in calibration.parameters.items() if n not in derived}
    assert others == {ParameterOrigin.TRANSFERRED}

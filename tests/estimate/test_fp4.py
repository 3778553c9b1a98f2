"""NVFP4 GEMMs: W4A4 at the FP4 tensor-core rate on GPUs that have one (Blackwell), dequantized to 16 bits elsewhere."""

from __future__ import annotations

import pytest

from servecast.domain import Target
from servecast.host import PluginHost
from servecast.ops import OpKind

LARGE = {"m": 8192, "n": 8192, "k": 8192}


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def gemm_ms(host: PluginHost, system: str, dtype: str) -> float:
    estimator = host.op_estimator(OpKind.GEMM, Target(hardware=system))
    return float(estimator(LARGE, dtype).latency_ms[0])


def test_a_large_nvfp4_gemm_runs_at_twice_the_fp8_rate_on_fp4_tensor_cores(host):
    assert gemm_ms(host, "b200_sxm", "fp8") / gemm_ms(host, "b200_sxm", "nvfp4") == pytest.approx(2.0, rel=0.05)


def test_without_fp4_tensor_cores_nvfp4_is_a_weight_only_gemm_slower_than_fp8(host):
    assert gemm_ms(host, "h100_sxm", "nvfp4") > gemm_ms(host, "h100_sxm", "bf16") > gemm_ms(host, "h100_sxm", "fp8")

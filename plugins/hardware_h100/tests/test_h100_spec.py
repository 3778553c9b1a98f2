"""The H100 SXM figures match NVIDIA's published specifications."""

import pytest

from servecast.domain import ComputeDtype, SourceKind
from servecast_hardware_h100.plugin import servecast_register_hardware


def h100():
    return next(spec for spec in servecast_register_hardware() if spec.name == "h100_sxm")


def test_dense_peaks_are_half_the_sparse_datasheet_figures():
    rates = h100().gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.BF16] == rates[ComputeDtype.FP16] == 989.4e12
    assert rates[ComputeDtype.FP8] == rates[ComputeDtype.INT8] == pytest.approx(2 * rates[ComputeDtype.BF16], rel=1e-3)
    assert ComputeDtype.FP4 not in rates, "Hopper has no FP4 tensor cores"


def test_memory_and_links_match_the_datasheets():
    spec = h100()
    assert spec.gpu.mem_bw_bytes_per_s == 3.35e12
    assert spec.gpu.memory_bytes == 80 * 2**30
    assert spec.node.gpus_per_node == 8
    assert spec.node.intra_node_bw_bytes_per_s == 900e9 / 2


def test_latencies_are_marked_as_assumptions_not_datasheet_facts():
    spec = h100()
    for path in ("node.intra_node_latency_s", "node.inter_node_latency_s"):
        assert spec.provenance[path].source.kind is SourceKind.ASSUMPTION

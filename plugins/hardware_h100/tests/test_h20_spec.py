"""The H20: GH100 with 78 SMs, a capped tensor rate, 96 GB of HBM3 and H100's NVLink; no NVIDIA datasheet exists, so
its figures say what they are, and its calibration is transferred from H100's."""

from servecast.domain import ComputeDtype, SourceKind
from servecast_hardware_h100.plugin import servecast_register_hardware


def specs():
    by_name = {spec.name: spec for spec in servecast_register_hardware()}
    return by_name["h100_sxm"], by_name["h20"]


def test_dense_peaks_memory_and_device_figures():
    h100, h20 = specs()
    rates = h20.gpu.dense_tensor_flops_per_s
    assert rates[ComputeDtype.FP8] == rates[ComputeDtype.INT8] == 296e12
    assert rates[ComputeDtype.BF16] == rates[ComputeDtype.FP16] == 148e12
    assert rates[ComputeDtype.TF32] == 74e12
    assert ComputeDtype.FP4 not in rates
    assert rates[ComputeDtype.BF16] < h100.gpu.dense_tensor_flops_per_s[ComputeDtype.BF16] / 6
    assert (h20.gpu.memory_bytes, h20.gpu.mem_bw_bytes_per_s) == (96 * 2**30, 4.0e12)
    assert h20.gpu.mem_bw_bytes_per_s > h100.gpu.mem_bw_bytes_per_s
    assert (h20.gpu.sm_count, h20.gpu.l2_cache_bytes) == (78, 60 * 2**20)
    assert h20.gpu.device_name == "NVIDIA H20"
    assert h20.node == h100.node


def test_no_figure_claims_an_nvidia_datasheet():
    _, h20 = specs()
    kinds = {provenance.source.kind for provenance in h20.provenance.values()}
    assert SourceKind.DATASHEET not in kinds
    assert h20.provenance["gpu.sm_count"].source.kind is SourceKind.PUBLISHED_MEASUREMENT
    assert h20.provenance["gpu.dense_tensor_flops_per_s.bf16"].source.citation.startswith("NOT an NVIDIA datasheet")

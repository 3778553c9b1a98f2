"""The H200 SXM: the H100 SXM5's die and links with HBM3e, and a calibration transferred from H100's."""

from servecast.domain import ComputeDtype
from servecast_hardware_h100.plugin import servecast_register_hardware


def specs():
    by_name = {spec.name: spec for spec in servecast_register_hardware()}
    return by_name["h100_sxm"], by_name["h200_sxm"]


def test_memory_is_hbm3e_and_the_rest_is_the_h100s():
    h100, h200 = specs()
    assert (h200.gpu.memory_bytes, h200.gpu.mem_bw_bytes_per_s) == (141 * 2**30, 4.8e12)
    assert h200.gpu.dense_tensor_flops_per_s == h100.gpu.dense_tensor_flops_per_s
    assert h200.gpu.dense_tensor_flops_per_s[ComputeDtype.BF16] == 989.4e12
    assert (h200.gpu.sm_count, h200.gpu.l2_cache_bytes) == (h100.gpu.sm_count, h100.gpu.l2_cache_bytes)
    assert h200.node == h100.node
    assert h200.gpu.device_name == "NVIDIA H200"

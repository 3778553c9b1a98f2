"""TensorRT-LLM launches run checkpoints quantized beforehand: nothing is quantized at load time, and a KV-cache
dtype the PyTorch backend lacks is refused instead of crashing."""

import pytest

from servecast.domain import KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.testing import single_instance
from servecast_trtllm.launch import launch_artifacts
from servecast_trtllm.plugin import servecast_register_frameworks


def artifacts(**values):
    (spec,) = servecast_register_frameworks()
    return launch_artifacts(single_instance("trtllm", "1.0.0", **values), spec.version("1.0.0"))


@pytest.mark.parametrize("quantization", [Quantization.FP8, Quantization.W4A16_AWQ, Quantization.NVFP4])
def test_a_16_bit_checkpoint_is_not_quantized_at_load(quantization):
    with pytest.raises(InputError, match=f"cannot quantize the 16-bit checkpoint 'Qwen/Qwen3-8B' to {quantization}"):
        artifacts(quantization=quantization)


def test_16_bit_checkpoints_and_supported_kv_caches_launch():
    launched = artifacts(quantization=Quantization.BF16, kv_cache_dtype=KvCacheDtype.FP8)
    assert "dtype: fp8" in launched.files["extra-llm-api-agg-0.yml"]
    with pytest.raises(InputError, match="no int8 KV cache"):
        artifacts(kv_cache_dtype=KvCacheDtype.INT8)

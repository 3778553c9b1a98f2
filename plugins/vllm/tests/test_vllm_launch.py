"""vLLM launch values per release: the quantization it applies to a 16-bit checkpoint as it loads, and the KV-cache
dtype names its parser takes."""

import pytest

from servecast.domain import KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.launch.schema import LaunchSchema
from servecast.testing import single_instance
from servecast_vllm.launch import loading_arguments
from servecast_vllm.plugin import servecast_register_frameworks


def version(name):
    (spec,) = servecast_register_frameworks()
    return spec.version(name)


def loading(name, **values):
    deployment = single_instance("vllm", name, **values)
    return loading_arguments(deployment, version(name), LaunchSchema.shipped("servecast_vllm", name))


def test_fp8_at_load_is_fp8_until_the_release_whose_fp8_reads_checkpoints_only():
    assert loading("0.6.0", quantization=Quantization.FP8) == ["--quantization", "fp8"]
    assert loading("0.11.0", quantization=Quantization.FP8) == ["--quantization", "fp8"]
    assert loading("0.33.0", quantization=Quantization.FP8) == ["--quantization", "fp8_per_tensor"]
    assert loading("0.33.0", quantization=Quantization.FP8_BLOCK) == ["--quantization", "fp8_per_block"]


@pytest.mark.parametrize("quantization", [Quantization.W4A16_AWQ, Quantization.INT8_WEIGHT_ONLY, Quantization.NVFP4])
def test_what_only_a_quantized_checkpoint_holds_is_refused_for_a_16_bit_one(quantization):
    with pytest.raises(InputError, match=f"to {quantization.value} as it loads"):
        loading("0.33.0", quantization=quantization)


def test_16_bit_kv_caches_fall_back_to_auto_where_the_release_has_no_name_for_them():
    assert loading("0.10.2", kv_cache_dtype=KvCacheDtype.BF16) == ["--kv-cache-dtype", "auto"]
    assert loading("0.11.0", kv_cache_dtype=KvCacheDtype.BF16) == ["--kv-cache-dtype", "bfloat16"]
    assert loading("0.11.0", kv_cache_dtype=KvCacheDtype.FP16) == ["--kv-cache-dtype", "auto"]
    assert loading("0.33.0", kv_cache_dtype=KvCacheDtype.FP16) == ["--kv-cache-dtype", "float16"]


def test_an_int8_kv_cache_is_0_33s_per_token_head_cache_and_refused_before():
    assert loading("0.33.0", kv_cache_dtype=KvCacheDtype.INT8) == ["--kv-cache-dtype", "int8_per_token_head"]
    with pytest.raises(InputError, match="vLLM 0.11.0 has no int8 KV cache"):
        loading("0.11.0", kv_cache_dtype=KvCacheDtype.INT8)

"""SGLang launch values per release: the quantization it applies to a 16-bit checkpoint as it loads, and the
KV-cache dtype names its parser takes."""

import pytest

from servecast.domain import KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.launch.schema import LaunchSchema
from servecast.testing import single_instance
from servecast_sglang.launch import loading_arguments
from servecast_sglang.plugin import servecast_register_frameworks


def loading(name, **values):
    (spec,) = servecast_register_frameworks()
    deployment = single_instance("sglang", name, **values)
    return loading_arguments(deployment, spec.version(name), LaunchSchema.shipped("servecast_sglang", name))


def test_fp8_is_the_only_quantization_applied_at_load():
    for name in ("0.3.0", "0.4.10", "0.5.23"):
        assert loading(name, quantization=Quantization.FP8) == ["--quantization", "fp8"]
    with pytest.raises(InputError, match="w4a16_gptq as it loads"):
        loading("0.5.23", quantization=Quantization.W4A16_GPTQ)


def test_kv_cache_dtypes_take_each_releases_own_names():
    assert loading("0.3.0", kv_cache_dtype=KvCacheDtype.FP8) == ["--kv-cache-dtype", "fp8_e5m2"]
    assert loading("0.4.10", kv_cache_dtype=KvCacheDtype.FP8) == ["--kv-cache-dtype", "fp8_e4m3"]
    assert loading("0.4.10", kv_cache_dtype=KvCacheDtype.BF16) == ["--kv-cache-dtype", "auto"]
    assert loading("0.5.23", kv_cache_dtype=KvCacheDtype.BF16) == ["--kv-cache-dtype", "bf16"]
    with pytest.raises(InputError, match="no int8 KV cache"):
        loading("0.5.23", kv_cache_dtype=KvCacheDtype.INT8)

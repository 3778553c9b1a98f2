"""The TensorRT-LLM defaults the serving model depends on, per version, as read from each release."""

from servecast.domain import KnobMeaning, ParallelMode, ServingMode
from servecast_trtllm.plugin import servecast_register_frameworks


def version(name):
    (spec,) = servecast_register_frameworks()
    return spec.version(name)


def test_kv_cache_takes_90_percent_of_the_memory_left_after_weights():
    for name in ("0.14.0", "1.0.0", "1.2.0rc1"):
        assert version(name).default_for(KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION) == 0.9


def test_batch_and_token_budgets_are_2048_and_8192():
    for name in ("0.14.0", "1.0.0", "1.2.0rc1"):
        assert version(name).default_for(KnobMeaning.MAX_BATCH_SIZE) == 2048
        assert version(name).default_for(KnobMeaning.MAX_NUM_TOKENS) == 8192


def test_pytorch_backend_overlaps_scheduling_and_reuses_kv_blocks():
    assert version("1.0.0").default_for(KnobMeaning.OVERLAP_SCHEDULER) is True
    assert version("1.0.0").default_for(KnobMeaning.PREFIX_CACHING) is True
    assert version("1.0.0").default_for(KnobMeaning.CHUNKED_PREFILL) is False


def test_attention_dp_and_disaggregation_arrive_with_the_pytorch_backend():
    old, new = version("0.14.0").capabilities, version("1.0.0").capabilities
    assert ParallelMode.ATTENTION_DP not in old.parallel_modes and ParallelMode.ATTENTION_DP in new.parallel_modes
    assert ServingMode.DISAGGREGATED not in old.serving_modes and ServingMode.DISAGGREGATED in new.serving_modes

"""The vLLM defaults the serving model depends on, per version, as read from each release."""

from servecast.domain import KnobMeaning, ParallelMode, ServingMode
from servecast_vllm.plugin import servecast_register_frameworks


def version(name):
    (spec,) = servecast_register_frameworks()
    return spec.version(name)


def test_v0_era_has_no_prefix_caching_and_256_sequences():
    assert version("0.6.0").default_for(KnobMeaning.PREFIX_CACHING) is False
    assert version("0.6.0").default_for(KnobMeaning.MAX_BATCH_SIZE) == 256
    assert ServingMode.DISAGGREGATED not in version("0.6.0").capabilities.serving_modes


def test_v1_engine_always_chunks_prefill_and_caches_prefixes():
    for name in ("0.10.2", "0.11.0", "0.33.0"):
        assert version(name).default_for(KnobMeaning.CHUNKED_PREFILL) is True
        assert version(name).default_for(KnobMeaning.PREFIX_CACHING) is True
        assert ParallelMode.ATTENTION_DP in version(name).capabilities.parallel_modes


def test_batch_and_token_budgets_depend_on_the_gpu_and_say_how():
    for knob in version("0.10.2").knobs_for(KnobMeaning.MAX_NUM_TOKENS):
        assert knob.default is None and "8192" in knob.default_note and "16384" in knob.default_note


def test_cuda_graphs_are_on_unless_enforce_eager():
    (knob,) = version("0.11.0").knobs_for(KnobMeaning.CUDA_GRAPH)
    assert knob.name == "enforce_eager" and knob.negates and knob.concept_value() is True


def test_kernels_follow_the_releases_fa2_then_fa3_and_the_custom_all_reduce():
    assert version("0.6.0").kernels.attention.value == "flash_attn2"
    assert version("0.10.2").kernels.attention.value == "flash_attn3"
    assert version("0.11.0").kernels.all_reduce.value == "vllm_custom"
    assert version("0.33.0").kernels.all_reduce.value == "trtllm_custom"

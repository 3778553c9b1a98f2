"""The SGLang defaults the serving model depends on, per version, as read from each release."""

from servecast.domain import KnobMeaning, ParallelMode, ServingMode
from servecast_sglang.plugin import servecast_register_frameworks


def version(name):
    (spec,) = servecast_register_frameworks()
    return spec.version(name)


def test_mixed_chunking_is_off_and_radix_cache_on_in_every_version():
    for name in ("0.3.0", "0.4.10", "0.5.23"):
        assert version(name).default_for(KnobMeaning.MIXED_PREFILL_DECODE) is False
        assert version(name).default_for(KnobMeaning.PREFIX_CACHING) is True


def test_overlap_scheduler_is_on_by_default_once_it_exists():
    assert not version("0.3.0").knobs_for(KnobMeaning.OVERLAP_SCHEDULER)
    assert version("0.4.10").default_for(KnobMeaning.OVERLAP_SCHEDULER) is True


def test_0_3_0_chunks_at_8192_and_later_versions_size_chunks_by_gpu_memory():
    assert version("0.3.0").default_for(KnobMeaning.CHUNKED_PREFILL_SIZE) == 8192
    (knob,) = version("0.4.10").knobs_for(KnobMeaning.CHUNKED_PREFILL_SIZE)
    assert knob.default is None and "8192" in knob.default_note


def test_disaggregation_and_pipeline_parallelism_arrive_after_0_3():
    old, new = version("0.3.0").capabilities, version("0.4.10").capabilities
    assert ServingMode.DISAGGREGATED not in old.serving_modes and ServingMode.DISAGGREGATED in new.serving_modes
    assert ParallelMode.PP not in old.parallel_modes and ParallelMode.PP in new.parallel_modes

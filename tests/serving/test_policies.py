"""Framework scheduling policies: documented defaults, start-up rules, and overrides."""

from __future__ import annotations

import pytest

from servecast.domain import KnobMeaning, ParallelLayout, Target, Workload
from servecast.errors import InputError
from servecast.serving.policy import KnobSchedulingPolicy, PolicyContext, Resolve, SchedulingRegime, ServerRole

VERSIONS = [
    ("vllm", "0.6.0"),
    ("vllm", "0.10.2"),
    ("vllm", "0.11.0"),
    ("vllm", "0.33.0"),
    ("sglang", "0.3.0"),
    ("sglang", "0.4.10"),
    ("sglang", "0.5.23"),
    ("trtllm", "0.14.0"),
    ("trtllm", "1.0.0"),
    ("trtllm", "1.2.0rc1"),
]


def settings(host, framework, version, tp=1, role=ServerRole.AGGREGATED, overrides=None, max_model_len=131072):
    context = PolicyContext(
        host.hardware.get("h100_sxm"),
        ParallelLayout(tp=tp),
        Workload(input_tokens=1000, output_tokens=200),
        max_model_len,
        role,
    )
    target = Target(hardware="h100_sxm", framework=framework, framework_version=version)
    return host.scheduler(target).settings(context, overrides)


@pytest.mark.parametrize(("framework", "version"), VERSIONS)
def test_every_modelled_version_resolves_usable_budgets(host, framework, version):
    resolved = settings(host, framework, version)
    assert resolved.max_batch_size > 0 and resolved.max_num_tokens > 0
    assert 0 < resolved.memory.fraction <= 1
    assert list(resolved.cuda_graph_batch_sizes) == sorted(set(resolved.cuda_graph_batch_sizes))
    assert resolved.iteration_cpu_ms >= 0 and resolved.kernel_launch_us > 0


def test_vllm_v1_on_h100_uses_the_api_server_budgets_and_mixes_decode_first(host):
    resolved = settings(host, "vllm", "0.10.2")
    assert (resolved.max_num_tokens, resolved.max_batch_size) == (8192, 1024)
    assert resolved.regime is SchedulingRegime.MIXED
    assert resolved.cuda_graph_batch_sizes[:4] == (1, 2, 4, 8) and resolved.cuda_graph_batch_sizes[-1] == 512


def test_vllm_keeps_the_small_budgets_on_a_device_named_a100_whatever_its_memory(host):
    """vLLM matches the driver's device name: an 80 GB A100 gets the budgets of smaller GPUs."""
    h100 = host.hardware.get("h100_sxm")
    a100_named = h100.model_copy(update={"gpu": h100.gpu.model_copy(update={"device_name": "NVIDIA A100-SXM4-80GB"})})
    context = PolicyContext(a100_named, ParallelLayout(tp=1), Workload(input_tokens=1000, output_tokens=200), 131072)
    target = Target(hardware="h100_sxm", framework="vllm", framework_version="0.10.2")
    resolved = host.scheduler(target).settings(context, None)
    assert (resolved.max_num_tokens, resolved.max_batch_size) == (2048, 256)


def test_vllm_v0_chunks_long_context_models_with_a_512_token_budget(host):
    long_context = settings(host, "vllm", "0.6.0", max_model_len=131072)
    assert long_context.chunked_prefill and long_context.max_num_tokens == 512
    short_context = settings(host, "vllm", "0.6.0", max_model_len=8192)
    assert not short_context.chunked_prefill and short_context.max_num_tokens == 8192
    assert short_context.regime is SchedulingRegime.PREFILL_FIRST
    assert long_context.regime is SchedulingRegime.MIXED


@pytest.mark.parametrize(
    ("version", "tp", "fraction"),
    [("0.3.0", 1, 0.88), ("0.3.0", 4, 0.85), ("0.4.10", 1, 0.874), ("0.4.10", 8, 0.831), ("0.5.23", 1, 0.830)],
)
def test_sglang_memory_fraction_follows_its_start_up_rule(host, version, tp, fraction):
    """The values the SGLang plugin's data file quotes as examples of the rule on an 80 GB H100."""
    assert settings(host, "sglang", version, tp=tp).memory.fraction == pytest.approx(fraction, abs=0.006)


def test_sglang_prefills_first_and_a_prefill_server_captures_no_decode_graphs(host):
    resolved = settings(host, "sglang", "0.4.10")
    assert resolved.regime is SchedulingRegime.PREFILL_FIRST
    assert resolved.chunk_size == 8192 and resolved.overlap_scheduler
    assert settings(host, "sglang", "0.4.10", role=ServerRole.PREFILL).cuda_graph_batch_sizes == ()


def test_trtllm_reserves_whole_outputs_and_overlaps_from_the_pytorch_backend(host):
    assert settings(host, "trtllm", "0.14.0").kv_output_reservation == 1.0
    assert not settings(host, "trtllm", "0.14.0").overlap_scheduler
    assert settings(host, "trtllm", "1.0.0").overlap_scheduler


def test_overrides_replace_knob_values_by_meaning(host):
    overrides = {KnobMeaning.MAX_BATCH_SIZE: 64, KnobMeaning.GPU_MEMORY_FRACTION: 0.5}
    resolved = settings(host, "vllm", "0.10.2", overrides=overrides)
    assert resolved.max_batch_size == 64 and resolved.memory.fraction == 0.5
    assert resolved.cuda_graph_batch_sizes[-1] == 128  # vLLM captures up to 2 x max_num_seqs


@pytest.mark.parametrize(("framework", "version"), VERSIONS)
def test_a_token_budget_override_sets_every_versions_iteration_budget(host, framework, version):
    """SGLang has no single budget knob: the override becomes its chunk size and prefill budget."""
    resolved = settings(host, framework, version, overrides={KnobMeaning.MAX_NUM_TOKENS: 4096})
    assert resolved.max_num_tokens == 4096
    if resolved.chunked_prefill:
        assert resolved.chunk_size in (None, 4096)


@pytest.mark.parametrize(
    ("capacity", "batch"), [(10, 128), (300, 256), (700, 768), (1100, 1024), (1600, 1536), (2100, 2048), (2300, 2300)]
)
def test_trtllm_batch_size_tuning_follows_the_batch_managers_table(capacity, batch):
    from servecast_trtllm.policy import tuned_batch_size

    assert tuned_batch_size(capacity) == batch


def test_trtllm_tunes_the_running_batch_in_the_engine_flow_only(server):
    old = server("trtllm", version="0.14.0", model="meta-llama/Llama-3.1-70B", isl=1000, osl=1000, tp=4)
    whole = old.sequences_that_fit(2000)
    assert 256 <= whole < 336  # the table runs 256 of them
    assert old.settings.runtime_batch_size is not None
    assert old.batch_limit == 256 == old.running_limit
    new = server("trtllm", version="1.0.0", model="meta-llama/Llama-3.1-70B", isl=1000, osl=1000, tp=4)
    assert new.settings.runtime_batch_size is None
    assert new.batch_limit == new.settings.max_batch_size


def test_an_unmodelled_version_is_an_input_error_not_a_broken_plugin(host):
    with pytest.raises(InputError, match="'0.3' is not modelled; modelled versions: 0.3.0"):
        host.scheduler(Target(hardware="h100_sxm", framework="sglang", framework_version="0.3"))


class _NeverMixes(KnobSchedulingPolicy):
    """A policy whose prompts never share iterations with decodes."""

    def mixed_prefill_decode(self, context: PolicyContext, resolve: Resolve) -> bool:
        return False


def test_a_scheduler_that_never_mixes_and_runs_decodes_first_is_refused(host):
    """TensorRT-LLM declares decodes first (prefill_priority = false): without mixing, no serving model applies."""
    target = Target(hardware="h100_sxm", framework="trtllm", framework_version="1.0.0")
    policy = _NeverMixes(target, host.frameworks.get("trtllm").version("1.0.0"))
    context = PolicyContext(
        host.hardware.get("h100_sxm"), ParallelLayout(tp=1), Workload(input_tokens=1000, output_tokens=200), 8192
    )
    with pytest.raises(InputError, match="runs decodes first .* not modelled"):
        policy.settings(context, None)

"""Domain objects are frozen, reject unknown fields, and validate what a user could get wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servecast.domain import ParallelLayout, ParallelMode, Sla, Target, Workload


def test_domain_objects_are_frozen_and_strict():
    layout = ParallelLayout(tp=2)
    with pytest.raises(ValidationError):
        layout.tp = 4
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ParallelLayout(tp=2, tensor_parallel=2)


def test_a_dense_layout_derives_moe_tp_from_the_stage():
    layout = ParallelLayout(tp=4, pp=2)
    assert (layout.moe_tp, layout.ep, layout.gpus) == (4, 1, 8)
    assert layout.modes == {ParallelMode.TP, ParallelMode.PP}
    assert str(layout) == "tp4-pp2"


def test_an_attention_dp_layout_spreads_experts_over_the_whole_stage():
    layout = ParallelLayout(tp=1, attention_dp=8, ep=8)
    assert (layout.moe_tp, layout.gpus) == (1, 8)
    assert layout.exchanges_tokens and not ParallelLayout(tp=8, ep=8).exchanges_tokens
    assert layout.modes == {ParallelMode.ATTENTION_DP, ParallelMode.EP}


def test_expert_and_tensor_parallel_can_be_combined_inside_experts():
    layout = ParallelLayout(tp=8, ep=4)
    assert layout.moe_tp == 2
    assert ParallelMode.MOE_TP in layout.modes
    assert str(layout) == "tp8-ep4-moetp2"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tp": 4, "ep": 3}, "pick ep dividing 4"),
        ({"tp": 4, "ep": 2, "moe_tp": 4}, "moe_tp \\(4\\) x ep \\(2\\) must equal"),
        ({"tp": 0}, "greater than or equal to 1"),
        ({"tp": 8, "redundant_experts": 32}, "redundant_experts=32 needs expert parallelism"),
    ],
)
def test_inconsistent_layouts_are_rejected_with_the_arithmetic(fields, message):
    with pytest.raises(ValidationError, match=message):
        ParallelLayout(**fields)


def test_redundant_experts_are_part_of_the_layout_name():
    layout = ParallelLayout(tp=1, attention_dp=72, ep=72, redundant_experts=32)
    assert str(layout) == "tp1-dp72-ep72-r32"
    assert layout.gpus == 72


def test_a_prefix_must_leave_at_least_one_prompt_token_to_compute():
    assert Workload(input_tokens=1024, output_tokens=128, prefix_tokens=1000).prefix_tokens == 1000
    with pytest.raises(ValidationError, match="prefix_tokens=1024 must be shorter than input_tokens=1024"):
        Workload(input_tokens=1024, output_tokens=128, prefix_tokens=1024)


def test_an_sla_constrains_only_the_targets_it_sets():
    sla = Sla(ttft_ms=500)
    assert sla.is_met(ttft_ms=499, tpot_ms=1e9, request_latency_ms=1e9)
    assert not sla.is_met(ttft_ms=501, tpot_ms=1, request_latency_ms=1)
    with pytest.raises(ValidationError):
        Sla(tpot_ms=-5)


def test_targets_are_hashable_cache_keys():
    a = Target(hardware="h100_sxm", framework="vllm", framework_version="0.11.0")
    b = Target(hardware="h100_sxm", framework="vllm", framework_version="0.11.0")
    assert {a: 1}[b] == 1
    assert str(a) == "vllm 0.11.0 on h100_sxm"

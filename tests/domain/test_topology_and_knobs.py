"""The node's scale-up domain, and knobs whose framework values or environment variables stand for a concept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servecast.domain.framework import Knob, KnobMeaning
from servecast.domain.hardware import NodeSpec
from servecast.domain.provenance import Source, SourceKind

NODE = {
    "gpus_per_node": 4,
    "intra_node_bw_bytes_per_s": 900e9,
    "intra_node_latency_s": 2e-6,
    "inter_node_bw_bytes_per_s": 50e9,
    "inter_node_latency_s": 5e-6,
}
SOURCE = Source(kind=SourceKind.SOURCE_CODE, citation="a framework's argument parser")


def test_the_scale_up_domain_is_the_node_unless_a_rack_joins_nodes():
    assert NodeSpec(**NODE).domain_gpus == 4
    assert NodeSpec(**NODE, scale_up_domain_gpus=72).domain_gpus == 72


def test_a_domain_that_is_not_whole_nodes_is_rejected():
    with pytest.raises(ValidationError, match="scale_up_domain_gpus=70 is not a whole number of 4-GPU nodes"):
        NodeSpec(**NODE, scale_up_domain_gpus=70)


def backend_knob(**changes):
    fields = {
        "name": "moe_a2a_backend",
        "meaning": KnobMeaning.MOE_ALL_TO_ALL,
        "flag": "--moe-a2a-backend",
        "default": "none",
        "values": {"none": False, "deepep": True, "mooncake": True},
        "description": "The all-to-all backend.",
        "source": SOURCE,
    }
    return Knob(**(fields | changes))


def test_a_knobs_own_values_map_to_the_concept_and_back():
    knob = backend_knob()
    assert knob.concept_value() is False
    assert knob.concept_value("mooncake") is True
    assert knob.framework_value(True) == "deepep"
    assert knob.framework_value(False) == "none"


def test_a_default_outside_the_knobs_values_is_rejected():
    with pytest.raises(ValidationError, match="default 'nccl' is not among its values"):
        backend_knob(default="nccl")


def test_a_knob_may_live_in_the_environment_only():
    values = {"allgather_reducescatter": False, "deepep_low_latency": True}
    knob = backend_knob(
        name="VLLM_ALL2ALL_BACKEND",
        flag=None,
        env="VLLM_ALL2ALL_BACKEND",
        default="allgather_reducescatter",
        values=values,
    )
    assert knob.concept_value("deepep_low_latency") is True
    with pytest.raises(ValidationError, match="needs a 'flag', 'config_key' or 'env'"):
        backend_knob(flag=None)

"""Shared by the launch tests: the installed plugins, the deployments they render, and rendering one."""

from __future__ import annotations

import pytest

from servecast.domain import Target
from servecast.host import PluginHost
from servecast.launch import Deployment, LaunchArtifacts
from servecast.launch.plan import LaunchPlan, plan_launch
from servecast.serving.request import EstimateRequest

CASES: dict[str, dict[str, object]] = {
    "agg-replicas": {"model": "Qwen/Qwen3-8B", "mode": "agg", "tp": 2, "replicas": 2, "concurrency": 64},
    "agg-prefix": {"model": "Qwen/Qwen3-8B", "mode": "agg", "tp": 1, "concurrency": 16, "prefix": 1000},
    "agg-pp-two-nodes": {"model": "Qwen/Qwen3-32B", "mode": "agg", "tp": 8, "pp": 2, "concurrency": 64},
    "agg-moe-ep-attention-dp": {
        "model": "Qwen/Qwen3-30B-A3B",
        "mode": "agg",
        "tp": 1,
        "dp": 4,
        "ep": 4,
        "concurrency": 128,
    },
    "disagg": {
        "model": "Qwen/Qwen3-8B",
        "mode": "disagg",
        "prefill_workers": 2,
        "decode_workers": 1,
        "decode_tp": 2,
        "decode_batch_size": 48,
        "concurrency": 64,
    },
}
"""Deployments the launch tests render, by name: estimate-request fields besides system, lengths and framework."""


@pytest.fixture(scope="session")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def request(**values: object) -> EstimateRequest:
    base = {"model": "Qwen/Qwen3-8B", "system": "h100_sxm", "isl": 2000, "osl": 200}
    return EstimateRequest.parse(base | values)


def target_of(deployment: Deployment) -> Target:
    return Target(
        hardware=deployment.hardware, framework=deployment.framework, framework_version=deployment.framework_version
    )


def render(host: PluginHost, **values: object) -> tuple[LaunchPlan, LaunchArtifacts]:
    """The launch plan of an estimate request and the artifacts its framework's plugin writes for it."""
    plan = plan_launch(host, request(**values))
    return plan, host.launch_config(plan.deployment, target_of(plan.deployment))

"""Deployments for a framework plugin's launch tests, built without a search."""

from __future__ import annotations

from typing import Any

from servecast.domain import ParallelLayout, ServingMode
from servecast.launch import Deployment, WorkerGroup, WorkerRole


def single_instance(framework: str, version: str, model: str = "Qwen/Qwen3-8B", **values: Any) -> Deployment:
    """One aggregated instance on one H100 GPU; `values` set other Deployment fields (quantization, …)."""
    return Deployment(
        model=model,
        hardware="h100_sxm",
        framework=framework,
        framework_version=version,
        mode=ServingMode.AGGREGATED,
        workers=(WorkerGroup(role=WorkerRole.AGGREGATED, layout=ParallelLayout()),),
        **values,
    )

"""The vLLM plugin's hook implementations."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from servecast import hookimpl
from servecast.domain import FrameworkSpec, Target
from servecast.launch import Deployment, LaunchArtifacts
from servecast.serving.policy import SchedulingPolicy
from servecast.specfiles import load_framework_spec
from servecast_vllm.policy import VllmPolicy


@cache
def _spec() -> FrameworkSpec:
    return load_framework_spec(str(files(__package__) / "data" / "vllm.toml"))


@hookimpl
def servecast_register_frameworks() -> list[FrameworkSpec]:
    """vLLM, per modelled version, from the sourced data file shipped in this package."""
    return [_spec()]


@hookimpl
def servecast_scheduler(target: Target) -> SchedulingPolicy | None:
    """vLLM's scheduling policy for the target's version (the host resolves unmodelled versions first)."""
    return VllmPolicy.for_target(_spec(), target)


@hookimpl
def servecast_launch_config(deployment: Deployment, target: Target) -> LaunchArtifacts | None:
    """`vllm serve` per worker (NIXL and vLLM's proxy when disaggregated) and `vllm bench serve`."""
    if target.framework != "vllm":
        return None
    from servecast_vllm.launch import launch_artifacts  # imported when a launch is written, not on every plugin load

    return launch_artifacts(deployment, _spec().version(deployment.framework_version))

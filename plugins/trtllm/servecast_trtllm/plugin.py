"""The TensorRT-LLM plugin's hook implementations."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from servecast import hookimpl
from servecast.domain import FrameworkSpec, Target
from servecast.launch import Deployment, LaunchArtifacts
from servecast.serving.policy import SchedulingPolicy
from servecast.specfiles import load_framework_spec
from servecast_trtllm.policy import TrtllmPolicy


@cache
def _spec() -> FrameworkSpec:
    return load_framework_spec(str(files(__package__) / "data" / "trtllm.toml"))


@hookimpl
def servecast_register_frameworks() -> list[FrameworkSpec]:
    """TensorRT-LLM, per modelled version, from the sourced data file shipped in this package."""
    return [_spec()]


@hookimpl
def servecast_scheduler(target: Target) -> SchedulingPolicy | None:
    """TensorRT-LLM's scheduling policy for the target's version (the host resolves unmodelled versions first)."""
    return TrtllmPolicy.for_target(_spec(), target)


@hookimpl
def servecast_launch_config(deployment: Deployment, target: Target) -> LaunchArtifacts | None:
    """`trtllm-serve` per worker with its options YAML (`trtllm-serve disaggregated` in front of pools) and
    TensorRT-LLM's serving benchmark."""
    if target.framework != "trtllm":
        return None
    from servecast_trtllm.launch import launch_artifacts  # imported when a launch is written, not on every plugin load

    return launch_artifacts(deployment, _spec().version(deployment.framework_version))

"""The SGLang plugin's hook implementations."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from servecast import hookimpl
from servecast.domain import FrameworkSpec, Target
from servecast.launch import Deployment, LaunchArtifacts
from servecast.serving.policy import SchedulingPolicy
from servecast.specfiles import load_framework_spec
from servecast_sglang.policy import SglangPolicy


@cache
def _spec() -> FrameworkSpec:
    return load_framework_spec(str(files(__package__) / "data" / "sglang.toml"))


@hookimpl
def servecast_register_frameworks() -> list[FrameworkSpec]:
    """SGLang, per modelled version, from the sourced data file shipped in this package."""
    return [_spec()]


@hookimpl
def servecast_scheduler(target: Target) -> SchedulingPolicy | None:
    """SGLang's scheduling policy for the target's version (the host resolves unmodelled versions first)."""
    return SglangPolicy.for_target(_spec(), target)


@hookimpl
def servecast_launch_config(deployment: Deployment, target: Target) -> LaunchArtifacts | None:
    """`python -m sglang.launch_server` per worker (SGLang's router when disaggregated) and `sglang.bench_serving`."""
    if target.framework != "sglang":
        return None
    from servecast_sglang.launch import launch_artifacts  # imported when a launch is written, not on every plugin load

    return launch_artifacts(deployment, _spec().version(deployment.framework_version))

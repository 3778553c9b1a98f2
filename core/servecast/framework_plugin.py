"""A framework plugin's hook implementations, built from its spec file, scheduling policy and launch module."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import NamedTuple

from servecast import hookimpl
from servecast.domain.framework import FrameworkSpec, FrameworkVersion
from servecast.domain.target import Target
from servecast.errors import PluginError
from servecast.launch.artifacts import Deployment, LaunchArtifacts
from servecast.serving.policy import KnobSchedulingPolicy, SchedulingPolicy
from servecast.specfiles import load_framework_spec

LaunchWriter = Callable[[Deployment, FrameworkVersion], LaunchArtifacts]
"""A launch module's `launch_artifacts(deployment, version)`: the artifacts that start `deployment` on `version`."""


class FrameworkHooks(NamedTuple):
    """A framework plugin's three hook implementations, unpacked into the names of its plugin module."""

    servecast_register_frameworks: Callable[[], list[FrameworkSpec]]
    servecast_scheduler: Callable[[Target], SchedulingPolicy | None]
    servecast_launch_config: Callable[[Deployment, Target], LaunchArtifacts | None]


def framework_plugin(
    package: str, spec_file: str, policy: type[KnobSchedulingPolicy], launch: str | None = None
) -> FrameworkHooks:
    """The hooks of the framework plugin in `package`: they register the spec `data/<spec_file>` of the package (read
    once), answer the scheduler hook with `policy` and the launch hook with the `launch_artifacts` of module `launch`,
    imported when a launch is written rather than on every plugin load (without one, a launch stops with what to add).

        servecast_register_frameworks, servecast_scheduler, servecast_launch_config = framework_plugin(
            __package__, "myserve.toml", MyservePolicy, launch="servecast_myserve.launch"
        )
    """

    @cache
    def spec() -> FrameworkSpec:
        return load_framework_spec(str(files(package) / "data" / spec_file))

    @hookimpl
    def servecast_register_frameworks() -> list[FrameworkSpec]:
        """The framework, per modelled version, from the sourced data file shipped in the plugin's package."""
        return [spec()]

    @hookimpl
    def servecast_scheduler(target: Target) -> SchedulingPolicy | None:
        """The policy for the target's version (the host resolves unmodelled versions first); None for another
        framework."""
        return policy.for_target(spec(), target)

    @hookimpl
    def servecast_launch_config(deployment: Deployment, target: Target) -> LaunchArtifacts | None:
        """The launch module's artifacts for the deployment; None for another framework."""
        framework = spec()
        if target.framework != framework.name:
            return None
        if launch is None:
            raise PluginError(
                f"{package} models {framework.display_name} but writes no launch configs yet",
                f"estimates and searches work without one; to launch, write {package}/launch.py whose "
                f"launch_artifacts(deployment, version) returns servecast.plugin.LaunchArtifacts and pass "
                f'launch="{package}.launch" to framework_plugin in {package}/plugin.py '
                "(servecast-vllm's launch.py is a complete example)",
            )
        write: LaunchWriter = importlib.import_module(launch).launch_artifacts
        return write(deployment, framework.version(deployment.framework_version))

    return FrameworkHooks(servecast_register_frameworks, servecast_scheduler, servecast_launch_config)

"""Where a deployment is launched: plain shell scripts on the nodes, docker compose on one machine, or Kubernetes
through NVIDIA Dynamo, llm-d or KServe. Each target turns the framework plugin's processes into its own files and
checks them (bash parses the scripts; compose files and manifests validate against schema snapshots) before
anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line names targets before it loads what renders them
    from servecast.launch.artifacts import LaunchArtifacts
    from servecast.launch.plan import LaunchPlan


class LaunchTarget(StrEnum):
    """What the written files launch the deployment with."""

    SHELL = "shell"
    COMPOSE = "compose"
    DYNAMO = "dynamo"
    LLM_D = "llm-d"
    KSERVE = "kserve"


TARGET_FILES = ("launch.sh", "benchmark.sh", "compose.yaml", "dynamo.yaml", "llm-d-values.yaml", "kserve.yaml")
"""The files targets write themselves; a plugin's config file never takes one of these names."""


@dataclass(frozen=True)
class TargetOutput:
    """A target's files (relative path -> text), what it warns about, and what its files were checked against."""

    files: dict[PurePosixPath, str]
    warnings: tuple[str, ...] = ()
    checked_against: tuple[str, ...] = ()


def render_target(target: LaunchTarget, plan: LaunchPlan, artifacts: LaunchArtifacts) -> TargetOutput:
    """The files that launch `plan`'s deployment on `target`, from the framework plugin's `artifacts`."""
    if target is LaunchTarget.SHELL:
        from servecast.launch.shell import shell_files

        return TargetOutput(shell_files(artifacts), checked_against=("bash -n",))
    if target is LaunchTarget.COMPOSE:
        from servecast.launch.compose import compose_files

        return compose_files(plan, artifacts)
    if target is LaunchTarget.DYNAMO:
        from servecast.launch.dynamo import dynamo_files

        return dynamo_files(plan, artifacts)
    if target is LaunchTarget.LLM_D:
        from servecast.launch.llmd import llmd_files

        return llmd_files(plan, artifacts)
    from servecast.launch.kserve import kserve_files

    return kserve_files(plan, artifacts)

"""Write a deployment's launch artifacts into a folder for one target: the target's files (shell scripts, a compose
file or Kubernetes manifests, each checked before it is written), the plugin's config files and `deployment.json`.

The folder is filled through a staging folder and existing files are replaced only with `force`, so nothing is ever
half-written.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from servecast import __version__
from servecast.domain.target import Target
from servecast.errors import InputError, PluginError
from servecast.files import locked_folder, make_executable, staged_folder
from servecast.host.host import PluginHost
from servecast.json_text import json_text
from servecast.launch.artifacts import Deployment, LaunchArtifacts
from servecast.launch.plan import LaunchPlan, plan_launch
from servecast.launch.shell import check_shell_syntax
from servecast.launch.targets import TARGET_FILES, LaunchTarget, TargetOutput, render_target
from servecast.serving.request import EstimateRequest

DEPLOYMENT_FILE = "deployment.json"


def deployment_document(
    plan: LaunchPlan,
    artifacts: LaunchArtifacts,
    target: LaunchTarget = LaunchTarget.SHELL,
    output: TargetOutput | None = None,
) -> dict[str, Any]:
    """`deployment.json`: the configuration (the estimate request), the predicted metrics with their intervals and
    the user calibration behind them, the deployment, exactly what each role launches, the target its files were
    written for and the schemas they were checked against."""
    estimate = plan.estimate
    return {
        "servecast_version": __version__,
        "configuration": plan.request.model_dump(mode="json", exclude_none=True),
        "predicted": estimate.metrics.as_dict(),
        "intervals": {
            "basis": estimate.interval_basis,
            **{metric: interval.as_list() for metric, interval in estimate.intervals.items()},
        },
        "calibration": estimate.calibration,
        "deployment": plan.deployment.model_dump(mode="json"),
        "roles": [role.model_dump(mode="json") for role in artifacts.roles],
        "benchmark": [list(argv) for argv in artifacts.benchmark],
        "target": target.value,
        "checked_against": list(output.checked_against) if output else [],
        "files": sorted(str(path) for path in output.files) if output else sorted(artifacts.files),
        "warnings": [
            *plan.estimate.warnings,
            *plan.warnings,
            *artifacts.warnings,
            *(output.warnings if output else ()),
        ],
    }


def _check_config_path(name: str) -> None:
    """A PluginError unless the plugin's config file `name` lies inside the folder and clear of the targets' files."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.name in (*TARGET_FILES, DEPLOYMENT_FILE):
        raise PluginError(
            f"the framework plugin asked to write {name!r}, outside its folder or over servecast's own files",
            "fix the plugin: config files are relative paths inside the deployment folder",
        )


def write_files(files: dict[PurePosixPath, str], folder: Path, force: bool = False) -> list[Path]:
    """Write `files` (relative path -> text; `.sh` files executable) into `folder`; the paths written (an
    InputError before writing anything when one of them exists and `force` is not set)."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{str(folder)!r} is a file, not a folder", "give a folder path")
    with staged_folder(folder) as staging, locked_folder(folder):
        existing = sorted(str(path) for path in files if (folder / path).exists())
        if existing and not force:
            raise InputError(
                f"{str(folder)!r} already holds {', '.join(existing)}", "pick another folder or pass --force to replace"
            )
        for path, text in files.items():
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            (staging / path).write_text(text)
            if path.suffix == ".sh":
                make_executable(staging / path)
        written = []
        for path in files:
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            (staging / path).replace(target)
            written.append(target)
        return written


def write_launch(
    plan: LaunchPlan,
    artifacts: LaunchArtifacts,
    folder: Path,
    force: bool = False,
    target: LaunchTarget = LaunchTarget.SHELL,
) -> tuple[list[Path], TargetOutput]:
    """Render the artifacts for `target` and write them, with `deployment.json`, into `folder`; the paths written
    and the target's output (an InputError before writing anything when a file exists and `force` is not set, a
    PluginError or InputError when the target cannot express the deployment or its files fail their checks)."""
    for name in artifacts.files:
        _check_config_path(name)
    output = render_target(target, plan, artifacts)
    for path, text in output.files.items():
        if path.suffix == ".sh":
            check_shell_syntax(str(path), text)
    files = {
        **output.files,
        PurePosixPath(DEPLOYMENT_FILE): json_text(deployment_document(plan, artifacts, target, output)),
    }
    return write_files(files, folder, force), output


def render_launch(host: PluginHost, deployment: Deployment) -> LaunchArtifacts:
    """The artifacts the deployment's framework plugin writes for it."""
    target = Target(
        hardware=deployment.hardware, framework=deployment.framework, framework_version=deployment.framework_version
    )
    return host.launch_config(deployment, target)


def write_launch_for(
    host: PluginHost,
    request: EstimateRequest,
    folder: Path,
    force: bool = False,
    target: LaunchTarget = LaunchTarget.SHELL,
    image: str | None = None,
) -> tuple[LaunchPlan, list[Path]]:
    """Plan the launch of `request`, have its framework plugin render it, and write it into `folder` for `target`
    (`image`: the container image to run instead of the framework version's own); the plan, with the artifacts'
    and the target's warnings added to its own, and the paths written."""
    plan = plan_launch(host, request, image)
    artifacts = render_launch(host, plan.deployment)
    written, output = write_launch(plan, artifacts, folder, force, target)
    return replace(plan, warnings=(*plan.warnings, *artifacts.warnings, *output.warnings)), written

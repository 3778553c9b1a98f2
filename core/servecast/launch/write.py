"""Write a deployment's launch artifacts into a folder: `launch.sh`, the plugin's config files, `benchmark.sh` and
`deployment.json`.

Every value reaches the shell quoted (a model path with spaces, quotes, braces or `$(...)` stays one inert word);
the only expansions are the `{NAME}` placeholders servecast put in argv for declared variables, such as the node
addresses `$HEAD_ADDR` and `$NODE<n>_ADDR` (user text enters argv through `literal`, so none of its braces
expand). A deployment over several nodes gets one `launch.sh` run on each with its NODE_RANK, and a `benchmark.sh`
run on the head node that reaches each server on the node it listens on. Every script is parsed by bash before
anything is written; the folder is filled through a staging folder and existing files are replaced only with
`force`, so nothing is ever half-written.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from servecast import __version__
from servecast.domain.target import Target
from servecast.errors import InputError, PluginError
from servecast.files import locked_folder, make_executable, staged_folder
from servecast.host.host import PluginHost
from servecast.json_text import json_text
from servecast.launch.artifacts import Deployment, Endpoint, LaunchArtifacts, RoleLaunch
from servecast.launch.placement import FRONTEND_PORT
from servecast.launch.plan import LaunchPlan, plan_launch
from servecast.serving.request import EstimateRequest

LAUNCH_FILES = ("launch.sh", "benchmark.sh", "deployment.json")


_TOKEN = re.compile(r"\{\{|\{([A-Z][A-Z0-9_]*)\}")
"""In an argv item: `{{` (a literal `{`, as `literal` escapes it) or a `{NAME}` placeholder."""
_UNSAFE = re.compile(r"[^\w .,:/()-]")
"""Characters kept out of a variable's description in the script's error message."""


def placeholders(item: str) -> list[str]:
    """The names of the `{NAME}` placeholders in an argv item (not those escaped as `{{NAME}`)."""
    return [match.group(1) for match in _TOKEN.finditer(item) if match.group(1)]


def shell_word(item: str, variables: Collection[str] = ()) -> str:
    """`item` as one quoted shell word in which only `{NAME}` placeholders of declared `variables` expand, and `{{`
    is a literal `{`."""
    parts: list[str] = []
    text, position = "", 0
    for match in _TOKEN.finditer(item):
        name = match.group(1)
        if name is None:
            text += item[position : match.start()] + "{"
        elif name in variables:
            parts += [shlex.quote(text + item[position : match.start()]), f'"${name}"']
            text = ""
        else:
            continue
        position = match.end()
    parts.append(shlex.quote(text + item[position:]))
    return "".join(part for part in parts if part != "''") or "''"


def shell_command(argv: Sequence[str], env: dict[str, str] | None = None, variables: Collection[str] = ()) -> str:
    """One command line: `env K=V … argv`, every word quoted."""
    prefix = ["env", *(shlex.quote(f"{key}={value}") for key, value in sorted((env or {}).items()))] if env else []
    return " ".join([*prefix, *(shell_word(item, variables) for item in argv)])


def _required(artifacts: LaunchArtifacts, commands: Sequence[Sequence[str]]) -> list[str]:
    """Lines that stop the script unless every declared variable its commands use is set."""
    used = {name for argv in commands for item in argv for name in placeholders(item)}
    return [
        f'{name}="${{{name}:?set {name}: {_UNSAFE.sub("", text)}}}"'
        for name, text in sorted(artifacts.variables.items())
        if name in used
    ]


TEMPLATE_SUFFIX = ".template"
"""A config file that names a node's address is written as `<name>.template`; launch.sh fills it in."""
_ADDRESS = "*[!A-Za-z0-9.:_-]*"
"""A shell pattern of what a node address (host name, IPv4 or IPv6) never holds."""


def templates(artifacts: LaunchArtifacts) -> dict[str, list[str]]:
    """Config files that name declared variables (`{HEAD_ADDR}:8100` in a router's server list): file -> names."""
    found = {
        name: sorted({match.group(1) for match in _TOKEN.finditer(text) if match.group(1) in artifacts.variables})
        for name, text in artifacts.files.items()
    }
    return {name: names for name, names in found.items() if names}


def _render_lines(artifacts: LaunchArtifacts, roles: Sequence[RoleLaunch]) -> tuple[list[str], list[str]]:
    """The lines that fill in the templates these roles' commands read, and the variables they need."""
    used = {item for role in roles for item in role.argv}
    lines: list[str] = []
    names: set[str] = set()
    for name, variables in templates(artifacts).items():
        if name not in used:
            continue
        names.update(variables)
        lines += [
            f'case "${variable}" in {_ADDRESS}) echo "launch.sh: {variable}=\'${variable}\' is not a node address" '
            ">&2; exit 2;; esac"
            for variable in variables
        ]
        substitutions = " ".join(f'-e "s|{{{variable}}}|${variable}|g"' for variable in variables)
        lines.append(f"sed {substitutions} {shlex.quote(name + TEMPLATE_SUFFIX)} > {shlex.quote(name)}")
    return lines, sorted(names)


def _node_lines(artifacts: LaunchArtifacts, node: int) -> list[str]:
    """What one node runs: its variables checked, the config templates its commands read filled in, then its roles
    in order, each started in the background and waited for where it says when it is ready."""
    roles = [role for role in artifacts.roles if role.node == node]
    variables = artifacts.variables
    rendering, needed = _render_lines(artifacts, roles)
    lines = _required(artifacts, [*(role.argv for role in roles), [f"{{{name}}}" for name in needed]]) + rendering
    for role in roles:
        if role.requires:
            missing = f"launch.sh: {role.argv[0]} is missing: pip install {' '.join(role.requires)}"
            lines.append(
                f"command -v {shlex.quote(role.argv[0])} > /dev/null || {{ echo {shlex.quote(missing)} >&2; exit 2; }}"
            )
        lines.append(f"{shell_command(role.argv, role.env, variables)} > logs/{role.role}.log 2>&1 &")
        if role.ready:
            lines.append(f"until {shell_command(role.ready, variables=variables)} > /dev/null 2>&1; do sleep 2; done")
    return lines


def _launch_script(artifacts: LaunchArtifacts) -> str:
    nodes = artifacts.node_count
    lines = [
        "#!/usr/bin/env bash",
        "# Written by servecast: starts this node's workers (and the router on the head node), logs under logs/.",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        "mkdir -p logs",
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT",
    ]
    if nodes == 1:
        return "\n".join([*lines, *_node_lines(artifacts, 0), "wait"]) + "\n"
    ranks = f"0 to {nodes - 1}; 0 is the head node"
    lines += [f'NODE_RANK="${{1:?usage: launch.sh NODE_RANK ({ranks})}}"', 'case "$NODE_RANK" in']
    idle = [node for node in range(nodes) if not any(role.node == node for role in artifacts.roles)]
    for node in range(nodes):
        if node not in idle:
            lines += [f"  {node})", *(f"    {line}" for line in _node_lines(artifacts, node)), "    ;;"]
    if idle:
        lines += [
            f"  {' | '.join(str(node) for node in idle)})",
            '    echo "launch.sh: node $NODE_RANK starts nothing itself: a launcher on another node starts its '
            'processes"',
            "    exit 0",
            "    ;;",
        ]
    lines += [
        "  *)",
        f"    echo \"launch.sh: unknown NODE_RANK '$NODE_RANK' (give {ranks})\" >&2",
        "    exit 2",
        "    ;;",
        "esac",
        "wait",
    ]
    return "\n".join(lines) + "\n"


def _benchmark_script(artifacts: LaunchArtifacts) -> str:
    variables = artifacts.variables
    endpoints = artifacts.endpoints or (Endpoint(port=FRONTEND_PORT),)
    polls = [("curl", "-sf", f"http://{endpoint.host}:{endpoint.port}/v1/models") for endpoint in endpoints]
    where = (
        "Run it on the head node (NODE_RANK 0): it reaches servers there at localhost, others at their NODE<n>_ADDR."
        if artifacts.node_count > 1
        else "Run it on the node launch.sh runs on: it reaches the servers at localhost."
    )
    lines = [
        "#!/usr/bin/env bash",
        "# Written by servecast: measures the simulated operating point once launch.sh's servers answer.",
        f"# {where}",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        *_required(artifacts, [*polls, *artifacts.benchmark]),
        *(f"until {shell_command(poll, variables=variables)} > /dev/null; do sleep 5; done" for poll in polls),
        "mkdir -p results",
    ]
    lines += [
        f"{shell_command(argv, variables=variables)} > results/client-{index}.log 2>&1 &"
        for index, argv in enumerate(artifacts.benchmark)
    ]
    lines.append("wait")
    return "\n".join(lines) + "\n"


def deployment_document(plan: LaunchPlan, artifacts: LaunchArtifacts) -> dict[str, Any]:
    """`deployment.json`: the configuration (the estimate request), the predicted metrics with their intervals and
    the user calibration behind them, the deployment and exactly what each role launches."""
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
        "files": sorted(artifacts.files),
        "warnings": [*plan.estimate.warnings, *plan.warnings, *artifacts.warnings],
    }


def _checked_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.name in LAUNCH_FILES:
        raise PluginError(
            f"the framework plugin asked to write {name!r}, outside its folder or over servecast's own files",
            "fix the plugin: config files are relative paths inside the deployment folder",
        )
    return path


def check_shell_syntax(name: str, text: str) -> None:
    """A PluginError unless bash parses the script `text` (`bash -n`; not checked where bash is not installed)."""
    bash = shutil.which("bash")
    if bash is None:
        return
    parsed = subprocess.run([bash, "-n"], input=text, capture_output=True, text=True, check=False)
    if parsed.returncode != 0:
        raise PluginError(
            f"servecast wrote a {name} that bash cannot parse: {parsed.stderr.strip()}",
            "this is a bug in servecast or the framework plugin; nothing was written: report it with the command",
        )


def write_launch(plan: LaunchPlan, artifacts: LaunchArtifacts, folder: Path, force: bool = False) -> list[Path]:
    """Write the artifacts into `folder`; the paths written (an InputError before writing anything when one of them
    exists and `force` is not set, a PluginError when bash cannot parse one of its shell scripts)."""
    filled_at_launch = templates(artifacts)
    files: dict[PurePosixPath, str] = {
        _checked_path(name + (TEMPLATE_SUFFIX if name in filled_at_launch else "")): text
        for name, text in artifacts.files.items()
    }
    files[PurePosixPath("launch.sh")] = _launch_script(artifacts)
    files[PurePosixPath("benchmark.sh")] = _benchmark_script(artifacts)
    files[PurePosixPath("deployment.json")] = json_text(deployment_document(plan, artifacts))
    for path, text in files.items():
        if path.suffix == ".sh":
            check_shell_syntax(str(path), text)
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


def render_launch(host: PluginHost, deployment: Deployment) -> LaunchArtifacts:
    """The artifacts the deployment's framework plugin writes for it."""
    target = Target(
        hardware=deployment.hardware, framework=deployment.framework, framework_version=deployment.framework_version
    )
    return host.launch_config(deployment, target)


def write_launch_for(host: PluginHost, request: EstimateRequest, folder: Path, force: bool = False) -> LaunchPlan:
    """Plan the launch of `request`, have its framework plugin render it, and write it into `folder`; the plan,
    with the artifacts' warnings added to its own."""
    plan = plan_launch(host, request)
    artifacts = render_launch(host, plan.deployment)
    write_launch(plan, artifacts, folder, force)
    return replace(plan, warnings=(*plan.warnings, *artifacts.warnings))

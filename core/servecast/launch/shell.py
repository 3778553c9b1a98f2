"""The shell target: `launch.sh`, run on each node, starts that node's processes; `benchmark.sh`, run on the head
node, measures the operating point once every endpoint answers.

Every value reaches the shell quoted (a model path with spaces, quotes, braces or `$(...)` stays one inert word);
the only expansions are the `{NAME}` placeholders servecast put in argv for declared variables, such as the node
addresses `$HEAD_ADDR` and `$NODE<n>_ADDR` (user text enters argv through `literal`, so none of its braces
expand). A deployment over several nodes gets one `launch.sh` run on each with its NODE_RANK, and a `benchmark.sh`
run on the head node that reaches each server on the node it listens on. Every script is parsed by bash before
anything is written.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Collection, Sequence
from pathlib import PurePosixPath

from servecast.errors import PluginError
from servecast.launch.artifacts import Endpoint, LaunchArtifacts, RoleLaunch
from servecast.launch.placement import FRONTEND_PORT

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


def launch_script(artifacts: LaunchArtifacts) -> str:
    """`launch.sh`: one branch per node (a single node needs none), each starting that node's roles."""
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


def benchmark_script(artifacts: LaunchArtifacts) -> str:
    """`benchmark.sh`: waits for every endpoint to answer, then runs the benchmark clients together."""
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


def shell_files(artifacts: LaunchArtifacts) -> dict[PurePosixPath, str]:
    """`launch.sh`, `benchmark.sh` and the plugin's config files (those naming a node address as templates that
    `launch.sh` fills in)."""
    filled_at_launch = templates(artifacts)
    files = {
        PurePosixPath(name + (TEMPLATE_SUFFIX if name in filled_at_launch else "")): text
        for name, text in artifacts.files.items()
    }
    files[PurePosixPath("launch.sh")] = launch_script(artifacts)
    files[PurePosixPath("benchmark.sh")] = benchmark_script(artifacts)
    return files

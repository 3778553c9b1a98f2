"""What container targets share: a role's command as plain text, its port and GPUs, the image, and YAML output."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

import yaml

from servecast.errors import InputError, PluginError
from servecast.launch.artifacts import Deployment, RoleLaunch

_PLACEHOLDER = re.compile(r"\{\{|\{([A-Z][A-Z0-9_]*)\}")
GPU_VARIABLE = "CUDA_VISIBLE_DEVICES"
"""Set per process by the shell target; a container runtime gives each container its own GPUs instead."""
HEALTH_PATH = "/health"
"""Where vLLM, SGLang, TensorRT-LLM's servers and the routers answer once they serve."""


def plain(item: str, target: str) -> str:
    """An argv item as the literal text a container runs: `{{` is `{`; a `{NAME}` placeholder (a node address
    `launch.sh` fills in) has no value in `target`, a PluginError."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "{"
        raise PluginError(
            f"the {target} target has no value for {{{name}}} in the launch argument {item!r}",
            "use --target shell, or report this gap in the target writer",
        )

    return _PLACEHOLDER.sub(replace, item)


def plain_argv(argv: Sequence[str], target: str) -> list[str]:
    """Every item of `argv` as plain text (see `plain`)."""
    return [plain(item, target) for item in argv]


def option_value(argv: Sequence[str], flag: str) -> str | None:
    """The value after `flag` in `argv` (the last one given), None when absent."""
    values = [value for option, value in zip(argv, argv[1:], strict=False) if option == flag]
    return values[-1] if values else None


def without_options(argv: Sequence[str], flags: Collection[str]) -> list[str]:
    """`argv` without each of `flags` and the value that follows it."""
    kept: list[str] = []
    skip = False
    for item in argv:
        if skip:
            skip = False
        elif item in flags:
            skip = True
        else:
            kept.append(item)
    return kept


def gpu_ids(role: RoleLaunch) -> list[str]:
    """The host GPUs the shell target gives `role` (its CUDA_VISIBLE_DEVICES), none for a CPU process."""
    devices = role.env.get(GPU_VARIABLE, "")
    return devices.split(",") if devices and role.gpus else []


def container_env(role: RoleLaunch) -> dict[str, str]:
    """The role's environment without the GPU selection (the container runtime makes its GPUs 0..n-1)."""
    return {name: value for name, value in role.env.items() if name != GPU_VARIABLE}


def required_image(deployment: Deployment, target: str) -> str:
    """The image the deployment's containers run; an InputError when the framework version has none."""
    if deployment.image is None:
        raise InputError(
            f"{deployment.framework} {deployment.framework_version} has no published container image servecast knows, "
            f"which the {target} target needs",
            "pass --image with the image to run, or use --target shell",
        )
    return deployment.image


def single_node(nodes: int, target: str) -> None:
    """An InputError when a deployment spanning `nodes` nodes is given to a single-machine target."""
    if nodes > 1:
        raise InputError(
            f"the deployment spans {nodes} nodes and the {target} target runs on one machine",
            "use --target shell (one launch.sh per node) or a Kubernetes target",
        )


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with every value written out (no anchors); multi-line strings as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _text)


def yaml_text(*documents: Any) -> str:
    """`documents` as one YAML stream (`---` between them), keys in the order given."""
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)

"""The compose target: the shell target's processes as docker compose services on one machine.

Each process is a service running the framework version's image with exactly the shell target's command, on the
host network (so the ports, and the addresses a router is given, are those of the shell launch) and the host IPC
namespace (NCCL's shared memory), with its GPUs reserved by id instead of `CUDA_VISIBLE_DEVICES`. The folder is
mounted read-only at /deploy, where config files are read from; the Hugging Face cache is shared with the host
(`HF_HOME`, default ~/.cache/huggingface) and `HF_TOKEN` is passed through. A router waits until its workers answer
their health check. The benchmark clients are services under the `benchmark` profile. The file is validated
against the compose specification's schema snapshot before it is written.
"""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath
from typing import Any

from servecast.launch.artifacts import LaunchArtifacts, RoleLaunch
from servecast.launch.containers import (
    HEALTH_PATH,
    container_env,
    gpu_ids,
    option_value,
    plain_argv,
    required_image,
    single_node,
    yaml_text,
)
from servecast.launch.manifest_schema import ManifestSchema
from servecast.launch.plan import LaunchPlan
from servecast.launch.targets import TargetOutput

COMPOSE_FILE = "compose.yaml"
FOLDER = "/deploy"
"""Where the deployment folder is mounted in every container (its working directory)."""
HF_CACHE = "${HF_HOME:-~/.cache/huggingface}:/root/.cache/huggingface"
START_PERIOD = "30m"
"""How long a server may take to load weights and capture CUDA graphs before failed health checks count."""
TARGET = "compose"
USAGE = """\
# Written by servecast. `docker compose up -d` starts the servers (the NVIDIA Container Toolkit gives them their
# GPUs); `docker compose --profile benchmark up` also runs the benchmark clients once the servers answer.
"""


def _escaped(text: str) -> str:
    """`text` with compose's interpolation switched off (`$` is `$$`)."""
    return text.replace("$", "$$")


def _health(port: str) -> dict[str, Any]:
    probe = f"import urllib.request; urllib.request.urlopen('http://localhost:{port}{HEALTH_PATH}', timeout=5)"
    return {
        "test": ["CMD", "python3", "-c", probe],
        "interval": "10s",
        "timeout": "10s",
        "retries": 3,
        "start_period": START_PERIOD,
    }


def _volumes(model: str) -> list[str]:
    volumes = [f".:{FOLDER}:ro", HF_CACHE]
    if Path(model).is_absolute():  # a local checkpoint folder, launched by its absolute path
        volumes.append(f"{_escaped(model)}:{_escaped(model)}:ro")
    return volumes


def _service(role: RoleLaunch, image: str, model: str) -> dict[str, Any]:
    argv = [_escaped(item) for item in plain_argv(role.argv, TARGET)]
    environment: dict[str, str | None] = {name: _escaped(value) for name, value in container_env(role).items()}
    environment["HF_TOKEN"] = None  # passed through from the shell that runs docker compose
    if role.requires:  # installed into the framework's image as the container starts ($$: compose's escaped $)
        requirements = " ".join(shlex.quote(requirement) for requirement in role.requires)
        entrypoint, command = ["sh", "-c", f'python3 -m pip install --quiet {requirements} && exec "$$0" "$$@"'], argv
    else:
        entrypoint, command = argv[:1], argv[1:]
    service: dict[str, Any] = {
        "image": image,
        "entrypoint": entrypoint,
        "command": command,
        "working_dir": FOLDER,
        "network_mode": "host",
        "ipc": "host",
        "environment": environment,
        "volumes": _volumes(model),
    }
    devices = gpu_ids(role)
    if devices:
        service["deploy"] = {
            "resources": {
                "reservations": {"devices": [{"driver": "nvidia", "device_ids": devices, "capabilities": ["gpu"]}]}
            }
        }
    port = option_value(role.argv, "--port")
    if port is not None:
        service["healthcheck"] = _health(port)
    return service


def compose_document(plan: LaunchPlan, artifacts: LaunchArtifacts) -> dict[str, Any]:
    """The compose file of the deployment (an InputError when it spans nodes or has no image)."""
    single_node(artifacts.node_count, TARGET)
    deployment = plan.deployment

    image = required_image(deployment, TARGET)
    services = {role.role: _service(role, image, deployment.model) for role in artifacts.roles}
    servers = [name for name, service in services.items() if "healthcheck" in service]
    for role in artifacts.roles:
        if role.gpus == 0 and role.role in servers:  # a router: up once its workers answer
            workers = [name for name in servers if name != role.role]
            services[role.role]["depends_on"] = {name: {"condition": "service_healthy"} for name in workers}
    endpoints = [
        name for name in servers if not any(name in service.get("depends_on", {}) for service in services.values())
    ]
    for index, argv in enumerate(artifacts.benchmark):
        services[f"benchmark-{index}"] = {
            "image": image,
            "profiles": ["benchmark"],
            "entrypoint": [_escaped(item) for item in plain_argv(argv[:1], TARGET)],
            "command": [_escaped(item) for item in plain_argv(argv[1:], TARGET)],
            "working_dir": FOLDER,
            "network_mode": "host",
            "environment": {"HF_TOKEN": None},
            "volumes": [f".:{FOLDER}:ro", HF_CACHE],
            "depends_on": {name: {"condition": "service_healthy"} for name in endpoints},
        }
    slug = f"servecast-{deployment.framework}-{deployment.mode.value}".lower()
    return {"name": slug, "services": services}


def compose_files(plan: LaunchPlan, artifacts: LaunchArtifacts) -> TargetOutput:
    """`compose.yaml` and the plugin's config files, the compose file checked against the compose schema."""
    document = compose_document(plan, artifacts)
    schema = ManifestSchema.shipped("compose-spec")
    schema.check(document, COMPOSE_FILE)
    files = {PurePosixPath(name): text for name, text in artifacts.files.items()}
    files[PurePosixPath(COMPOSE_FILE)] = USAGE + yaml_text(document)
    return TargetOutput(files, checked_against=(schema.provenance,))

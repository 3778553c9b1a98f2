"""A chosen deployment, and the commands, environments and files that launch it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from servecast.domain.base import FrozenModel
from servecast.domain.framework import KnobValue
from servecast.domain.layout import ParallelLayout
from servecast.domain.vocabulary import GpuVendor, KvCacheDtype, Quantization, ServingMode
from servecast.domain.workload import Workload

HEAD_ADDRESS = "{HEAD_ADDR}"
"""Stands in an argv item for the head node's address (a variable every multi-node launch declares)."""
HEAD_VARIABLE = "the head node address, reachable from every node"
"""How launches describe HEAD_ADDR in `LaunchArtifacts.variables`."""


def node_address(node: int) -> str:
    """The placeholder of a node's address in an argv item (`{HEAD_ADDR}` for node 0, `{NODE<n>_ADDR}` else)."""
    return HEAD_ADDRESS if node == 0 else f"{{NODE{node}_ADDR}}"


def literal(text: str) -> str:
    """`text` (a value the user gave, such as a model path) as argv text in which nothing expands: each `{` doubled,
    so a `{NAME}` in it stays as written."""
    return text.replace("{", "{{")


class WorkerRole(StrEnum):
    """What a group of workers does."""

    AGGREGATED = "agg"
    PREFILL = "prefill"
    DECODE = "decode"


class WorkerGroup(FrozenModel):
    """Identical workers with one role and layout, and the knob values they run with."""

    role: WorkerRole
    layout: ParallelLayout
    replicas: int = Field(default=1, ge=1)
    knobs: dict[str, KnobValue] = Field(
        default_factory=dict, description="Framework knob name -> the value the framework takes (not negated)."
    )
    hardware: str | None = Field(
        default=None, description="The system its workers run on where it is not the deployment's (mixed pools)."
    )
    gpus_per_node: int | None = Field(default=None, ge=1, description="GPUs per node of that system.")
    gpu_product: str | None = Field(
        default=None, description="The name the driver reports for that system's GPU (what node labels carry)."
    )


class Deployment(FrozenModel):
    """What servecast recommends: one model on one system with one framework version, as worker groups, and the
    operating point it was simulated at (what the benchmark script measures)."""

    model: str = Field(min_length=1, description="The model id or path the framework loads.")
    hardware: str
    framework: str
    framework_version: str
    mode: ServingMode
    workers: tuple[WorkerGroup, ...] = Field(min_length=1)
    gpus_per_node: int = Field(default=8, ge=1)
    gpu_vendor: GpuVendor = Field(
        default=GpuVendor.NVIDIA, description="Whose GPUs (and container runtime) it runs on."
    )
    gpu_product: str | None = Field(default=None, description="The name the driver reports for the system's GPU.")
    routed_experts: int | None = Field(
        default=None, ge=1, description="The model's routed experts (MoE models): with redundant copies, the slots."
    )
    quantization: Quantization | None = Field(
        default=None,
        description="Quantization the framework applies to the 16-bit checkpoint as it loads; None: the checkpoint's "
        "own (what its config declares).",
    )
    kv_cache_dtype: KvCacheDtype | None = Field(default=None, description="None: the framework's automatic choice.")
    workload: Workload | None = Field(default=None, description="Request lengths of the simulated operating point.")
    concurrency: int | None = Field(default=None, ge=1, description="Closed-loop users of the whole deployment.")
    request_rate: float | None = Field(default=None, gt=0, description="Requests per second (open loop).")
    checkpoint_bytes: int | None = Field(
        default=None, ge=0, description="The weights as the framework loads them (what a model cache must hold)."
    )
    image: str | None = Field(
        default=None,
        description="The container image container targets run: the framework version's own unless the user gave "
        "one; None where the version publishes none.",
    )

    @property
    def mixed(self) -> bool:
        """Whether its worker groups run on more than one system."""
        return any(group.hardware not in (None, self.hardware) for group in self.workers)

    @property
    def gpus(self) -> int:
        """GPUs the whole deployment occupies."""
        return sum(group.layout.gpus * group.replicas for group in self.workers)


class Endpoint(FrozenModel):
    """A port that answers clients once the deployment is up, and the node whose server listens on it."""

    port: int = Field(ge=1, le=65535)
    node: int = Field(default=0, ge=0, description="Node index (0 is the head node).")

    @property
    def host(self) -> str:
        """Where `benchmark.sh`, run on the head node, reaches it: localhost on the head node, else the node's
        address placeholder."""
        return "localhost" if self.node == 0 else node_address(self.node)


class RoleLaunch(FrozenModel):
    """Exactly what is started for one worker (or router) on one node."""

    role: str = Field(description="e.g. `agg-0`, `prefill-1`, `decode-0`, `router`.")
    framework: str
    version: str
    gpus: int = Field(ge=0)
    argv: tuple[str, ...] = Field(
        min_length=1,
        description="`{NAME}` of a declared variable expands to it and `{{` is a literal `{`: user text goes in "
        "through `literal`.",
    )
    env: dict[str, str] = Field(default_factory=dict)
    node: int = Field(default=0, ge=0, description="Node index (0 is the head node).")
    ready: tuple[str, ...] = Field(
        default=(),
        description="A command that succeeds once this process is ready; roles after it on its node start only then.",
    )
    requires: tuple[str, ...] = Field(
        default=(),
        description="Python requirements the command needs besides the framework (`vllm-router==0.1.17`): the "
        "shell target checks the command is there, container targets install them into the framework's image.",
    )


class LaunchArtifacts(FrozenModel):
    """The launch of a deployment: one entry per process, and files to write (relative path -> text)."""

    roles: tuple[RoleLaunch, ...] = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)
    benchmark: tuple[tuple[str, ...], ...] = Field(
        default=(),
        description="Benchmark commands (argv, as in `RoleLaunch.argv`), run concurrently on the head node, that "
        "measure the operating point at the endpoints.",
    )
    endpoints: tuple[Endpoint, ...] = Field(
        default=(),
        description="Where clients connect once the deployment is up (a bare port: one on the head node); "
        "`benchmark.sh` waits for each to answer.",
    )
    variables: dict[str, str] = Field(
        default_factory=dict,
        description="Shell variables the user sets (name -> what it is); `{NAME}` in an argv item expands to it.",
    )
    nodes: int = Field(
        default=1,
        ge=1,
        description="Nodes the deployment spans, at least those its roles run on (a node may run none: another "
        "node's launcher, such as mpirun, starts its processes).",
    )
    warnings: tuple[str, ...] = ()

    @field_validator("endpoints", mode="before")
    @classmethod
    def _ports_on_the_head_node(cls, value: Any) -> Any:
        """A bare port is an endpoint on the head node."""
        if isinstance(value, list | tuple):
            return tuple({"port": item} if isinstance(item, int) else item for item in value)
        return value

    @property
    def node_count(self) -> int:
        """Nodes `launch.sh` is run on: those declared, and any a role runs on."""
        return max(self.nodes, *(role.node + 1 for role in self.roles))

"""A chosen deployment, and the commands, environments and files that launch it."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from servecast.domain.base import FrozenModel
from servecast.domain.framework import KnobValue
from servecast.domain.layout import ParallelLayout
from servecast.domain.vocabulary import ServingMode


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
    knobs: dict[str, KnobValue] = Field(default_factory=dict, description="Framework knob name -> value.")


class Deployment(FrozenModel):
    """What servecast recommends: one model on one system with one framework version, as worker groups."""

    model: str = Field(min_length=1)
    hardware: str
    framework: str
    framework_version: str
    mode: ServingMode
    workers: tuple[WorkerGroup, ...] = Field(min_length=1)

    @property
    def gpus(self) -> int:
        """GPUs the whole deployment occupies."""
        return sum(group.layout.gpus * group.replicas for group in self.workers)


class RoleLaunch(FrozenModel):
    """Exactly what is started for one worker (or router) role."""

    role: str
    framework: str
    version: str
    gpus: int = Field(ge=0)
    argv: tuple[str, ...] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)


class LaunchArtifacts(FrozenModel):
    """The launch of a deployment: one entry per role, and files to write (relative path -> text)."""

    roles: tuple[RoleLaunch, ...] = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict)

"""A measured op table a plugin ships: the key it answers for and where its data and metadata live."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from servecast.domain.base import FrozenModel
from servecast.ops.estimator import OpKind


class PerfTableRef(FrozenModel):
    """A measured table for one op on one system (and, for framework kernels, one framework version).

    The CSV holds the measurements; the TOML sidecar says who measured what, when, and with which tool.
    """

    hardware: str
    framework: str | None = Field(default=None, description="None: the table holds framework-agnostic kernels.")
    framework_version: str | None = None
    op: OpKind
    csv_path: Path
    metadata_path: Path

    @property
    def key(self) -> tuple[str, str | None, str | None, OpKind]:
        """What the table answers for; two tables with one key conflict."""
        return (self.hardware, self.framework, self.framework_version, self.op)

    @property
    def name(self) -> str:
        """A readable form of the key."""
        framework = f"{self.framework}{'-' + self.framework_version if self.framework_version else ''}"
        return f"{self.hardware}/{framework if self.framework else 'any'}/{self.op.value}"

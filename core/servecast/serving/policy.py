"""The contract of a framework's scheduling behaviour, provided through the scheduler hook."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from servecast.domain.target import Target


@runtime_checkable
class SchedulingPolicy(Protocol):
    """How a framework version forms iterations on a target (batching, chunking, overheads, memory reserve).

    The serving simulation reads everything it needs from this object; the attributes it relies on grow with
    the serving model, and every policy names the target it was built for.
    """

    @property
    def target(self) -> Target: ...

"""Serving simulation: how a framework schedules iterations, and what users measure as a result."""

from servecast.serving.policy import SchedulingPolicy

__all__ = ["SchedulingPolicy"]

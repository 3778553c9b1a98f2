"""A user calibration's runtime corrections: offsets to the framework's per-request and per-iteration costs and the
memory kept from the KV cache, applied to the settings its scheduling policy resolves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from servecast.domain.framework import KnobMeaning, KnobValue
from servecast.domain.target import Target
from servecast.domain.user_calibration import UserCalibration
from servecast.models.memory import GIB
from servecast.serving.policy import PolicyContext, SchedulerSettings, SchedulingPolicy


class UserCalibratedPolicy:
    """`policy`, with the fitted front-end time, iteration CPU time and memory reserve of `calibration`."""

    def __init__(self, policy: SchedulingPolicy, calibration: UserCalibration) -> None:
        self.policy = policy
        self.calibration = calibration

    @property
    def target(self) -> Target:
        return self.policy.target

    def settings(
        self, context: PolicyContext, overrides: Mapping[KnobMeaning, KnobValue] | None = None
    ) -> SchedulerSettings:
        return calibrated_settings(self.policy.settings(context, overrides), self.calibration)


def calibrated_settings(settings: SchedulerSettings, calibration: UserCalibration) -> SchedulerSettings:
    """`settings` with the calibration's runtime offsets added to the framework version's costs (never below 0)."""
    request_ms = calibration.value("frontend.request_ms") or 0.0
    iteration_ms = calibration.value("scheduler.iteration_cpu_ms") or 0.0
    reserve_gib = calibration.value("memory.reserve_gib") or 0.0
    memory = replace(settings.memory, reserve_bytes=settings.memory.reserve_bytes + int(reserve_gib * GIB))
    return replace(
        settings,
        request_ms=max(settings.request_ms + request_ms, 0.0),
        iteration_cpu_ms=max(settings.iteration_cpu_ms + iteration_ms, 0.0),
        memory=memory,
    )

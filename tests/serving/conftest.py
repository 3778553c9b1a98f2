"""Serving fixtures: the installed workspace plugins (h100_sxm, vLLM, SGLang, TensorRT-LLM) and built servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from servecast.domain import LengthDistribution, ParallelLayout, Target, Workload
from servecast.domain.workload import UserPhase, UserStart
from servecast.host import PluginHost
from servecast.models.model import load_model
from servecast.serving.policy import ServerRole
from servecast.serving.server import Server, build_server


@pytest.fixture(scope="session")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


@pytest.fixture(scope="session")
def server(host: PluginHost) -> Callable[..., Server]:
    """A server of `model` on h100_sxm: `server("vllm", isl=1000, osl=200, tp=4)`; `spread` draws the simulation's
    lengths uniformly within ± that ratio of isl and osl. Closed-loop users are counted in their steady state
    (`start`) and, with equal lengths, move in waves as the simulation's do (`phase`), unless told otherwise."""
    built: dict[tuple[object, ...], Server] = {}

    def _server(
        framework: str,
        model: str = "meta-llama/Llama-3.1-8B",
        isl: int = 1000,
        osl: int = 200,
        version: str | None = None,
        role: ServerRole = ServerRole.AGGREGATED,
        spread: float = 0.0,
        start: UserStart = UserStart.WARM,
        phase: UserPhase | None = None,
        requests_per_user: float = 10.0,
        **layout: int,
    ) -> Server:
        phase = phase or (UserPhase.SPREAD if spread else UserPhase.WAVES)
        key = (framework, model, isl, osl, version, role, spread, start, phase, requests_per_user)
        key += tuple(sorted(layout.items()))
        if key not in built:
            target = Target(hardware="h100_sxm", framework=framework, framework_version=version)
            loaded = load_model(model, host.architectures)
            kind = LengthDistribution.UNIFORM if spread else LengthDistribution.FIXED
            workload = Workload(
                input_tokens=isl,
                output_tokens=osl,
                length_distribution=kind,
                length_spread=spread,
                user_start=start,
                user_phase=phase,
                requests_per_user=requests_per_user,
            )
            hardware = host.hardware.get("h100_sxm")
            built[key] = build_server(host, loaded, hardware, target, ParallelLayout(**layout), workload, role)
        return built[key]

    return _server

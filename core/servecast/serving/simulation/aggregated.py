"""The simulation of one aggregated (or static) instance under a load."""

from __future__ import annotations

import numpy as np

from servecast.serving.load import Load
from servecast.serving.server import Server
from servecast.serving.simulation.engine import Instance
from servecast.serving.simulation.requests import RequestStream
from servecast.serving.simulation.result import SimulationResult, measured_result
from servecast.serving.trace import Trace


def simulate(
    server: Server,
    load: Load,
    num_requests: int | None = None,
    seed: int = 0,
    trace: Trace | None = None,
) -> SimulationResult:
    """Run `num_requests` requests (default: enough for a steady state) through one instance under `load`, their
    lengths drawn by the server's workload; or replay `trace`, its requests at their times with their lengths."""
    server.check_prompts_fit_the_budget()
    stream = RequestStream(server, load, num_requests, np.random.default_rng(seed), trace)
    instance = Instance(server, min(server.batch_limit, load.full_batch or server.batch_limit))
    clock = 0.0
    while not stream.done:
        instance.scheduler.waiting.extend(stream.arrived(clock))
        duration = instance.start()
        if duration is None:
            arrival = stream.next_arrival()
            if arrival is None:
                raise RuntimeError("simulation stalled: a request can never be admitted")
            clock = max(clock, arrival)
            continue
        clock += duration
        late = instance.late_ms()
        for request in instance.finish(clock, late):
            stream.finish(request, clock + late)
    return measured_result(stream.requests, load, server.workload, instance.scheduler.preemptions, instance.iterations)

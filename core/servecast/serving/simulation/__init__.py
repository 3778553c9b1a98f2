"""A discrete-event simulation of iteration-level scheduling over a finite request stream.

Requests arrive (Poisson arrivals, closed-loop users, or all at once), wait, are admitted under the batch limit
and the KV cache, have their prompts prefilled in chunks by the framework's rule and then decode one token per
iteration; each iteration's time comes from the server's step-time model. The per-request TTFT, TPOT and
end-to-end latencies give the percentiles a mean-value model cannot. Modules: `requests` (lengths and the stream),
`engine` (one instance's iterations), `aggregated` and `disaggregated` (the deployments), `result`.
"""

from servecast.serving.simulation.aggregated import simulate
from servecast.serving.simulation.disaggregated import SIMULATED_WORKERS_LIMIT, simulate_disaggregated
from servecast.serving.simulation.requests import SIMULATED_REQUESTS_LIMIT, draw_lengths, requests_to_simulate
from servecast.serving.simulation.result import SimulationResult

__all__ = [
    "SIMULATED_REQUESTS_LIMIT",
    "SIMULATED_WORKERS_LIMIT",
    "SimulationResult",
    "draw_lengths",
    "requests_to_simulate",
    "simulate",
    "simulate_disaggregated",
]

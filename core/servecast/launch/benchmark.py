"""The benchmark clients that measure a deployment at its simulated operating point.

The three frameworks' serving benchmarks descend from the same script and share its random-dataset flags; each
plugin adds its own command, endpoint flags and length conventions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servecast.domain.workload import Workload
from servecast.launch.artifacts import Deployment


@dataclass(frozen=True)
class ClientLoad:
    """What one benchmark client sends to one endpoint."""

    port: int
    users: int
    prompts: int
    workload: Workload

    def random_dataset(self, input_len: int, range_ratio: str) -> list[str]:
        """The shared flags: random prompts of `input_len` tokens, the outputs, the concurrency and prompt count."""
        return [
            "--dataset-name", "random",
            "--random-input-len", str(input_len),
            "--random-output-len", str(self.workload.output_tokens),
            "--random-range-ratio", range_ratio,
            "--max-concurrency", str(self.users),
            "--num-prompts", str(self.prompts),
        ]  # fmt: skip


def client_loads(deployment: Deployment, ports: list[int]) -> list[ClientLoad]:
    """One client per endpoint with the deployment's users split evenly between them; none when the deployment was
    not simulated under a closed-loop concurrency (an open-loop rate has no client count to reproduce)."""
    workload = deployment.workload
    if workload is None or deployment.concurrency is None or not ports:
        return []
    users = max(1, math.ceil(deployment.concurrency / len(ports)))
    prompts = max(users, round(workload.requests_per_user * users))  # the run the estimate's means describe
    return [ClientLoad(port, users, prompts, workload) for port in ports]

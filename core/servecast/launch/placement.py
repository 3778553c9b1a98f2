"""Where each worker of a deployment runs: its nodes, its GPUs on them and its port.

Workers are placed in order (prefill before decode): one that fits in a node never straddles two, one larger than a
node takes whole nodes of its own, and a pool on a system of its own starts on that system's nodes. Ports are unique
per worker so co-located workers never collide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from servecast.errors import InputError
from servecast.launch.artifacts import HEAD_VARIABLE, Deployment, Endpoint, WorkerGroup, WorkerRole, node_address

FRONTEND_PORT = 8000
"""Where clients connect: the only worker of a single-instance deployment, or the router in front of several."""
WORKER_BASE_PORT = 8100
"""Workers behind a router listen on consecutive ports from here."""


@dataclass(frozen=True)
class WorkerPlacement:
    """One worker: its group, its index within the role, the nodes it spans and its GPUs on each of them."""

    group: WorkerGroup
    index: int
    first_node: int
    gpu_ids: tuple[int, ...]
    """GPU indices on each of its nodes (every node of a multi-node worker uses the same ones)."""
    nodes: int
    port: int

    @property
    def role(self) -> WorkerRole:
        return self.group.role

    @property
    def name(self) -> str:
        return f"{self.group.role.value}-{self.index}"

    @property
    def last_node(self) -> int:
        return self.first_node + self.nodes - 1

    @property
    def cuda_visible_devices(self) -> str:
        return ",".join(str(gpu) for gpu in self.gpu_ids)

    @property
    def endpoint(self) -> Endpoint:
        """Its server's port, on its first node (where the process answering HTTP runs)."""
        return Endpoint(port=self.port, node=self.first_node)


def needs_router(deployment: Deployment) -> bool:
    """Whether clients reach the workers through a router (disaggregated pools) rather than directly."""
    return any(group.role is not WorkerRole.AGGREGATED for group in deployment.workers)


def place(deployment: Deployment) -> list[WorkerPlacement]:
    """Every worker of `deployment`, placed on nodes of its system's GPUs per node."""
    order = {WorkerRole.PREFILL: 0, WorkerRole.AGGREGATED: 1, WorkerRole.DECODE: 2}
    groups = sorted(deployment.workers, key=lambda group: order[group.role])
    routed = needs_router(deployment)
    single = not routed and sum(group.replicas for group in groups) == 1
    placements: list[WorkerPlacement] = []
    node, used = 0, 0
    counters: dict[WorkerRole, int] = {}
    system = groups[0].hardware or deployment.hardware
    for group in groups:
        gpus = group.layout.gpus
        node_gpus = group.gpus_per_node or deployment.gpus_per_node
        if (group.hardware or deployment.hardware) != system:  # another system's workers start on its own nodes
            system = group.hardware or deployment.hardware
            node, used = (node + 1, 0) if used else (node, 0)
        for _ in range(group.replicas):
            if gpus >= node_gpus:
                node, used = (node + 1, 0) if used else (node, 0)
                nodes = math.ceil(gpus / node_gpus)
                if gpus % nodes:
                    raise InputError(
                        f"a {group.layout} worker has {gpus} GPUs, which do not split evenly over {nodes} nodes of "
                        f"{node_gpus}",
                        "pick a pipeline depth that puts the same number of GPUs on every node",
                    )
                ids = tuple(range(gpus // nodes))
                first, node, used = node, node + nodes, 0
            else:
                if used + gpus > node_gpus:
                    node, used = node + 1, 0
                ids = tuple(range(used, used + gpus))
                first, nodes, used = node, 1, used + gpus
            index = counters.get(group.role, 0)
            counters[group.role] = index + 1
            port = FRONTEND_PORT if single else WORKER_BASE_PORT + len(placements)
            placements.append(WorkerPlacement(group, index, first, ids, nodes, port))
    return placements


def node_span(workers: list[WorkerPlacement]) -> int:
    """Nodes the placed workers span."""
    return max(worker.last_node for worker in workers) + 1


def address_variables(workers: list[WorkerPlacement]) -> dict[str, str]:
    """The address variables a placement spanning several nodes needs (none on one node)."""
    last = max(worker.last_node for worker in workers)
    if last == 0:
        return {}
    return {"HEAD_ADDR": HEAD_VARIABLE} | {f"NODE{node}_ADDR": f"node {node} address" for node in range(1, last + 1)}


def worker_host(worker: WorkerPlacement, workers: list[WorkerPlacement]) -> str:
    """Where other processes reach `worker`: localhost on one node, else its first node's address placeholder."""
    return "localhost" if all(other.last_node == 0 for other in workers) else node_address(worker.first_node)

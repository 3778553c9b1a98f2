"""Launch artifacts: what a framework plugin writes so the chosen deployment can be started."""

from servecast.launch.artifacts import (
    Deployment,
    Endpoint,
    LaunchArtifacts,
    RoleLaunch,
    WorkerGroup,
    WorkerRole,
    literal,
    node_address,
)

__all__ = [
    "Deployment",
    "Endpoint",
    "LaunchArtifacts",
    "RoleLaunch",
    "WorkerGroup",
    "WorkerRole",
    "literal",
    "node_address",
]

"""Launch artifacts: what a framework plugin writes so the chosen deployment can be started."""

from servecast.launch.artifacts import Deployment, LaunchArtifacts, RoleLaunch, WorkerGroup, WorkerRole

__all__ = ["Deployment", "LaunchArtifacts", "RoleLaunch", "WorkerGroup", "WorkerRole"]

"""The public API for plugin authors: a plugin imports servecast only from here (its tests from servecast.testing)."""

from servecast import hookimpl
from servecast.domain import (
    Candidate,
    FrameworkSpec,
    FrameworkVersion,
    HardwareSpec,
    Knob,
    KnobMeaning,
    KnobValue,
    KvCacheDtype,
    Quantization,
    ServingMode,
    Target,
)
from servecast.errors import InputError, PluginError
from servecast.framework_plugin import FrameworkHooks, LaunchWriter, framework_plugin
from servecast.launch import Deployment, Endpoint, LaunchArtifacts, RoleLaunch, WorkerGroup, WorkerRole
from servecast.launch.artifacts import literal, node_address
from servecast.launch.benchmark import ClientLoad, client_loads
from servecast.launch.checkpoint import load_quantization_value, loading_flags
from servecast.launch.knobs import config_tree, environment, flag_arguments
from servecast.launch.placement import FRONTEND_PORT, WorkerPlacement, address_variables, node_span, place, worker_host
from servecast.launch.schema import LaunchSchema, check_launch
from servecast.models.family import ModelFamily
from servecast.ops.estimator import OpEstimator, OpKind
from servecast.perfdb import PerfTableRef
from servecast.perfdb.folder import tables_in
from servecast.serving.policy import (
    KnobSchedulingPolicy,
    PolicyContext,
    Resolve,
    SchedulerSettings,
    SchedulingPolicy,
    ServerRole,
    memory_gib,
)
from servecast.specfiles import load_framework_spec, load_hardware_spec

__all__ = [
    # marking hook implementations, and a framework plugin's hooks built from its spec, policy and launch module
    "hookimpl",
    "framework_plugin",
    "FrameworkHooks",
    "LaunchWriter",
    # spec files and the domain types they hold
    "load_framework_spec",
    "load_hardware_spec",
    "FrameworkSpec",
    "FrameworkVersion",
    "HardwareSpec",
    "Knob",
    "KnobMeaning",
    "KnobValue",
    "KvCacheDtype",
    "Quantization",
    "ServingMode",
    "Target",
    # measured tables
    "PerfTableRef",
    "tables_in",
    # scheduling policies
    "SchedulingPolicy",
    "KnobSchedulingPolicy",
    "PolicyContext",
    "Resolve",
    "SchedulerSettings",
    "ServerRole",
    "memory_gib",
    # launch artifacts and the helpers that write them
    "Deployment",
    "WorkerGroup",
    "WorkerRole",
    "LaunchArtifacts",
    "RoleLaunch",
    "Endpoint",
    "literal",
    "node_address",
    "FRONTEND_PORT",
    "WorkerPlacement",
    "place",
    "node_span",
    "worker_host",
    "address_variables",
    "ClientLoad",
    "client_loads",
    "config_tree",
    "environment",
    "flag_arguments",
    "loading_flags",
    "load_quantization_value",
    "LaunchSchema",
    "check_launch",
    # the types in the other hooks' signatures
    "Candidate",
    "OpKind",
    "OpEstimator",
    "ModelFamily",
    # errors: the user must change something (InputError), the plugin cannot do what it was asked (PluginError)
    "InputError",
    "PluginError",
]

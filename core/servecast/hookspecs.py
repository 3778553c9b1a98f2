"""The hooks a servecast plugin can implement.

Every hook is prefixed ``servecast_``. A plugin implements a hook by defining a function of the same name
decorated with ``servecast.hookimpl``; it may accept any subset of the hook's parameters, so parameters added
to a hook in a later servecast release do not break existing plugins.

Two kinds of hooks:

* **collecting** hooks are called on every plugin and their results are merged (registration hooks return
  lists of named objects; a name registered by two plugins is an error naming both distributions);
* **firstresult** hooks answer "who handles this target?": plugins are asked in turn and the first result
  that is not ``None`` wins; a plugin returns ``None`` for targets it does not handle.

The plugin host calls each hook once per distinct argument and caches the answer, so no hook is ever called
inside the search's inner loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from servecast import PROJECT_NAME

if TYPE_CHECKING:  # annotations only: the host loads these specs, and serving and launch build on the host
    from collections.abc import Sequence

    from servecast.domain.candidate import Candidate
    from servecast.domain.framework import FrameworkSpec
    from servecast.domain.hardware import HardwareSpec
    from servecast.domain.target import Target
    from servecast.launch.artifacts import Deployment, LaunchArtifacts
    from servecast.models.family import ModelFamily
    from servecast.ops.estimator import OpEstimator, OpKind
    from servecast.perfdb.table import PerfTableRef
    from servecast.serving.policy import SchedulingPolicy

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def servecast_register_hardware() -> Sequence[HardwareSpec]:
    """Register the GPU systems this plugin describes.

    Collecting: every plugin is called; names must be unique across plugins.

    Returns:
        HardwareSpec objects, usually read from a TOML data file with ``servecast.plugin.load_hardware_spec``.

    Example::

        @hookimpl
        def servecast_register_hardware():
            return [load_hardware_spec(files(__package__) / "data" / "h100_sxm.toml")]
    """


@hookspec
def servecast_register_perf_tables() -> Sequence[PerfTableRef]:
    """Register measured op tables (CSV data plus a TOML provenance sidecar).

    Collecting: every plugin is called; two tables with the same (hardware, framework, version, op) key
    conflict.

    Returns:
        PerfTableRef objects pointing at the files this plugin ships.

    Example::

        @hookimpl
        def servecast_register_perf_tables():
            data = files(__package__) / "tables"
            return [PerfTableRef(hardware="h100_sxm", op=OpKind.GEMM,
                                 csv_path=data / "gemm_bf16.csv", metadata_path=data / "gemm_bf16.toml")]
    """


@hookspec
def servecast_register_frameworks() -> Sequence[FrameworkSpec]:
    """Register the serving frameworks this plugin models, with their versions, capabilities and defaults.

    Collecting: every plugin is called; names must be unique across plugins.

    Returns:
        FrameworkSpec objects, usually read with ``servecast.plugin.load_framework_spec``.

    Example::

        @hookimpl
        def servecast_register_frameworks():
            return [load_framework_spec(files(__package__) / "data" / "vllm.toml")]
    """


@hookspec
def servecast_register_model_families() -> Sequence[ModelFamily]:
    """Teach servecast model architectures it does not know (a new attention variant, a new MoE layout).

    Collecting: every plugin is called; family names and the Hugging Face architecture names they claim
    must be unique across plugins.

    Returns:
        ModelFamily objects.

    Example::

        @hookimpl
        def servecast_register_model_families():
            return [MyMambaHybridFamily()]
    """


@hookspec(firstresult=True)
def servecast_op_estimator(op: OpKind, target: Target) -> OpEstimator | None:
    """Provide the estimator for one primitive op kind on one target.

    Firstresult: stops at the first non-None result. A plugin answers only when it brings its own model (e.g. a
    framework's analytic model of a kernel) and returns None otherwise. When no plugin answers, the core's
    layered default is used: the framework version's measured kernel tables, the system's measured tables,
    the calibrated roofline (with the framework's declared kernel choices), then the pure roofline. Declaring
    kernels and shipping tables as data is usually all a framework plugin needs.

    Parameters:
        op: the primitive op kind, e.g. ``OpKind.DECODE_ATTENTION``.
        target: the hardware, and the framework version when the estimate is framework-specific.

    Returns:
        An OpEstimator (called with arrays of shapes and a data type, returns latencies with provenance), or None.

    Example::

        @hookimpl
        def servecast_op_estimator(op, target):
            if target.framework == "vllm" and op is OpKind.ALL_REDUCE:
                return VllmCustomAllReduce(target)
            return None
    """


@hookspec(firstresult=True)
def servecast_scheduler(target: Target) -> SchedulingPolicy | None:
    """Provide a framework version's scheduling behaviour on a target.

    Firstresult: stops at the first non-None result; a framework plugin answers for its own framework name
    and returns None otherwise.

    Parameters:
        target: hardware, framework and framework version.

    Returns:
        A SchedulingPolicy (batching, chunking, overheads, memory reserve), or None.

    Example::

        @hookimpl
        def servecast_scheduler(target):
            return VllmV1Policy(target) if target.framework == "vllm" else None
    """


@hookspec
def servecast_check_candidate(candidate: Candidate, target: Target) -> Sequence[str]:
    """Veto candidates a framework or GPU cannot run, saying why.

    Collecting: every plugin is called; a candidate is invalid if any plugin returns a reason. Called while
    the search space is enumerated, never while it is evaluated.

    Parameters:
        candidate: model, serving mode, parallel layout, quantization and budgets.
        target: the hardware and framework version the candidate would run on.

    Returns:
        Human-readable reasons the candidate cannot run (empty when it can).

    Example::

        @hookimpl
        def servecast_check_candidate(candidate, target):
            if target.framework == "sglang" and candidate.layout.pp > 1:
                return ["SGLang 0.3 has no pipeline parallelism"]
            return []
    """


@hookspec(firstresult=True)
def servecast_launch_config(deployment: Deployment, target: Target) -> LaunchArtifacts | None:
    """Write the launch artifacts (argv, environment, config files) for a chosen deployment.

    Firstresult: stops at the first non-None result; a framework plugin answers for its own framework.

    Parameters:
        deployment: the recommended worker groups with their layouts and knob values.
        target: hardware, framework and framework version.

    Returns:
        LaunchArtifacts, or None when the plugin does not handle the target's framework. A deployment the framework
        version cannot launch (a quantization it cannot apply) raises servecast.plugin.InputError saying what to
        change; any other exception marks the plugin as broken.

    Example::

        @hookimpl
        def servecast_launch_config(deployment, target):
            if target.framework != "vllm":
                return None
            return LaunchArtifacts(roles=(RoleLaunch(role="agg", framework="vllm", version=...,
                                                     gpus=..., argv=("vllm", "serve", literal(deployment.model))),))

        `{NAME}` in an argv item expands to a declared variable (a node's address); `literal` keeps text that is
        not servecast's own (the model the user named) from expanding.
    """

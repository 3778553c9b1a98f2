"""Run one search: resolve the installed frameworks and the model, evaluate the space, select and explain."""

from __future__ import annotations

import time
from dataclasses import replace

from servecast.errors import InputError
from servecast.host.host import PluginHost
from servecast.models.model import load_model
from servecast.search.baseline import default_deployments
from servecast.search.confidence import errors_by_framework, interval_columns
from servecast.search.evaluate import Progress, evaluate_space
from servecast.search.explain import explain_winner
from servecast.search.result import SearchResult, select
from servecast.search.tail import confirm_tails
from servecast.search.task import Objective, SearchTask
from servecast.serving.server import check_context


def installed_frameworks(host: PluginHost, wanted: tuple[str, ...] | None) -> list[str]:
    """The frameworks to search: `wanted` (each must be installed), or every installed framework plugin."""
    installed = host.frameworks.names()
    if wanted is None:
        if not installed:
            raise InputError("no framework plugin is installed", "install one, e.g. `uv pip install servecast-vllm`")
        return installed
    missing = [name for name in wanted if name not in installed]
    if missing:
        raise InputError(
            f"framework(s) {', '.join(repr(name) for name in missing)} not installed "
            f"(installed: {', '.join(installed) or 'none'})",
            "install the framework's servecast plugin or pick from the installed ones",
        )
    return list(dict.fromkeys(wanted))


def priced(task: SearchTask, host: PluginHost) -> SearchTask:
    """The task with a price per GPU-hour for each of its systems that has one: the one given, else the system's
    default; an InputError when the cost objective lacks one."""
    prices = dict(task.gpu_prices)
    for system in task.systems:
        pricing = host.hardware.get(system).pricing
        if system not in prices and pricing is not None:
            prices[system] = pricing.gpu_hour_usd
    missing = [system for system in task.systems if system not in prices]
    if missing and task.objective is Objective.COST:
        raise InputError(
            f"--objective cost needs a price, and {', '.join(missing)} has no default price per GPU-hour",
            "give one: " + " ".join(f"--gpu-price {system}=<US dollars per GPU-hour>" for system in missing),
        )
    return task.model_copy(update={"gpu_prices": prices})


def run_search(
    host: PluginHost, task: SearchTask, progress: Progress | None = None, explain: bool = True
) -> SearchResult:
    """Evaluate the task's whole space and return what it found (the winner explained when `explain`)."""
    started = time.perf_counter()
    hardware = host.hardware.get(task.system)
    task = priced(task, host)  # an InputError naming an unknown pool system before anything runs
    frameworks = installed_frameworks(host, task.frameworks)
    model = load_model(task.model, host.architectures, task.quant, task.kv_cache_dtype, task.moe_quant)
    check_context(model, task.workload)
    evaluation = evaluate_space(host, task, model, frameworks, progress)
    if evaluation.columns:
        errors = errors_by_framework(host, task.system, evaluation.versions)
        evaluation.columns.update(interval_columns(evaluation.columns, errors))
        if task.sla.percentile_targets and evaluation.percentiles is not None:  # every point's, for the SLA
            evaluation.columns.update(evaluation.percentiles.columns())
    result = select(task, evaluation.columns, evaluation.rejections, evaluation.versions, 0.0)
    result = replace(result, model_percentiles=evaluation.percentiles)
    result = replace(result, baselines=default_deployments(result, hardware.node.gpus_per_node))
    result = confirm_tails(host, result)
    explanation = explain_winner(host, result, hardware) if explain else {}
    calibration = host.user_calibration.label if host.user_calibration is not None else None
    elapsed = time.perf_counter() - started
    return replace(result, explanation=explanation, elapsed_s=elapsed, calibration=calibration)

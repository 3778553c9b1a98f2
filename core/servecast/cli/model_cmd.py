"""`servecast model`: the bundled catalog, and one model's parameters, memory and op graph under a layout."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import click

from servecast.cli.context import echo_json, json_option, plugin_host
from servecast.cli.render import print_lines, print_table
from servecast.domain import KvCacheDtype, ParallelLayout, Quantization
from servecast.domain.framework import MEMORY_FRACTION_MEANINGS, KnobMeaning, KnobValue
from servecast.domain.target import Target
from servecast.domain.workload import Workload
from servecast.errors import InputError
from servecast.estimate.step import StepEstimate, estimate_graph
from servecast.models.catalog import catalog
from servecast.models.graph import build_stage_graph
from servecast.models.layout_check import check_layout
from servecast.models.memory import GIB, kv_capacity, max_sequences, stage_memory, visible_memory_bytes
from servecast.models.model import Model, load_model
from servecast.models.ops import OpGraph
from servecast.models.step import StepShape
from servecast.models.weights import parameter_counts
from servecast.ops.estimator import EstimateProvenance, OpEstimator, OpKind
from servecast.serving.policy import PolicyContext
from servecast.serving.server import check_context


@click.group()
def model() -> None:
    """Models: the offline catalog, parameters, memory and op graphs."""


@model.command("list")
@json_option
def list_models(as_json: bool) -> None:
    """The bundled offline catalog: ids, aliases and where each config comes from."""
    entries = sorted({entry.model_id: entry for entry in catalog().values()}.values(), key=lambda e: e.model_id)
    if as_json:
        echo_json(
            [
                {"id": e.model_id, "aliases": list(e.aliases), "source": e.source, "reconstructed": e.reconstructed}
                for e in entries
            ]
        )
        return
    print_table(
        None,
        ["model", "architecture", "aliases", "config"],
        [
            (
                e.model_id,
                (e.config.get("architectures") or ["?"])[0],
                ", ".join(e.aliases),
                "reconstructed (see --json source)" if e.reconstructed else "transcribed config.json",
            )
            for e in entries
        ],
    )


def _step_json(graph: OpGraph, step: StepEstimate | None) -> dict[str, Any]:
    ops = [op.summary() for op in graph.ops]
    if step is None:
        return {"ops": ops}
    for summary, timing in zip(ops, step.timings, strict=True):
        summary["latency_ms"] = float(timing.latency_ms[0])
        summary["provenance"] = EstimateProvenance(timing.provenance[0]).label
    shares = {level.label: float(share[0]) for level, share in step.provenance_shares().items() if share[0]}
    return {"ops": ops, "step_ms": float(step.total_ms[0]), "provenance_shares": shares}


def _print_ops(title: str, graph: OpGraph, step: StepEstimate | None) -> None:
    rows = []
    for index, op in enumerate(graph.ops):
        shape = " ".join(f"{key}={values[0]:g}" for key, values in op.shape.items())
        marker = " (replicated)" if op.replicated else ""
        row: tuple[object, ...] = (
            op.name + marker,
            op.kind.value,
            op.count,
            op.dtype,
            shape,
            f"{op.flops[0] / 1e9:,.3f}",
            f"{op.bytes[0] / 1e6:,.3f}",
        )
        if step is not None:
            timing = step.timings[index]
            row += (f"{timing.latency_ms[0] * 1e3:,.1f}", EstimateProvenance(timing.provenance[0]).label)
        rows.append(row)
    columns = ["op", "kind", "count", "dtype", "shape", "GFLOP each", "MB each"]
    if step is not None:
        columns += ["µs each", "provenance"]
        shares = ", ".join(
            f"{share[0]:.0%} {level.label}" for level, share in step.provenance_shares().items() if share[0]
        )
        title += f": {step.total_ms[0]:,.3f} ms per step ({shares})"
    print_table(title, columns, rows)


@model.command("show")
@click.argument("model_ref", metavar="MODEL")
@click.option("--tp", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--dp",
    "attention_dp",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Attention data-parallel groups (MoE models).",
)
@click.option("--ep", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--moe-tp", type=click.IntRange(min=1), default=None, help="Default: derived from tp x dp / ep.")
@click.option(
    "--redundant-experts",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Extra expert copies load balancing (EPLB) spreads over the ep ranks.",
)
@click.option(
    "--quant",
    type=click.Choice([q.value for q in Quantization]),
    default=None,
    help="Override the checkpoint's quantization.",
)
@click.option("--kv-cache-dtype", type=click.Choice([d.value for d in KvCacheDtype]), default=None)
@click.option("--system", default=None, help="Hardware name, for KV capacity and step-time estimates.")
@click.option("--framework", default=None, help="Framework name, for its memory-fraction rule.")
@click.option("--framework-version", default=None, help="Default: the latest modelled version.")
@click.option(
    "--memory-fraction",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=None,
    help="Override the framework's memory fraction (its own semantics).",
)
@click.option("--isl", type=click.IntRange(min=1), default=1024, show_default=True, help="Input tokens per request.")
@click.option("--osl", type=click.IntRange(min=1), default=1024, show_default=True, help="Output tokens per request.")
@click.option(
    "--batch", type=click.IntRange(1, 1_000_000), default=1, show_default=True, help="Decode batch for the op list."
)
@json_option
def show_model(
    model_ref: str,
    tp: int,
    pp: int,
    attention_dp: int,
    ep: int,
    moe_tp: int | None,
    redundant_experts: int,
    quant: str | None,
    kv_cache_dtype: str | None,
    system: str | None,
    framework: str | None,
    framework_version: str | None,
    memory_fraction: float | None,
    isl: int,
    osl: int,
    batch: int,
    as_json: bool,
) -> None:
    """Parameters, weights and KV cache per GPU, KV capacity, and the per-layer ops of prefill and decode."""
    host = plugin_host()
    loaded = load_model(
        model_ref,
        host.architectures,
        Quantization(quant) if quant else None,
        KvCacheDtype(kv_cache_dtype) if kv_cache_dtype else None,
    )
    layout = ParallelLayout.parse_input(
        {
            "tp": tp,
            "pp": pp,
            "attention_dp": attention_dp,
            "ep": ep,
            "moe_tp": moe_tp,
            "redundant_experts": redundant_experts,
        },
        "layout",
        "see `servecast model show --help`",
    )
    check_layout(loaded.model_id, loaded.architecture, layout)
    check_context(loaded, Workload(input_tokens=isl, output_tokens=osl))
    if (system is None) != (framework is None):
        raise InputError("--system and --framework go together", "pass both to compute the KV capacity")
    estimator_for = None
    if system and framework:
        host.hardware.get(system)
        version, note = host.nearest_framework_version(framework, framework_version)
        if note:
            click.echo(f"note: {note}", err=True)
        target = Target(hardware=system, framework=framework, framework_version=version.version)
        estimator_for = partial(host.op_estimator, target=target)
    report = _report(loaded, layout, isl, osl, batch, estimator_for)
    if system and framework:
        hardware = host.hardware.get(system)
        context = PolicyContext(
            hardware, layout, Workload(input_tokens=isl, output_tokens=osl), loaded.architecture.max_position_embeddings
        )
        overrides: dict[KnobMeaning, KnobValue] = {}
        if memory_fraction is not None:
            overrides = {k.meaning: memory_fraction for k in version.knobs if k.meaning in MEMORY_FRACTION_MEANINGS}
        policy = host.scheduler(target).settings(context, overrides).memory
        visible = visible_memory_bytes(hardware.gpu.memory_bytes)
        capacity = kv_capacity(loaded, layout, visible, policy, hardware.node.nvswitch)
        report.update(
            kv_capacity_tokens=capacity.kv_capacity_tokens,
            max_sequences=max_sequences(layout, capacity, isl + osl, policy.block_size),
            memory={
                "system": system,
                "framework": f"{framework} {version.version}",
                "fraction": {"meaning": policy.meaning.value, "value": policy.fraction},
                "total_bytes": capacity.total_bytes,
                "weight_bytes": capacity.weight_bytes,
                "activation_bytes": capacity.activation_bytes,
                "overhead_bytes": capacity.overhead_bytes,
                "kv_cache_bytes": capacity.kv_cache_bytes,
                "max_num_tokens": policy.max_num_tokens,
                "max_batch_size": policy.max_batch_size,
            },
        )
    if as_json:
        echo_json(report)
        return
    _print_report(loaded, layout, report, isl, osl, batch, estimator_for)


def _report(
    loaded: Model,
    layout: ParallelLayout,
    isl: int,
    osl: int,
    batch: int,
    estimator_for: Callable[[OpKind], OpEstimator] | None,
) -> dict[str, Any]:
    arch = loaded.architecture
    counts = parameter_counts(arch)
    stages = stage_memory(loaded, layout)
    heaviest = max(stages, key=lambda stage: stage.weight_bytes)
    prefill = build_stage_graph(loaded, layout, StepShape.prefill(isl))
    decode = build_stage_graph(loaded, layout, StepShape.decode(batch, isl + osl // 2))
    return {
        "model": loaded.model_id,
        "origin": loaded.origin,
        "architecture": arch.hf_architecture,
        "family": arch.family,
        "layout": layout.model_dump(),
        "gpus": layout.gpus,
        "quantization": loaded.quantization.name.value,
        "kv_cache_dtype": loaded.kv_cache_dtype.value,
        "params_total": counts.total,
        "params_active": counts.active,
        "params_active_with_embedding": counts.active_with_embedding,
        "mtp_layers": arch.mtp_layers,
        "weight_bytes_per_gpu": heaviest.weight_bytes,
        "kv_bytes_per_token_per_gpu": heaviest.kv_bytes_per_token + heaviest.window_kv_bytes_per_token,
        "kv_window_tokens": heaviest.window,
        "kv_capacity_tokens": None,
        "max_sequences": None,
        "ops": {
            "stage": prefill.stage,
            "prefill": {"tokens": isl, **_step_json(prefill, _estimate(prefill, estimator_for))},
            "decode": {
                "batch": batch,
                "kv_len": isl + osl // 2,
                **_step_json(decode, _estimate(decode, estimator_for)),
            },
        },
    }


def _estimate(graph: OpGraph, estimator_for: Callable[[OpKind], OpEstimator] | None) -> StepEstimate | None:
    return None if estimator_for is None else estimate_graph(graph, estimator_for)


def _print_report(
    loaded: Model,
    layout: ParallelLayout,
    report: dict[str, Any],
    isl: int,
    osl: int,
    batch: int,
    estimator_for: Callable[[OpKind], OpEstimator] | None,
) -> None:
    lines = [
        f"[bold]{loaded.model_id}[/] ({report['architecture']}, family {report['family']}) from {loaded.origin}",
        f"parameters: {report['params_total'] / 1e9:.2f} B total, {report['params_active'] / 1e9:.2f} B active per "
        f"token ({report['params_active_with_embedding'] / 1e9:.2f} B with the embedding table)"
        + (f"; MTP module of {report['mtp_layers']} layer(s) not counted" if report["mtp_layers"] else ""),
        f"layout {layout} on {layout.gpus} GPU(s), weights {report['quantization']}, "
        f"KV cache {report['kv_cache_dtype']}",
        f"weights per GPU: {report['weight_bytes_per_gpu'] / GIB:.2f} GiB; "
        f"KV cache per token per GPU: {report['kv_bytes_per_token_per_gpu']:,} B"
        + (
            f" (sliding-window layers cap at {report['kv_window_tokens']} tokens)" if report["kv_window_tokens"] else ""
        ),
    ]
    memory = report.get("memory")
    if memory:
        lines.append(
            f"{memory['framework']} on {memory['system']}: "
            f"{memory['fraction']['meaning']}={memory['fraction']['value']} → "
            f"KV cache {memory['kv_cache_bytes'] / GIB:.2f} GiB per GPU = {report['kv_capacity_tokens']:,} tokens; "
            f"{report['max_sequences']:,} sequences of {isl}+{osl} tokens fit"
        )
    print_lines(lines)
    prefill = build_stage_graph(loaded, layout, StepShape.prefill(isl))
    _print_ops(f"prefill of {isl} tokens (stage {report['ops']['stage']})", prefill, _estimate(prefill, estimator_for))
    decode = build_stage_graph(loaded, layout, StepShape.decode(batch, isl + osl // 2))
    _print_ops(f"decode of {batch} sequence(s) at KV length {isl + osl // 2}", decode, _estimate(decode, estimator_for))

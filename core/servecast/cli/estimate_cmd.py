"""`servecast estimate`: TTFT, TPOT and throughput of one configuration, or of every row of a CSV."""

from __future__ import annotations

import sys
import types
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import click

from servecast.cli.context import calibration_option, echo_json, json_option, plugin_host
from servecast.cli.csv_io import read_csv_rows, write_csv
from servecast.cli.params import flag_name
from servecast.cli.render import print_lines, print_table
from servecast.errors import InputError, ServecastError
from servecast.models.memory import GIB
from servecast.serving.estimate import Estimate, ServerCache, estimate
from servecast.serving.intervals import INTERVAL_METRICS
from servecast.serving.request import EstimateRequest
from servecast.serving.tails import PERCENTILE_COLUMNS, PERCENTILE_LEVELS
from servecast.serving.trace import TRACE_SETS, read_trace, with_trace_fields

METRIC_COLUMNS = (
    "ttft_ms",
    "tpot_ms",
    "e2e_ms",
    "throughput_tokens_per_s",
    "tokens_per_s_per_gpu",
    "tokens_per_s_per_user",
    "requests_per_s",
    "num_gpus",
    "running_sequences",
    "limiter",
    *PERCENTILE_COLUMNS,
    *(f"{metric}_{end}" for metric in INTERVAL_METRICS for end in ("low", "high")),
    "framework_version",
    "calibration",
    "warnings",
)
"""Columns the batch form adds after `id`, then `error`."""

_REQUIRED = ("model", "system", "framework", "isl", "osl")


def _click_type(annotation: Any) -> Any:
    """The click parameter type of an EstimateRequest field."""
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return click.Choice([member.value for member in annotation])
    return {int: int, float: float, bool: click.BOOL}.get(annotation, str)


def request_options(function: Any, *, marked_required: bool = True) -> Any:
    """One option per EstimateRequest field, named like the field (`--prefill-tp` for prefill_tp); with
    `marked_required`, the help marks the fields a configuration cannot do without."""
    for name, field in reversed(EstimateRequest.model_fields.items()):
        if name == "id":
            continue
        flag = flag_name(name)
        help_text = field.description or ""
        if field.is_required():
            help_text += " [required]" if marked_required else ""
        elif isinstance(field.default, Enum):
            help_text += f" [default: {field.default.value}]"
        elif field.default is not None:
            help_text += f" [default: {field.default}]"
        function = click.option(flag, name, type=_click_type(field.annotation), default=None, help=help_text)(function)
    return function


def request_from_flags(given: dict[str, Any], command: str) -> EstimateRequest:
    """The configuration the given flags describe; an InputError naming the required flags that are missing."""
    missing = [f"--{name}" for name in _REQUIRED if name not in given]
    if missing:
        raise InputError(f"missing {', '.join(missing)}", f"see `servecast {command} --help` for an example")
    return EstimateRequest.parse(given)


@click.command("estimate")
@request_options
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="Batch form: a CSV with one configuration per row, columns named like the flags in snake_case.",
)
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), help="Batch results CSV.")
@click.option("--breakdown", is_flag=True, help="Add per-op time shares with their provenance.")
@click.option("--percentiles", is_flag=True, help="Run the discrete-event simulation for P50/P90/P99.")
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A request trace (Mooncake JSONL, Azure LLM inference or BurstGPT CSV, or plain CSV) as the load: its mean "
    "rate and lengths for the means, replayed with --percentiles.",
)
@calibration_option
@json_option
def estimate_command(
    input_path: Path | None,
    output_path: Path | None,
    breakdown: bool,
    percentiles: bool,
    trace_path: Path | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Estimate TTFT, TPOT, end-to-end latency and throughput of one configuration under one load.

    \b
    Example:
      servecast estimate --model meta-llama/Llama-3.1-70B --system h100_sxm --framework vllm \\
        --mode agg --isl 1000 --osl 200 --concurrency 32 --tp 4
    Batch form (exit status 2 when a row fails; the others are still estimated):
      servecast estimate --input configs.csv --output results.csv
    """
    given = {name: value for name, value in flags.items() if value is not None}
    if input_path is not None:
        if given:
            raise InputError(
                f"--input takes the configurations from the CSV; also given: {', '.join(sorted(given))}",
                "put those values in the CSV's columns",
            )
        if output_path is None and not as_json:
            raise InputError("the batch form needs --output FILE or --json", "--output writes CSV, --json prints JSON")
        _estimate_batch(input_path, output_path, as_json, breakdown, percentiles)
        return
    if output_path is not None:
        raise InputError("--output belongs to the batch form", "add --input configs.csv, or drop --output")
    trace = None
    if trace_path is not None:
        trace = read_trace(trace_path)
        given = with_trace_fields(given, trace, TRACE_SETS, flag_name)
    result = estimate(plugin_host(), request_from_flags(given, "estimate"), breakdown, percentiles, trace=trace)
    if as_json:
        echo_json(result.as_dict())
    else:
        _print_estimate(result)


def _estimate_batch(
    input_path: Path, output_path: Path | None, as_json: bool, breakdown: bool, percentiles: bool
) -> None:
    header, rows = read_csv_rows(input_path, "model", "id, model, system, framework, mode, isl, osl, ... (flags)")
    known = set(EstimateRequest.model_fields)
    unknown = [column for column in header if column not in known]
    if unknown:
        raise InputError(
            f"{input_path}: unknown column(s) {', '.join(map(repr, unknown))}",
            f"columns are the estimate flags in snake_case: {', '.join(EstimateRequest.model_fields)}",
        )
    ids = [row["id"] for row in rows if row.get("id")]
    repeated = sorted({value for value in ids if ids.count(value) > 1})
    if repeated:
        raise InputError(
            f"{input_path}: id(s) {', '.join(map(repr, repeated))} name more than one row",
            "give every row its own id (or leave the id column out to number the rows)",
        )
    host = plugin_host()
    cache = ServerCache()
    records: list[dict[str, Any]] = []
    failures = 0
    for index, row in enumerate(rows, start=1):
        values = {key: value for key, value in row.items() if value != ""}
        record: dict[str, Any] = {"id": values.get("id", str(index))}
        try:
            request = EstimateRequest.parse({**values, "id": record["id"]})
            result = estimate(host, request, breakdown, percentiles, cache)
            record.update(result.as_dict())
            record.update(
                {
                    f"{metric}_{end}": value
                    for metric, interval in result.intervals.items()
                    for end, value in zip(("low", "high"), interval.as_list(), strict=True)
                }
            )
            record["error"] = ""
        except ServecastError as error:
            failures += 1
            record["error"] = error.message + (f" ({error.hint})" if error.hint else "")
            click.echo(f"error: row {index} (id {record['id']}): {record['error']}", err=True)
        records.append(record)
    if as_json:
        echo_json(records)
    else:
        assert output_path is not None
        flat = [{**r, "warnings": " | ".join(r.get("warnings", [])), "intervals": None} for r in records]
        write_csv(output_path, ["id", *METRIC_COLUMNS, "error"], flat)
    where = f" -> {output_path}" if output_path else ""
    click.echo(f"{len(rows) - failures} of {len(rows)} configurations estimated{where}", err=True)
    if failures:
        sys.exit(2)


def _print_estimate(result: Estimate) -> None:
    request, metrics = result.request, result.metrics
    load = (
        f"concurrency {request.concurrency}"
        if request.concurrency
        else f"{request.request_rate:g} requests/s"
        if request.request_rate
        else f"batch {request.batch_size}"
    )
    lines = [
        f"[bold]{request.model}[/] on {request.system}, {request.framework} {result.framework_version}, "
        f"{request.mode.value} mode, ISL {request.isl} / OSL {request.osl}"
        + (f" (prefix {request.prefix})" if request.prefix else "")
        + f", {load}, {metrics.num_gpus} GPU(s)",
    ]
    if result.clients:
        lines.append(f"clients: {result.clients}")
    if result.trace:
        trace = result.trace
        lines.append(
            f"trace: {trace['source']} ({trace['format']}), {trace['requests']:,} requests over "
            f"{trace['duration_s']:,.1f} s ({trace['requests_per_s']:.3g}/s); ISL mean "
            f"{trace['input_tokens']['mean']:,.0f} / P99 {trace['input_tokens']['p99']:,.0f}, OSL mean "
            f"{trace['output_tokens']['mean']:,.0f} / P99 {trace['output_tokens']['p99']:,.0f}"
        )
    for role, server in result.servers.items():
        memory = server.memory_breakdown()
        lines.append(
            f"{role}: {server.layout}, weights {server.capacity.weight_bytes / GIB:.1f} GiB/GPU, KV cache "
            f"{server.capacity.kv_cache_bytes / GIB:.1f} GiB/GPU = {memory['kv_cache_tokens']:,} tokens, "
            f"at most {server.running_limit} sequences running"
        )
    print_lines(lines)
    values = metrics.as_dict()
    print_table(
        None,
        ["", "TTFT ms", "TPOT ms", "E2E ms", "output tok/s", "tok/s/GPU", "tok/s/user", "req/s", "limited by"],
        [
            (
                "predicted",
                _fmt(values["ttft_ms"]),
                _fmt(values["tpot_ms"]),
                _fmt(values["e2e_ms"]),
                _fmt(values["throughput_tokens_per_s"]),
                _fmt(values["tokens_per_s_per_gpu"]),
                _fmt(values["tokens_per_s_per_user"]),
                _fmt(values["requests_per_s"], 3),
                metrics.limiter.value,
            ),
            _interval_row(result),
            *(
                (
                    f"P{level} (model)",
                    *(_fmt(values.get(f"{name}_p{level}_ms")) for name in ("ttft", "tpot", "e2e")),
                    *("",) * 5,
                )
                for level in PERCENTILE_LEVELS
                if metrics.percentiles
            ),
        ],
    )
    click.echo(f"80 % interval: {result.interval_basis}")
    if result.calibration:
        click.echo(f"calibrated by user data: {result.calibration}")
    if result.percentiles:
        p = result.percentiles
        print_table(
            f"simulated {p['simulated_requests']} requests",
            ["metric", "mean", "P50", "P90", "P99"],
            [
                (name, *(_fmt(p[name][key]) for key in ("mean", "p50", "p90", "p99")))
                for name in ("ttft_ms", "tpot_ms", "e2e_ms")
            ],
        )
    if result.breakdown:
        for step, detail in result.breakdown.items():
            top = sorted(detail["ops"], key=lambda op: -op["share"])[:12]
            print_table(
                f"{step}: {detail['gpu_ms']:.3f} ms GPU per iteration (top ops)",
                ["op", "kind", "ms", "share", "provenance"],
                [(op["op"], op["kind"], f"{op['ms']:.4f}", f"{op['share']:.1%}", op["provenance"]) for op in top],
            )
    for warning in result.warnings:
        click.echo(f"note: {warning}", err=True)


def _interval_row(result: Estimate) -> tuple[str, ...]:
    """The p10-p90 range of each metric with an interval (per-GPU throughput scales with the deployment's)."""
    intervals = result.intervals

    def span(metric: str, scale: float = 1.0) -> str:
        interval = intervals.get(metric)
        return "" if interval is None else f"{_fmt(interval.low * scale)}-{_fmt(interval.high * scale)}"

    gpus = result.metrics.num_gpus
    return (
        "80 % interval",
        span("ttft_ms"),
        span("tpot_ms"),
        span("e2e_ms"),
        span("throughput_tokens_per_s"),
        span("throughput_tokens_per_s", 1 / gpus),
        "",
        "",
        "",
    )


def _fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "unbounded"
    assert isinstance(value, int | float)
    return f"{value:,.{digits}f}"

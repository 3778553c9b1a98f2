"""`servecast search`: the best deployment of a model on a number of GPUs, under latency targets."""

from __future__ import annotations

import math
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from servecast.cli.context import calibration_option, echo_json, json_option, plugin_host
from servecast.cli.frontier_plot import text_plot
from servecast.cli.params import COUNT, NON_NEGATIVE_COUNT, POSITIVE_NUMBER, flag_name
from servecast.cli.progress import SearchProgressBar
from servecast.cli.render import print_table
from servecast.domain.hardware import HardwareSpec
from servecast.domain.user_calibration import UserCalibration
from servecast.domain.vocabulary import KvCacheDtype, Quantization
from servecast.domain.workload import REQUESTS_PER_USER, UserPhase, UserStart
from servecast.errors import InputError, NoFeasibleConfiguration
from servecast.estimate.roofline import uncalibrated_warning
from servecast.launch.targets import LaunchTarget
from servecast.search.baseline import gain
from servecast.search.describe import describe
from servecast.search.explain import infeasibility
from servecast.search.prices import check_systems, parse_gpu_prices
from servecast.search.result import SearchResult
from servecast.search.runner import run_search
from servecast.search.save import frontier_series, save_search, summary
from servecast.search.task import DEFAULT_MODES, MOST_GPUS, Objective, SearchTask
from servecast.serving.tails import PERCENTILE_COLUMNS
from servecast.serving.trace import Trace, read_trace, with_trace_fields


def _names(value: str | None) -> tuple[str, ...] | None:
    if value is None or value.strip().lower() == "all":
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _modes(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _quantization(kind: type[Quantization] | type[KvCacheDtype]) -> click.Choice[str]:
    return click.Choice([member.value for member in kind])


def _enum_option(flag: str, default: StrEnum, help_text: str) -> Any:
    """An option choosing one member of `default`'s enum."""
    members = [member.value for member in type(default)]
    return click.option(flag, type=click.Choice(members), default=default.value, show_default=True, help=help_text)


_TASK_OPTIONS = [
    click.option("--model", required=True, help="Model id or alias (`servecast model list`)."),
    click.option("--system", required=True, help="Hardware id (`servecast hardware list`)."),
    click.option("--prefill-system", help="Disaggregated prefill pools on this system (default: --system)."),
    click.option("--decode-system", help="Disaggregated decode pools on this system (default: --system)."),
    click.option(
        "--frameworks", default="all", show_default=True, help="Comma-separated framework ids, or all installed."
    ),
    click.option(
        "--modes", default=",".join(m.value for m in DEFAULT_MODES), show_default=True, help="Any of agg,disagg,static."
    ),
    click.option("--isl", type=COUNT, help="Input tokens per request (required unless --trace)."),
    click.option("--osl", type=COUNT, help="Output tokens per request (required unless --trace)."),
    click.option(
        "--trace",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A request trace (as `estimate --trace`) whose mean lengths are the workload (and, for recommend, whose "
        "rate is the target).",
    ),
    click.option(
        "--prefix",
        type=NON_NEGATIVE_COUNT,
        default=0,
        show_default=True,
        help="Leading input tokens shared by requests.",
    ),
    click.option(
        "--prefix-hit-rate",
        type=click.FloatRange(0, 1),
        default=1.0,
        show_default=True,
        help="Share of requests whose prefix is still cached when they arrive.",
    ),
    _enum_option(
        "--user-start",
        UserStart.BURST,
        "burst: users start at once and every request counts (vllm bench serve); warm: steady state only.",
    ),
    _enum_option("--user-phase", UserPhase.SPREAD, "Users after their first requests: spread out, or in step (waves)."),
    click.option(
        "--requests-per-user",
        type=POSITIVE_NUMBER,
        default=REQUESTS_PER_USER,
        show_default=True,
        help="Requests each user sends in the measured run (InferenceMAX: 10).",
    ),
    click.option("--ttft", type=POSITIVE_NUMBER, help="TTFT target in ms (default: none)."),
    click.option("--tpot", type=POSITIVE_NUMBER, help="TPOT target in ms (default: none)."),
    click.option("--request-latency", type=POSITIVE_NUMBER, help="End-to-end latency target in ms (default: none)."),
    *(
        click.option(
            flag,
            type=POSITIVE_NUMBER,
            help=f"{text} target in ms: the model screens every point, the simulation confirms (default: none).",
        )
        for flag, text in (
            ("--ttft-p90", "P90 TTFT"),
            ("--ttft-p99", "P99 TTFT"),
            ("--tpot-p90", "P90 TPOT"),
            ("--tpot-p99", "P99 TPOT"),
            ("--e2e-p99", "P99 request latency"),
        )
    ),
    click.option("--quant", type=_quantization(Quantization), help="Override the checkpoint's quantization."),
    click.option("--moe-quant", type=_quantization(Quantization), help="Quantization of the routed experts only."),
    click.option("--kv-cache-dtype", type=_quantization(KvCacheDtype), help="Default: the checkpoint's."),
    _enum_option(
        "--objective",
        Objective.THROUGHPUT,
        "What the best configuration has most of within the SLA: tokens/s per GPU, the fewest dollars per million "
        "output tokens, or tokens/s per user.",
    ),
    click.option(
        "--gpu-price",
        "gpu_prices",
        multiple=True,
        metavar="SYSTEM=USD",
        help="US dollars per GPU-hour of a system (repeatable); default: the system's public on-demand price, if any.",
    ),
    click.option(
        "--gpu-prices",
        "gpu_price_file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="A TOML file of `system = US dollars per GPU-hour` lines (--gpu-price wins).",
    ),
    click.option(
        "--confidence",
        is_flag=True,
        help="Meet the SLA and rank at the pessimistic end of each prediction's 80 % interval (latencies at p90, "
        "throughput at p10) rather than at the prediction.",
    ),
]


def task_options(function: Any) -> Any:
    """The options describing a search task (model, system, workload, SLA, frameworks, modes, quantization)."""
    for option in reversed(_TASK_OPTIONS):
        function = option(function)
    return calibration_option(function)


def trace_of(values: dict[str, Any]) -> Trace | None:
    """The trace `--trace` names, read (None without one)."""
    path = values["trace"]
    return read_trace(path) if path is not None else None


def task_from_options(
    values: dict[str, Any], gpus: int, top: int, systems: Collection[str], trace: Trace | None = None
) -> SearchTask:
    """The search task the options describe (prices checked against the installed `systems`; the lengths `trace`'s
    means where one is given)."""
    if trace is not None:
        values = with_trace_fields(values, trace, ("isl", "osl"), flag_name)
    missing = [f"--{name}" for name in ("isl", "osl") if values[name] is None]
    if missing:
        raise InputError(f"missing {', '.join(missing)}", "give the request lengths, or --trace FILE")
    prices = parse_gpu_prices(values["gpu_prices"], values["gpu_price_file"])
    check_systems(prices, systems)
    return SearchTask.parse(
        {
            "model": values["model"],
            "system": values["system"],
            "gpus": gpus,
            "frameworks": _names(values["frameworks"]),
            "modes": _modes(values["modes"]),
            "isl": values["isl"],
            "osl": values["osl"],
            "prefix": values["prefix"],
            "prefix_hit_rate": values["prefix_hit_rate"],
            "user_start": values["user_start"],
            "user_phase": values["user_phase"],
            "requests_per_user": values["requests_per_user"],
            "sla": {
                "ttft_ms": values["ttft"],
                "tpot_ms": values["tpot"],
                "request_latency_ms": values["request_latency"],
                **{f"{name}_ms": values[name] for name in ("ttft_p90", "ttft_p99", "tpot_p90", "tpot_p99", "e2e_p99")},
            },
            "quant": values["quant"],
            "moe_quant": values["moe_quant"],
            "kv_cache_dtype": values["kv_cache_dtype"],
            "top": top,
            "confidence": values["confidence"],
            "objective": values["objective"],
            "gpu_prices": prices,
            "prefill_system": values["prefill_system"],
            "decode_system": values["decode_system"],
        }
    )


@click.command("search")
@task_options
@click.option("--gpus", type=click.IntRange(1, MOST_GPUS), required=True, help="GPUs the deployment may use.")
@click.option("--top", type=COUNT, default=5, show_default=True, help="Best configurations listed.")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path), help="Write CSVs, plot and configs.")
@click.option("--force", is_flag=True, help="Replace results already in --save-dir.")
@click.option(
    "--target",
    type=click.Choice([target.value for target in LaunchTarget]),
    default=LaunchTarget.SHELL.value,
    show_default=True,
    help="What the launch files under --save-dir start each configuration with (see `generate --target`).",
)
@json_option
def search_command(
    gpus: int, top: int, save_dir: Path | None, force: bool, target: str, as_json: bool, **values: Any
) -> None:
    """Search layouts, batch sizes and serving modes of every installed framework for the most tokens/s per GPU
    under the latency targets. Exits 4 when no configuration meets them."""
    host = plugin_host()
    trace = trace_of(values)
    task = task_from_options(values, gpus, top, host.hardware.names(), trace)
    console = Console(stderr=True)
    hardware = host.hardware.get(task.system)
    print_inputs(console, task, host.frameworks.names(), hardware, calibration=host.user_calibration, trace=trace)
    with SearchProgressBar(console) as progress:
        result = run_search(host, task, progress)
    if save_dir is not None:
        written = save_search(result, save_dir, force, host, LaunchTarget(target))
        click.echo(f"wrote {len(written)} entries under {save_dir}", err=True)
    if as_json:
        document = summary(result)
        if not result.best:
            document["infeasible"] = infeasibility(result)
        echo_json(document)
    else:
        _print_report(result)
    if not result.best:
        report = infeasibility(result)
        raise NoFeasibleConfiguration(
            f"no configuration meets the targets; binding: {report['binding']}",
            "; or ".join(report["advice"]),
        )


def print_inputs(
    console: Console,
    task: SearchTask,
    installed: list[str],
    hardware: HardwareSpec,
    gpus: str | None = None,
    calibration: UserCalibration | None = None,
    trace: Trace | None = None,
) -> None:
    """The resolved task on one line, the trace and user calibration in use, and a warning where the system has no
    calibration; `gpus` replaces `N x system` where the GPU count is still open."""
    sla = task.sla
    targets = [
        f"{label} <= {value:g} ms"
        for label, value in (("TTFT", sla.ttft_ms), ("TPOT", sla.tpot_ms), ("latency", sla.request_latency_ms))
        if value is not None
    ]
    targets += [
        f"{level.upper()} {_LABELS[name]} <= {limit:g} ms (modelled, then simulated)"
        for (name, level), limit in sla.percentile_targets.items()
    ]
    frameworks = ", ".join(task.frameworks or installed) + ("" if task.frameworks else " (all installed)")
    console.print(
        f"search: {task.model} on {gpus or f'{task.gpus} x {task.system}'}; frameworks: {frameworks}; "
        f"modes: {', '.join(m.value for m in task.modes)}; ISL {task.isl} / OSL {task.osl}"
        + (f" (prefix {task.prefix})" if task.prefix else "")
        + f"; SLA: {', '.join(targets) or 'none'}",
        highlight=False,
    )
    if trace is not None:
        console.print(
            f"trace: {trace.source} ({trace.format}), {len(trace):,} requests at {trace.request_rate_per_s:.3g}/s; "
            "its mean lengths are the workload",
            highlight=False,
        )
    console.print(f"clients: {task.workload.describe_users()}", highlight=False)
    cost = _price_text(task, task.system, hardware)
    if task.systems[1:]:
        prefill, decode = task.prefill_system or task.system, task.decode_system or task.system
        console.print(f"disaggregated prefill pools on {prefill}, decode pools on {decode}", highlight=False)
    console.print(f"objective: {task.objective.value}; cost at {cost}", highlight=False)
    if calibration is not None:
        unused = "" if calibration.system == task.system else f" (not to {task.system}: unused here)"
        console.print(f"calibrated by user data: {calibration.label}{unused}", highlight=False)
    if task.confidence:
        console.print("ranked at the pessimistic end of each 80 % prediction interval (--confidence)", highlight=False)
    warning = uncalibrated_warning(hardware)
    if warning:
        console.print(f"warning: {warning}", highlight=False)


_LABELS = {"ttft_ms": "TTFT", "tpot_ms": "TPOT", "e2e_ms": "latency"}


def _price_text(task: SearchTask, system: str, hardware: HardwareSpec) -> str:
    """The price per GPU-hour the search costs `system`'s GPUs at, and where it comes from."""
    price = task.price_of(system)
    if price is not None:
        return f"${price:g} per GPU-hour (given)"
    if hardware.pricing is not None and hardware.name == system:
        return f"${hardware.pricing.gpu_hour_usd:g} per GPU-hour ({system}'s default, {_price_source(hardware)})"
    return "no price (give --gpu-price)"


def _price_source(hardware: HardwareSpec) -> str:
    """Where the system's default price comes from, in a few words."""
    provenance = hardware.provenance.get("pricing.gpu_hour_usd")
    return provenance.source.citation.split(":")[0] if provenance is not None else "its spec"


def _metrics_row(rank: str, row: dict[str, Any]) -> list[str]:
    return [
        rank,
        f"{row['framework']} {row['framework_version']}",
        row["mode"],
        describe(row),
        str(row["num_gpus"]),
        str(row["concurrency"] or row["batch_size"]),
        _with_interval(row, "ttft_ms", ".0f"),
        _with_interval(row, "tpot_ms", ".1f"),
        _with_interval(row, "tokens_per_s_per_gpu", ".0f"),
        _number(row["tokens_per_s_per_user"], ".1f"),
        "-"
        if row.get("usd_per_million_output_tokens") is None
        else _number(row["usd_per_million_output_tokens"], ".2f"),
    ]


def _with_interval(row: dict[str, Any], column: str, spec: str) -> str:
    """A metric and, where it has one, its 80 % interval: `75 [62-92]`."""
    text = _number(row[column], spec)
    low, high = row.get(f"{column}_low"), row.get(f"{column}_high")
    if low is None or high is None:
        return text
    return f"{text} [{_number(low, spec)}-{_number(high, spec)}]"


def _number(value: float, spec: str) -> str:
    """A metric as the table prints it; an unbounded one as "inf"."""
    return format(value, spec) if math.isfinite(value) else "inf"


_HEADERS = [
    *("#", "framework", "mode", "configuration", "GPUs", "load"),
    *("TTFT ms", "TPOT ms", "tok/s/GPU", "tok/s/user", "$/M out tok"),
]


def _modelled(row: dict[str, Any]) -> dict[str, Any]:
    """The model's percentiles of one search row, shaped like the simulation's."""
    return {
        name: {f"p{level}": row[column] for column, (other, level) in PERCENTILE_COLUMNS.items() if other == name}
        for name in ("ttft_ms", "tpot_ms", "e2e_ms")
    }


def _percentile_text(percentiles: dict[str, Any]) -> str:
    """P90/P99 of TTFT, TPOT and request latency, in one line."""
    parts = [
        f"{_LABELS[name]} P90 {_number(percentiles[name]['p90'], '.0f' if name != 'tpot_ms' else '.1f')} / "
        f"P99 {_number(percentiles[name]['p99'], '.0f' if name != 'tpot_ms' else '.1f')} ms"
        for name in ("ttft_ms", "tpot_ms", "e2e_ms")
        if name in percentiles
    ]
    return "; ".join(parts) or str(percentiles.get("unconfirmed", ""))


def _print_gain(result: SearchResult) -> None:
    """The winner against its framework's default deployment at the same SLA."""
    baseline = result.baselines.get(str(result.row(result.best[0])["framework"]))
    if baseline is None:
        return
    ratio = gain(result, baseline)
    if ratio is None or baseline.index is None:
        click.echo(f"  default deployment ({baseline.description}): no point, {baseline.reason}")
        return
    point = result.row(baseline.index)
    click.echo(
        f"  {ratio:.2f}x the default deployment ({baseline.description}): "
        f"{_number(point['tokens_per_s_per_gpu'], '.0f')} tokens/s/GPU at its best load within the SLA"
    )


def _print_report(result: SearchResult) -> None:
    if result.best:
        rows = [_metrics_row(str(rank), result.row(i)) for rank, i in enumerate(result.best, 1)]
        print_table("best per framework and mode (meets the SLA)", _HEADERS, rows)
        for rank, index in enumerate(result.best, 1):
            click.echo(f"  #{rank} model: {_percentile_text(_modelled(result.row(index)))}")
            if index in result.tails:
                click.echo(f"  #{rank} simulated: {_percentile_text(result.tails[index])}")
        top = [_metrics_row(str(rank), result.row(i)) for rank, i in enumerate(result.top(result.task.top), 1)]
        print_table(f"top {len(top)} configurations", _HEADERS, top)
        winner = result.row(result.best[0])
        ratio = result.winner_ratio
        click.echo(
            f"\nwinner: {winner['framework']} {winner['mode']} {describe(winner)}: "
            f"{_number(winner['tokens_per_s_per_gpu'], '.0f')} tokens/s/GPU at "
            f"{_number(winner['tokens_per_s_per_user'], '.1f')} tokens/s/user"
            + (f", {ratio:.2f}x the runner-up" if ratio else "")
        )
        explanation = result.explanation
        for step, shares in explanation.get("shares", {}).items():
            parts = ", ".join(f"{family} {share:.0%}" for family, share in shares.items())
            click.echo(f"  {step} iteration: {parts}")
        if "limited_by" in explanation:
            click.echo(f"  limited by {explanation['limited_by']}")
        _print_gain(result)
    else:
        report = infeasibility(result)
        click.echo(f"no configuration meets the targets; binding: {report['binding']}")
        if report["closest"]:
            rows = [_metrics_row(str(rank), row) for rank, row in enumerate(report["closest"], 1)]
            print_table("closest configurations", _HEADERS, rows)
        for reason in report.get("reasons", []):
            click.echo(f"  - {reason}")
        for advice in report["advice"]:
            click.echo(f"  would help: {advice}")
    tpot = result.task.sla.tpot_ms
    click.echo("\nPareto frontiers (meeting TTFT / latency targets):")
    click.echo(text_plot(frontier_series(result), x_limit=1000.0 / tpot if tpot else None))
    click.echo("[low-high]: the 80 % interval of each prediction, from the model's out-of-sample errors")
    click.echo(f"\nevaluated {result.evaluated:,} configurations in {result.elapsed_s:.2f} s")

"""`servecast recommend`: the fewest GPUs, and the configuration, that serve a target load under the SLA."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from servecast.cli.context import echo_json, json_option, plugin_host
from servecast.cli.params import COUNT, POSITIVE_NUMBER
from servecast.cli.progress import SearchProgressBar
from servecast.cli.search_cmd import print_inputs, task_from_options, task_options, trace_of
from servecast.errors import InputError
from servecast.search.describe import describe
from servecast.search.recommend import LARGEST_UNIT_NODES, recommend


@click.command("recommend")
@task_options
@click.option("--target-request-rate", type=POSITIVE_NUMBER, help="Requests per second to serve.")
@click.option("--target-concurrency", type=COUNT, help="Concurrent users to serve.")
@json_option
def recommend_command(
    target_request_rate: float | None, target_concurrency: int | None, as_json: bool, **values: Any
) -> None:
    """Find the fewest GPUs that serve the target load under the SLA, across the installed frameworks: the best
    deployment unit (one instance or one xPyD group) and how many copies of it; a --trace's rate is the target
    unless one is given. Exits 4 when none meets it."""
    trace = trace_of(values)
    if trace is not None and target_request_rate is None and target_concurrency is None:
        target_request_rate = trace.request_rate_per_s
    if (target_request_rate is None) == (target_concurrency is None):
        raise InputError(
            "give exactly one of --target-request-rate and --target-concurrency", "see `servecast recommend -h`"
        )
    host = plugin_host()
    task = task_from_options(values, 1, 5, host.hardware.names(), trace)
    console = Console(stderr=True)
    nodes = f"1 to {LARGEST_UNIT_NODES}"
    print_inputs(
        console,
        task,
        host.frameworks.names(),
        host.hardware.get(task.system),
        f"units of {nodes} {task.system} nodes",
        host.user_calibration,
        trace,
    )
    with SearchProgressBar(console) as progress:
        result = recommend(host, task, target_request_rate, target_concurrency, progress)
    if as_json:
        echo_json(result.as_dict())
        return
    unit = result.unit
    click.echo(
        f"{result.gpus} GPUs: {result.copies} x [{unit['framework']} {unit['framework_version']} {unit['mode']} "
        f"{describe(unit)}] ({unit['num_gpus']} GPUs each) serve {result.target}"
    )
    click.echo(
        f"  each unit: {unit['requests_per_s']:.2f} requests/s at concurrency {unit['concurrency']}, "
        f"TTFT {unit['ttft_ms']:.0f} ms, TPOT {unit['tpot_ms']:.1f} ms, {unit['tokens_per_s_per_gpu']:.0f} tokens/s/GPU"
    )

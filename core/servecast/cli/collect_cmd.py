"""`servecast collect`: measure primitives on this machine's accelerator into measured tables."""

from __future__ import annotations

import datetime as dt
import getpass
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console

from servecast.cli.render import print_table
from servecast.collect.backend import BACKENDS, Advance, CollectError, load_backend
from servecast.collect.destination import Destination, Provenance, sidecar_text
from servecast.collect.plan import GRIDS, RunSize
from servecast.collect.runner import MeasuredTable, plan, run
from servecast.ops.estimator import OpKind

MEASURABLE = tuple(GRIDS[RunSize.FULL])


@click.command("collect")
@click.option(
    "--into",
    "package",
    type=click.Path(file_okay=False, path_type=Path),
    help="A hardware plugin package (from `servecast new-plugin hardware`): tables go to its data/tables/.",
)
@click.option(
    "--out", "folder", type=click.Path(file_okay=False, path_type=Path), help="A plain folder for the tables."
)
@click.option("--hardware", "hardware", help="The system the tables describe (with --out).")
@click.option(
    "--backend",
    "backend_name",
    type=click.Choice(list(BACKENDS)),
    default="torch",
    show_default=True,
    help="torch: the local GPU through PyTorch (pip install 'servecast[collect]'); numpy-cpu: this CPU (for tests).",
)
@click.option(
    "--size",
    type=click.Choice([size.value for size in RunSize]),
    help="Grid size: full (~15 min on one GPU), quick (a few minutes), tiny (seconds). Default: the backend's.",
)
@click.option("--quick", is_flag=True, help="Same as --size quick.")
@click.option(
    "--op",
    "ops",
    multiple=True,
    type=click.Choice([op.value for op in MEASURABLE]),
    help="Measure only this op; repeatable. Default: every op the backend can measure here.",
)
@click.option("--by", help="Who measures, recorded in each sidecar. Default: the login name.")
@click.option("--force", is_flag=True, help="Replace tables already in the folder.")
def collect_command(
    package: Path | None,
    folder: Path | None,
    hardware: str | None,
    backend_name: str,
    size: str | None,
    quick: bool,
    ops: tuple[str, ...],
    by: str | None,
    force: bool,
) -> None:
    """Measure GEMM, attention, memory and (with several GPUs) collectives here, and write measured tables.

    Each table is a CSV of median latencies with a TOML sidecar recording the device, software versions, date,
    tool, command and how noisy the repeats were. A table is written when its op is done, whole or not at all.
    """
    destination = _destination(package, folder, hardware)
    if quick and size not in (None, RunSize.QUICK.value):
        raise CollectError(f"--quick contradicts --size {size}", "pass one of them")
    backend = load_backend(backend_name)
    run_size = RunSize.QUICK if quick else RunSize(size) if size else backend.default_size
    device = backend.device()
    chosen = plan(backend, [OpKind(op) for op in ops] or list(MEASURABLE), run_size, device.count)
    if not chosen.sweeps:
        raise CollectError(
            "nothing to measure: " + "; ".join(f"{op.value}: {why}" for op, why in chosen.skipped.items()),
            "choose ops this backend measures on this machine",
        )
    if not force:
        destination.refuse_overwriting([op.value for op in chosen.sweeps])
    command = _command(package, folder, hardware, backend_name, run_size, ops, force)
    provenance = Provenance(device, backend_name, by or _login(), command, dt.date.today())
    console = Console(stderr=True)
    click.echo(
        f"measuring {chosen.points:,} shapes on {device.name} ({run_size.value} run, {backend_name} backend) "
        f"into {destination.folder}",
        err=True,
    )
    for op, why in chosen.skipped.items():
        click.echo(f"skipping {op.value}: {why}", err=True)

    def write(table: MeasuredTable) -> None:
        destination.write(table, sidecar_text(table, destination.hardware, provenance))

    with _progress(console, chosen.points) as advance:
        tables = run(backend, chosen, run_size, advance, write)
    print_table(
        f"measured tables for {destination.hardware} in {destination.folder}",
        ["op", "dtypes", "points", "median ms (min - max)", "kernel", "outliers"],
        [_summary(table) for table in tables],
    )


def _destination(package: Path | None, folder: Path | None, hardware: str | None) -> Destination:
    if package is not None and folder is None and hardware is None:
        return Destination.package(package)
    if package is None and folder is not None and hardware is not None:
        return Destination.folder_for(folder, hardware)
    raise CollectError(
        "say where the tables go: --into PACKAGE, or --out DIR with --hardware NAME",
        "`servecast collect --into ./my-gpu-plugin` fills a package made by `servecast new-plugin hardware`",
    )


def _command(
    package: Path | None,
    folder: Path | None,
    hardware: str | None,
    backend: str,
    size: RunSize,
    ops: tuple[str, ...],
    force: bool,
) -> str:
    """The command that reproduces this run, as the sidecars record it."""
    words = ["servecast", "collect", "--backend", backend, "--size", size.value]
    words += ["--into", str(package)] if package else ["--out", str(folder), "--hardware", str(hardware)]
    for op in ops:
        words += ["--op", op]
    return shlex.join(words + (["--force"] if force else []))


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _summary(table: MeasuredTable) -> tuple[str, ...]:
    medians = [timing.median_ms for _, _, timing in table.rows()]
    report = table.outliers()
    return (
        table.op.value,
        ",".join(s.dtype.value for s in table.sweeps),
        f"{len(medians):,}",
        f"{min(medians):.4g} - {max(medians):.4g}",
        table.kernel[:48],
        f"{report.noisy_points} of {report.points} points",
    )


@contextmanager
def _progress(console: Console, total: int) -> Iterator[Advance]:
    """A progress bar on stderr while measuring, when stderr is a terminal; yields the advance callback."""
    if not console.is_terminal:
        yield lambda count: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    columns = ("measuring", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("measuring", total=total)
        yield lambda count: bar.advance(task, count)

"""Accuracy of the primitive estimates against published kernel measurements, in sample and out of sample.

    uv run python benchmarks/kernels_accuracy.py [--kernels ../shared/calibration/kernels.csv] [--rows]
        [--measured ../shared/calibration/measured] [--only published|gemm] [--json PATH]

Errors are (estimate - measured) / measured throughout. Two parts:

published: each applicable row of `kernels.csv` becomes an op at an explicit shape (see servecast.calibrate.published
for how each source's rows are read); the estimate is what the installed h100_sxm plugin gives it. Rows marked 'fit'
were used to fit the calibration, so their errors are in-sample; 'check' rows were not. Targets (issue 4): median
|error| <= 10 % for GEMM and attention, <= 15 % for communication.

gemm: every H100 GEMM row Vidur published (`measured/gemm.csv.gz`, six models, m = 1..4096, fp16), estimated in bf16
on h100_sxm. The plugin's measured table (scripts/build_vidur_tables.py) is built from these very rows, so
  * current: the installed estimator is in-sample wherever the table covers a shape;
  * calibrated roofline: the model without any table is out of sample (fitted to kernels.csv, which has no Vidur row);
  * leave one model out: the table rebuilt without a model, then that model's rows estimated; shapes whose (n, k)
    another model has are table lookups, the others the calibrated roofline scaled by the nearest partitions'
    measured ratio (servecast.perfdb.neighbours), or the calibrated roofline alone where no partition is near;
  * interpolation: every other m value dropped from every partition, and the dropped points estimated.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from servecast.calibrate import CalibrationPoint, predict_ms, read_published_kernels
from servecast.calibrate.measured import read_measured_kernels
from servecast.domain.kernels import KernelChoices
from servecast.domain.target import Target
from servecast.estimate.layered import TableGrids, default_estimator
from servecast.host import PluginHost, PluginSettings, builtin_plugins, discover_plugins
from servecast.ops.estimator import EstimateProvenance, OpEstimator, OpKind
from servecast.perfdb.loading import read_grid, read_metadata

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import build_vidur_tables as tables  # noqa: E402

TARGETS = {"gemm": 0.10, "attention": 0.10, "communication": 0.15}
DEFAULT_KERNELS = Path(__file__).resolve().parents[2] / "shared" / "calibration" / "kernels.csv"
MEASURED_SYSTEM = "h100_sxm"
"""The system the Vidur H100 rows are compared with."""
M_BUCKETS = ((1, 16), (17, 128), (129, 512), (513, 2048), (2049, None))

Stats = dict[str, Any]


# -- published kernels -----------------------------------------------------------------------------------------


def published_report(host: PluginHost, kernels_path: Path, system: str, show_rows: bool) -> dict[str, Stats]:
    """Print the published-kernels comparison; return its per-group numbers."""
    points, skipped = read_published_kernels(kernels_path)
    click.echo(f"{len(points)} applicable rows of {kernels_path.name} ({len(skipped)} not applicable), {system}:")
    results = points_report(host, points, system, show_rows, published_op)
    click.echo("\nnot applicable:")
    reasons: dict[str, int] = defaultdict(int)
    for row in skipped:
        reasons[row.reason] += 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        click.echo(f"  {count:>3}  {reason}")
    return results


def published_op(point: CalibrationPoint) -> str:
    return point.family + (f" ({point.all_reduce_kernel.value})" if point.all_reduce_kernel else "")


def measured_op(point: CalibrationPoint) -> str:
    """The measured pack's rows grouped by kernel and data type, all-reduce by GPU count."""
    if point.family == OpKind.ALL_REDUCE.value:
        return f"all_reduce (nccl), {point.shapes['num_gpus']:g} GPUs"
    if point.attention_kernel is not None:
        return f"{point.family} ({point.attention_kernel.value}, {point.dtype.value})"
    return point.family


def measured_report(host: PluginHost, measured: Path, system: str, show_rows: bool) -> dict[str, Stats]:
    """Print the measured pack's attention and collective rows against the installed estimates."""
    points = read_measured_kernels(measured)
    fitted = sum(point.fit for point in points)
    click.echo(
        f"{len(points)} H100 attention and collective rows of the measured pack ({measured}), {system}; {fitted} "
        "fit the decode call's fixed time, the rest are out of sample:"
    )
    return points_report(host, points, system, show_rows, measured_op)


def points_report(
    host: PluginHost,
    points: Sequence[CalibrationPoint],
    system: str,
    show_rows: bool,
    op_of: Callable[[CalibrationPoint], str],
) -> dict[str, Stats]:
    """Print the calibrated model's error on `points` by op family and by `op_of`; return the numbers."""
    hardware = host.hardware.get(system)
    if hardware.calibration is None:
        raise click.ClickException(f"{system} ships no calibration; estimates would be the pure roofline")
    predicted = predict_ms(points, hardware, hardware.calibration)
    errors = predicted / np.array([p.measured_ms for p in points]) - 1
    if show_rows:
        click.echo(f"{'line':>5} {'family':<18} {'used':<5} {'measured ms':>12} {'estimate ms':>12} {'error':>8}  row")
        for point, estimate, error in zip(points, predicted, errors, strict=True):
            click.echo(
                f"{point.row:>5} {point.family:<18} {'fit' if point.fit else 'check':<5} {point.measured_ms:>12.5f} "
                f"{estimate:>12.5f} {error:>+8.1%}  {point.label[:80]}"
            )
        click.echo("")
    by_family: dict[str, list[int]] = defaultdict(list)
    by_op: dict[str, list[int]] = defaultdict(list)
    for index, point in enumerate(points):
        by_family[point.op_family].append(index)
        by_op[op_of(point)].append(index)
    click.echo(
        f"{'op family':<36} {'rows':>5} {'fit':>4} {'median |err|':>13} {'p90 |err|':>10} {'max |err|':>10} {'bias':>8}"
    )
    results: dict[str, Stats] = {}
    sections = [(name, indices, TARGETS.get(name)) for name, indices in sorted(by_family.items())]
    sections += [("", [], None), *((name, indices, None) for name, indices in sorted(by_op.items()))]
    for name, indices, target in sections:
        if not indices:
            click.echo("-" * 92)
            continue
        absolute = np.abs(errors[indices])
        fitted = sum(points[i].fit for i in indices)
        verdict = (
            "" if target is None else (" meets" if np.median(absolute) <= target else " MISSES") + f" {target:.0%}"
        )
        click.echo(
            f"{name:<36} {len(indices):>5} {fitted:>4} {np.median(absolute):>13.1%} "
            f"{np.percentile(absolute, 90):>10.1%} {absolute.max():>10.1%} {np.median(errors[indices]):>+8.1%}{verdict}"
        )
        results[name] = {**error_stats(errors[indices]), "fit": int(fitted), "max_abs": float(absolute.max())}
    return results


# -- measured GEMM tables --------------------------------------------------------------------------------------


def error_stats(errors: np.ndarray) -> Stats:
    """Rows, median and p90 of |error|, and the median signed error (bias); None where there are no rows."""
    if len(errors) == 0:
        return {"rows": 0, "median_abs": None, "p90_abs": None, "bias": None}
    absolute = np.abs(errors)
    return {
        "rows": len(errors),
        "median_abs": float(np.median(absolute)),
        "p90_abs": float(np.percentile(absolute, 90)),
        "bias": float(np.median(errors)),
    }


def bucket_label(low: int, high: int | None) -> str:
    return f"m {low}-{high}" if high is not None else f"m >{low - 1}"


def by_bucket(m: np.ndarray, errors: np.ndarray) -> dict[str, Stats]:
    """Error statistics per token-count bucket."""
    return {
        bucket_label(low, high): error_stats(errors[(m >= low) & (m <= (high if high is not None else np.inf))])
        for low, high in M_BUCKETS
    }


def estimate_errors(estimator: OpEstimator, rows: pd.DataFrame, latency_column: str) -> tuple[np.ndarray, np.ndarray]:
    """One estimator call over `rows` (bf16): the errors against `latency_column` (µs) and each point's provenance."""
    shapes = {name: rows[name].to_numpy(dtype=float) for name in ("m", "n", "k")}
    estimate = estimator(shapes, "bf16")
    measured_ms = rows[latency_column].to_numpy(dtype=float) / 1e3
    return estimate.latency_ms / measured_ms - 1, estimate.provenance


def table_grids(table: tables.GemmTable, folder: Path) -> TableGrids:
    """`table` written as the build script writes it and read back as the loader reads it."""
    tables.write_tables(tables.table_files(table), folder)
    return read_grid(folder / "gemm.csv", read_metadata(folder / "gemm.toml"))


def print_stats(label: str, stats: Stats, indent: int = 2) -> None:
    if not stats["rows"]:
        click.echo(f"{' ' * indent}{label:<{34 - indent}} {0:>6}")
        return
    click.echo(
        f"{' ' * indent}{label:<{34 - indent}} {stats['rows']:>6} {stats['median_abs']:>12.1%} "
        f"{stats['p90_abs']:>9.1%} {stats['bias']:>+8.1%}"
    )


def print_groups(title: str, groups: Mapping[str, Stats]) -> None:
    click.echo(title)
    for label, stats in groups.items():
        print_stats(label, stats)


def current_section(host: PluginHost, rows: pd.DataFrame) -> dict[str, Any]:
    """The installed estimator on every measured row: in-sample where the plugin's table covers the shape."""
    estimator = host.op_estimator(OpKind.GEMM, Target(hardware=MEASURED_SYSTEM))
    errors, provenance = estimate_errors(estimator, rows, "latency_us")
    levels = {
        level.label: error_stats(errors[provenance == level])
        for level in EstimateProvenance
        if (provenance == level).any()
    }
    return {"all": error_stats(errors), "by_provenance": levels, "by_m": by_bucket(rows["m"].to_numpy(), errors)}


def calibrated_section(host: PluginHost, rows: pd.DataFrame) -> dict[str, Any]:
    """The calibrated roofline alone (no table) on every measured row: out of sample."""
    estimator = default_estimator(OpKind.GEMM, host.hardware.get(MEASURED_SYSTEM), KernelChoices(), [])
    errors, _ = estimate_errors(estimator, rows, "latency_us")
    return {"all": error_stats(errors), "by_m": by_bucket(rows["m"].to_numpy(), errors)}


def leave_one_model_out(host: PluginHost, rows: pd.DataFrame, scratch: Path) -> dict[str, Any]:
    """Each model's rows estimated with the table built from the other models' rows: table lookups where another
    model has the same (n, k), the calibrated model scaled by the nearest partitions' ratio elsewhere, and the
    calibrated model alone where no partition is near."""
    hardware = host.hardware.get(MEASURED_SYSTEM)
    per_model: dict[str, Any] = {}
    pooled: dict[str, list[np.ndarray]] = defaultdict(list)
    for model in sorted(set(rows["model"])):
        table = tables.build_table(tables.select_models(rows, [model]), warn=False)
        grids = table_grids(table, scratch / f"without-{model.replace('/', '_')}")
        estimator = default_estimator(OpKind.GEMM, hardware, KernelChoices(), [grids])
        held = rows[rows["model"] == model]
        errors, provenance = estimate_errors(estimator, held, "latency_us")
        shared = pd.MultiIndex.from_frame(held[["n", "k"]]).isin(pd.MultiIndex.from_frame(table.rows[["n", "k"]]))
        kinds = {
            "table_lookup": shared,
            "neighbour_ratio": ~shared & (provenance == EstimateProvenance.EXTRAPOLATED),
            "calibrated_fallback": ~shared & (provenance == EstimateProvenance.CALIBRATED_ROOFLINE),
        }
        per_model[model] = {
            "partitions": held.groupby(["n", "k"]).ngroups,
            "partitions_in_table": held[shared].groupby(["n", "k"]).ngroups,
            **{kind: error_stats(errors[mask]) for kind, mask in kinds.items()},
            "all": error_stats(errors),
        }
        pooled["all"].append(errors)
        for kind, mask in kinds.items():
            pooled[kind].append(errors[mask])
    shares = {kind: sum(map(len, pooled[kind])) / len(rows) for kind in ("table_lookup", "neighbour_ratio")}
    return {
        "per_model": per_model,
        "pooled": {
            "lookup_share": shares["table_lookup"],
            "neighbour_share": shares["neighbour_ratio"],
            **{kind: error_stats(np.concatenate(values)) for kind, values in pooled.items()},
        },
    }


def interpolation_check(host: PluginHost, rows: pd.DataFrame, scratch: Path) -> dict[str, Any]:
    """Every other m value dropped from every partition of the full table; the dropped points estimated from it."""
    table = tables.build_table(rows, warn=False)
    m_values = np.sort(table.rows["m"].unique())
    kept = table.rows["m"].isin(m_values[::2])
    thinned = replace(table, rows=table.rows[kept].reset_index(drop=True))
    grids = table_grids(thinned, scratch / "every-other-m")
    estimator = default_estimator(OpKind.GEMM, host.hardware.get(MEASURED_SYSTEM), KernelChoices(), [grids])
    dropped = table.rows[~kept]
    errors, provenance = estimate_errors(estimator, dropped, "latency_us")
    interpolated = provenance == EstimateProvenance.INTERPOLATED
    return {
        "partitions": table.partitions,
        "m_kept": len(m_values[::2]),
        "m_dropped": len(m_values) - len(m_values[::2]),
        "interpolated_share": float(interpolated.mean()),
        "all": error_stats(errors),
        "by_m": by_bucket(dropped["m"].to_numpy(), errors),
    }


def gemm_report(host: PluginHost, measured: Path) -> dict[str, Any]:
    """Print the measured-GEMM comparison; return its numbers."""
    rows = tables.read_measured(measured)
    models = sorted(set(rows["model"]))
    click.echo(
        f"{len(rows)} Vidur H100 GEMM rows of {len(models)} models ({measured / 'gemm.csv.gz'}), fp16 measured, "
        f"estimated in bf16 on {MEASURED_SYSTEM}; error = estimate / measured - 1"
    )
    header = f"{'':<34} {'rows':>6} {'median |err|':>12} {'p90 |err|':>9} {'bias':>8}"
    current = current_section(host, rows)
    click.echo(f"\n{header}\ncurrent estimator (in-sample where the shipped table covers the shape)")
    print_stats("all", current["all"])
    print_groups("  by provenance", {f"  {k}": v for k, v in current["by_provenance"].items()})
    print_groups("  by token count", {f"  {k}": v for k, v in current["by_m"].items()})

    calibrated = calibrated_section(host, rows)
    click.echo("\ncalibrated roofline alone (out of sample: fitted to kernels.csv, which has no Vidur row)")
    print_stats("all", calibrated["all"])
    print_groups("  by token count", {f"  {k}": v for k, v in calibrated["by_m"].items()})

    with tempfile.TemporaryDirectory(prefix="servecast-gemm-") as folder:
        lomo = leave_one_model_out(host, rows, Path(folder))
        interpolation = interpolation_check(host, rows, Path(folder))
    pooled = lomo["pooled"]
    click.echo(
        f"\nleave one model out (out of sample; {pooled['lookup_share']:.1%} of rows are table lookups on an (n, k) "
        f"another model shares, {pooled['neighbour_share']:.1%} the calibrated model scaled by the nearest "
        "partitions' measured ratio, the rest the calibrated model alone)"
    )
    print_stats("all", pooled["all"])
    print_stats("table lookups", pooled["table_lookup"])
    print_stats("nearest partitions' ratio", pooled["neighbour_ratio"])
    print_stats("calibrated fallback", pooled["calibrated_fallback"])
    click.echo(f"  {'model':<28} {'(n,k) shared':>12} {'lookup med/p90':>16} {'ratio med/p90':>16}")
    for model, result in lomo["per_model"].items():
        click.echo(
            f"  {model.split('/')[-1]:<28} {result['partitions_in_table']:>5} of {result['partitions']:<4} "
            f"{pair(result['table_lookup']):>16} {pair(result['neighbour_ratio']):>16}"
        )

    click.echo(
        f"\ninterpolation in m (all {interpolation['partitions']} partitions, {interpolation['m_kept']} m values kept, "
        f"{interpolation['m_dropped']} dropped and estimated; {interpolation['interpolated_share']:.0%} interpolated)"
    )
    print_stats("all", interpolation["all"])
    print_groups("  by token count", {f"  {k}": v for k, v in interpolation["by_m"].items()})
    return {
        "rows": len(rows),
        "models": models,
        "current": current,
        "calibrated_roofline": calibrated,
        "leave_one_model_out": lomo,
        "interpolation": interpolation,
    }


def pair(stats: Stats) -> str:
    """'median / p90' of |error|, or '-' without rows."""
    if not stats["rows"]:
        return "-"
    return f"{stats['median_abs']:.1%} / {stats['p90_abs']:.1%}"


def command_line(argv: Sequence[str]) -> str:
    return " ".join(["uv run python benchmarks/kernels_accuracy.py", *argv])


@click.command()
@click.option("--kernels", "kernels_path", type=click.Path(exists=True, path_type=Path), default=DEFAULT_KERNELS)
@click.option(
    "--measured",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=tables.DEFAULT_MEASURED,
    help="Folder holding gemm.csv.gz (Vidur's H100 rows).",
)
@click.option("--system", default="h100_sxm", show_default=True, help="System of the published part.")
@click.option("--rows", "show_rows", is_flag=True, help="Also print every published row's estimate and error.")
@click.option("--only", type=click.Choice(["published", "measured", "gemm"]), help="Run one part only.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the numbers.")
def main(
    kernels_path: Path,
    measured: Path,
    system: str,
    show_rows: bool,
    only: str | None,
    json_path: Path | None,
) -> None:
    started = time.perf_counter()
    command = command_line(sys.argv[1:])
    click.echo(command + "\n")
    host = PluginHost([*builtin_plugins(), *discover_plugins()], PluginSettings.resolve(strict=False, disabled=()))
    results: dict[str, Any] = {"command": command}
    if only in (None, "published"):
        results["published"] = published_report(host, kernels_path, system, show_rows)
    if only in (None, "measured"):
        if only is None:
            click.echo("\n" + "=" * 92 + "\n")
        results["measured"] = measured_report(host, measured, system, show_rows)
    if only in (None, "gemm"):
        if only is None:
            click.echo("\n" + "=" * 92 + "\n")
        results["measured_gemm"] = gemm_report(host, measured)
    results["seconds"] = round(time.perf_counter() - started, 2)
    click.echo(f"\n{results['seconds']:.1f} s")
    if json_path is not None:
        json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


if __name__ == "__main__":
    main()

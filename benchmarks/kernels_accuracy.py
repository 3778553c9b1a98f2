"""Accuracy of the primitive estimates against every applicable published kernel measurement.

    uv run python benchmarks/kernels_accuracy.py [--kernels ../shared/calibration/kernels.csv] [--rows]

Each applicable row of `kernels.csv` becomes an op at an explicit shape (see servecast.calibrate.published for
how each source's rows are read); the estimate is what the installed h100_sxm plugin gives it. Errors are
(estimate - measured) / measured. Rows marked 'fit' were used to fit the calibration, so their errors are
in-sample; 'check' rows were not. Targets (issue 4): median |error| <= 10 % for GEMM and attention, <= 15 % for
communication.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import click
import numpy as np

from servecast.calibrate import predict_ms, read_published_kernels
from servecast.host import PluginHost

TARGETS = {"gemm": 0.10, "attention": 0.10, "communication": 0.15}
DEFAULT_KERNELS = Path(__file__).resolve().parents[2] / "shared" / "calibration" / "kernels.csv"


@click.command()
@click.option("--kernels", "kernels_path", type=click.Path(exists=True, path_type=Path), default=DEFAULT_KERNELS)
@click.option("--system", default="h100_sxm", show_default=True)
@click.option("--rows", "show_rows", is_flag=True, help="Also print every row's estimate and error.")
def main(kernels_path: Path, system: str, show_rows: bool) -> None:
    hardware = PluginHost.from_entry_points().hardware.get(system)
    if hardware.calibration is None:
        raise click.ClickException(f"{system} ships no calibration; estimates would be the pure roofline")
    points, skipped = read_published_kernels(kernels_path)
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
        by_op[point.family + (f" ({point.all_reduce_kernel.value})" if point.all_reduce_kernel else "")].append(index)
    click.echo(f"{len(points)} applicable rows of {kernels_path.name} ({len(skipped)} not applicable), {system}:")
    click.echo(
        f"{'op family':<36} {'rows':>5} {'fit':>4} {'median |err|':>13} {'p90 |err|':>10} {'max |err|':>10} {'bias':>8}"
    )
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
    click.echo("\nnot applicable:")
    reasons: dict[str, int] = defaultdict(int)
    for row in skipped:
        reasons[row.reason] += 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        click.echo(f"  {count:>3}  {reason}")


if __name__ == "__main__":
    main()

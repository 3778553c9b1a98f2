"""Fit a GPU system's calibrated-roofline parameters to published kernel measurements.

    uv run python scripts/calibrate.py \
        --spec plugins/hardware_h100/servecast_hardware_h100/data/h100_sxm.toml \
        --kernels ../shared/calibration/kernels.csv \
        --measured ../shared/calibration/measured \
        --output plugins/hardware_h100/servecast_hardware_h100/data/h100_sxm_calibration.toml

Prints every published measurement's residual (fitted rows and rows only compared) and the measured pack's fitted
rows, the rows left out and why, and the per-group summary; writes the calibration file the hardware spec names.
The measured pack (`--measured`) adds FlashAttention-3 paged-decode rows, which fit the decode call's fixed time,
and rows compared only by `benchmarks/kernels_accuracy.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from servecast.calibrate import read_published_kernels
from servecast.calibrate.fit import fit_calibration
from servecast.calibrate.measured import read_measured_kernels
from servecast.calibrate.writer import calibration_toml
from servecast.files import write_text_atomically
from servecast.specfiles.hardware_file import hardware_spec_without_calibration


@click.command()
@click.option("--spec", "spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--kernels", "kernels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--measured",
    "measured_path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The public measured-kernel pack's folder (attention and collective rows).",
)
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(spec_path: Path, kernels_path: Path, measured_path: Path | None, output_path: Path) -> None:
    hardware = hardware_spec_without_calibration(spec_path)
    points, skipped = read_published_kernels(kernels_path)
    published = len(points)
    data = [kernels_path.as_posix()]
    measured = f" --measured {measured_path.as_posix()}" if measured_path else ""
    if measured_path is not None:
        points += read_measured_kernels(measured_path)
        data.append(measured_path.as_posix())
    command = (
        f"uv run python scripts/calibrate.py --spec {spec_path.as_posix()} --kernels {kernels_path.as_posix()}"
        f"{measured} --output {output_path.as_posix()}"
    )
    calibration, residuals, summaries = fit_calibration(points, hardware, data, command)
    click.echo(f"{'line':>5} {'family':<18} {'used':<5} {'measured ms':>12} {'predicted ms':>13} {'error':>8}  row")
    for position, residual in enumerate(residuals):
        point = residual.point
        if position >= published and not point.fit:
            continue
        click.echo(
            f"{point.row:>5} {point.family:<18} {'fit' if point.fit else 'check':<5} {point.measured_ms:>12.5f} "
            f"{residual.predicted_ms:>13.5f} {residual.error:>+8.1%}  {point.label[:90]}"
        )
    compared = sum(not point.fit for point in points[published:])
    if compared:
        click.echo(f"(and {compared} rows of the measured pack compared only: benchmarks/kernels_accuracy.py)")
    click.echo(f"\n{len(skipped)} rows left out:")
    for row in skipped:
        click.echo(f"{row.line:>5} {row.label[:70]:<70}  {row.reason}")
    click.echo("\nper fit group:")
    for group, summary in summaries.items():
        click.echo(f"  {group}: {summary}")
    write_text_atomically(output_path, calibration_toml(calibration, hardware.name, summaries))
    click.echo(f"\nwrote {output_path}")


if __name__ == "__main__":
    sys.exit(main())

"""Fit a GPU system's calibrated-roofline parameters to published kernel measurements.

    uv run python scripts/calibrate.py \
        --spec plugins/hardware_h100/servecast_hardware_h100/data/h100_sxm.toml \
        --kernels ../shared/calibration/kernels.csv \
        --output plugins/hardware_h100/servecast_hardware_h100/data/h100_sxm_calibration.toml

Prints every measurement's residual (fitted rows and rows only compared), the rows left out and why, and the
per-group summary; writes the calibration file the hardware spec names.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from servecast.calibrate import read_published_kernels
from servecast.calibrate.fit import fit_calibration
from servecast.calibrate.writer import calibration_toml
from servecast.files import write_text_atomically
from servecast.specfiles.hardware_file import hardware_spec_without_calibration


@click.command()
@click.option("--spec", "spec_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--kernels", "kernels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(spec_path: Path, kernels_path: Path, output_path: Path) -> None:
    hardware = hardware_spec_without_calibration(spec_path)
    points, skipped = read_published_kernels(kernels_path)
    command = (
        f"uv run python scripts/calibrate.py --spec {spec_path.as_posix()} --kernels {kernels_path.as_posix()} "
        f"--output {output_path.as_posix()}"
    )
    calibration, residuals, summaries = fit_calibration(points, hardware, [kernels_path.as_posix()], command)
    click.echo(f"{'line':>5} {'family':<18} {'used':<5} {'measured ms':>12} {'predicted ms':>13} {'error':>8}  row")
    for residual in residuals:
        point = residual.point
        click.echo(
            f"{point.row:>5} {point.family:<18} {'fit' if point.fit else 'check':<5} {point.measured_ms:>12.5f} "
            f"{residual.predicted_ms:>13.5f} {residual.error:>+8.1%}  {point.label[:90]}"
        )
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

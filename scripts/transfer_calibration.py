"""Write a system's calibration transferred from another system whose GPU shares what the parameters describe.

    uv run python scripts/transfer_calibration.py \
        --from plugins/hardware_h100/servecast_hardware_h100/data/h100_sxm.toml \
        --spec plugins/hardware_h100/servecast_hardware_h100/data/h200_sxm.toml \
        --reason "the same GH100 SMs, clocks and tensor peaks; bandwidth-bound terms scale with this spec's HBM3e" \
        --output plugins/hardware_h100/servecast_hardware_h100/data/h200_sxm_calibration.toml

Every parameter of the source spec's calibration becomes `transferred`, its note naming the source, the reason and
how the source obtained it, except those `--derive NAME=VALUE` sets from this GPU's own measurements (`derived`,
with `--why`). A GPU's own tables (`servecast collect`, `servecast hardware fit`) replace it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from servecast.calibrate.transfer import transfer_calibration
from servecast.calibrate.writer import calibration_toml
from servecast.files import write_text_atomically
from servecast.specfiles import load_hardware_spec
from servecast.specfiles.hardware_file import hardware_spec_without_calibration

EXISTING = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.option("--from", "source_path", type=EXISTING, required=True, help="The calibrated system's spec file.")
@click.option("--spec", "spec_path", type=EXISTING, required=True, help="The spec file of the system to calibrate.")
@click.option("--reason", required=True, help="Why the source's parameters carry over to this GPU.")
@click.option("--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--derive",
    "derived",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter this system's own measurements set instead (repeatable; needs --why).",
)
@click.option("--why", default="", help="How the --derive values follow from this system's measurements.")
def main(
    source_path: Path, spec_path: Path, reason: str, output_path: Path, derived: tuple[str, ...], why: str
) -> None:
    source = load_hardware_spec(source_path)
    if source.calibration is None:
        raise click.ClickException(f"{source_path} names no calibration to transfer")
    target = hardware_spec_without_calibration(spec_path)
    if derived and not why:
        raise click.ClickException("--derive needs --why: how the values follow from this system's measurements")
    values = {}
    for item in derived:
        name, _, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            raise click.ClickException(f"--derive {item!r}: give NAME=NUMBER") from None
    command = (
        f"uv run python scripts/transfer_calibration.py --from {source_path.as_posix()} --spec {spec_path.as_posix()} "
        f"--reason {reason!r} --output {output_path.as_posix()}"
        + "".join(f" --derive {item}" for item in derived)
        + (f" --why {why!r}" if why else "")
    )
    try:
        calibration = transfer_calibration(source.calibration, source.name, reason, command, values, why)
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from None
    summary = {"transferred": f"{len(calibration.parameters)} parameters from {source.name}: {reason}"}
    text = calibration_toml(calibration, target.name, summary, "Not fitted on this system:")
    write_text_atomically(output_path, text)
    click.echo(f"wrote {output_path}: {len(calibration.parameters)} parameters transferred from {source.name}")


if __name__ == "__main__":
    sys.exit(main())

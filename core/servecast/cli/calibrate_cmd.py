"""`servecast calibrate`: fit the model to your own benchmark runs, and write the calibration other commands use."""

from __future__ import annotations

import math
import shlex
import sys
from functools import partial
from pathlib import Path
from typing import Any

import click
from packaging.version import Version

from servecast.cli.context import echo_json, json_option, plugin_host
from servecast.cli.estimate_cmd import request_options
from servecast.cli.render import print_table
from servecast.domain.user_calibration import USER_PARAMETERS, Correction, UserCalibration
from servecast.errors import InputError
from servecast.files import write_text_atomically


def _parameter_names(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [name for name in names if name not in USER_PARAMETERS]
    if unknown or not names:
        raise InputError(
            f"--fit {value!r}: unknown parameter(s) {', '.join(map(repr, unknown)) or '(none given)'}",
            f"choose from {', '.join(USER_PARAMETERS)}",
        )
    return names


@click.command("calibrate")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A benchmark result file; repeatable (vllm bench serve JSON, SGLang bench_serving JSONL, genai-perf or "
    "aiperf export, trtllm-bench report, or CSV).",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The calibration file to write."
)
@click.option(
    "--fit",
    "fit_names",
    help=f"Comma-separated parameters to fit (default: every one the runs identify): {', '.join(USER_PARAMETERS)}.",
)
@partial(request_options, marked_required=False)
@json_option
def calibrate_command(
    inputs: tuple[Path, ...], output: Path, fit_names: str | None, as_json: bool, **flags: Any
) -> None:
    """Fit a few interpretable corrections (kernel speeds, front-end and per-iteration CPU time, memory reserve) to
    measured runs of one framework on one system, cross-validate them, and write OUTPUT for
    `--calibration` (estimate, search, recommend, generate). --system and --framework are required; options like
    `estimate`'s fill in what the files do not state (the model, the layout): a value a file states wins, a
    contradiction is an error, and --model replaces a file's model name (often a local path).

    \b
    Example:
      vllm bench serve ... --max-concurrency 8 --save-result --result-filename c8.json   # and c1, c32, ...
      servecast calibrate --input c1.json --input c8.json --input c32.json --system h100_sxm \\
        --framework vllm --framework-version 0.11.0 --model meta-llama/Llama-3.1-8B --tp 1 --output cal.toml
    Then:
      servecast search --calibration cal.toml ...   (or export SERVECAST_CALIBRATION=cal.toml)
    """
    from servecast.calibrate.formats import read_runs  # the fit needs scipy: imported by this command only
    from servecast.calibrate.user_file import user_calibration_toml
    from servecast.calibrate.user_fit import fit_user_calibration
    from servecast.calibrate.user_rows import calibrated_versions, calibration_rows

    given = {name: value for name, value in flags.items() if value is not None}
    for name in ("system", "framework"):
        if name not in given:
            raise InputError(f"missing --{name}", "a calibration belongs to one system and one framework")
    names = _parameter_names(fit_names)
    if output.exists() and output.is_dir():
        raise InputError(f"--output {str(output)!r} is a folder", "give a file name such as cal.toml")
    host = plugin_host().with_user_calibration(None)
    host.hardware.get(given["system"])
    runs = [run for path in inputs for run in read_runs(path)]
    release = given.pop("framework_version", None)
    versions, notes = calibrated_versions(host, runs, given["system"], given["framework"], release)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    rows = calibration_rows(runs, given, given["system"], given["framework"], versions)
    command = "servecast calibrate " + shlex.join(sys.argv[2:]) if len(sys.argv) > 1 else "servecast calibrate"
    report = fit_user_calibration(
        host,
        rows,
        sorted(set(versions.values()), key=Version),
        names,
        [str(path) for path in inputs],
        command,
        lambda message: click.echo(message, err=True),
    )
    calibration = report.calibration
    write_text_atomically(output, user_calibration_toml(calibration))
    if as_json:
        echo_json(
            {
                **calibration.model_dump(mode="json"),
                "identification": {i.name: round(i.data_share, 4) for i in report.identification},
                "output": str(output),
            }
        )
        return
    _print_report(calibration, {i.name: i.data_share for i in report.identification})
    click.echo(f"wrote {output}; use it with --calibration {output} (or SERVECAST_CALIBRATION={output})")


def _print_report(calibration: UserCalibration, shares: dict[str, float]) -> None:
    click.echo(f"calibration of {calibration.label}")
    rows = []
    for name, fitted in calibration.parameters.items():
        parameter = USER_PARAMETERS[name]
        if fitted.sigma is None:
            uncertainty = "not identified"
        elif parameter.correction is Correction.SCALE:
            uncertainty = f"x/÷ {math.exp(fitted.sigma):.3f}"
        else:
            uncertainty = f"± {fitted.sigma:.3g} {parameter.unit}"
        rows.append((name, f"{fitted.shipped:.4g}", f"{fitted.value:.4g}", uncertainty, f"{shares.get(name, 0.0):.0%}"))
    title = f"priors at {calibration.prior_width:g} x their default width (chosen by cross-validation)"
    if calibration.prior_width == 0:
        title = "cross-validated, the shipped model predicts these runs best: every parameter keeps its value"
    print_table(title, ["parameter", "shipped", "fitted", "1 sigma", "from the runs"], rows)
    errors = [
        (metric, f"{e['shipped']:.1f}", f"{e['in_fold']:.1f}", f"{e['cross_validated']:.1f}")
        for metric, e in calibration.mape.items()
    ]
    title = "mean |error| %: the shipped model, this fit on the runs it saw, and cross-validated (what counts)"
    print_table(title, ["metric", "shipped", "in-fold", "cross-validated"], errors)
    worse = [m for m, e in calibration.mape.items() if e["cross_validated"] > e["shipped"]]
    if worse:
        click.echo(
            f"warning: cross-validated, the calibration predicts {', '.join(worse)} worse than the shipped model; "
            "add runs, or fit fewer parameters (--fit)",
            err=True,
        )

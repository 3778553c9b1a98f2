"""`servecast generate`: launch artifacts for a hand-picked configuration, or re-rendered from a deployment.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from servecast.cli.context import calibration_option, plugin_host
from servecast.cli.estimate_cmd import request_from_flags, request_options
from servecast.errors import InputError
from servecast.launch.write import write_launch_for


def _configuration(path: Path) -> dict[str, Any]:
    """The `configuration` a deployment.json was written from."""
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(
            f"cannot read {str(path)!r}: {error}", "give a deployment.json written by servecast"
        ) from error
    configuration = document.get("configuration") if isinstance(document, dict) else None
    if not isinstance(configuration, dict):
        raise InputError(f"{str(path)!r} has no 'configuration' object", "give a deployment.json written by servecast")
    return configuration


@click.command("generate")
@request_options
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Re-render the deployment.json of an earlier search or generate.",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write.")
@click.option("--force", is_flag=True, help="Replace files already in --out.")
@calibration_option
def generate_command(source: Path | None, out: Path, force: bool, **flags: Any) -> None:
    """Write launch.sh, the framework's config files, benchmark.sh and deployment.json for one configuration,
    given like `servecast estimate`'s flags or taken from a deployment.json (`--from`).

    \b
    Example:
      servecast generate --model Qwen/Qwen3-8B --system h100_sxm --framework vllm \\
        --isl 2000 --osl 200 --concurrency 64 --tp 2 --out deploy/
    """
    given = {name: value for name, value in flags.items() if value is not None}
    if source is not None:
        if given:
            raise InputError(
                f"--from takes the configuration from {str(source)!r}; also given: {', '.join(sorted(given))}",
                "drop the flags, or drop --from and give the whole configuration",
            )
        given = _configuration(source)
    plan = write_launch_for(plugin_host(), request_from_flags(given, "generate"), out, force)
    for warning in plan.warnings:
        click.echo(f"note: {warning}", err=True)
    click.echo(
        f"wrote {out}/launch.sh, benchmark.sh and deployment.json for {plan.deployment.framework} "
        f"{plan.deployment.framework_version} ({plan.deployment.gpus} GPUs)"
    )

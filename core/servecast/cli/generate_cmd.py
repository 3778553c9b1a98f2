"""`servecast generate`: launch artifacts for a hand-picked configuration, or re-rendered from a deployment.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from servecast.cli.context import calibration_option, plugin_host
from servecast.cli.estimate_cmd import request_from_flags, request_options
from servecast.errors import InputError
from servecast.launch.targets import LaunchTarget
from servecast.launch.write import write_launch_for

TARGET_OPTION = click.option(
    "--target",
    type=click.Choice([target.value for target in LaunchTarget]),
    help="What launches it: shell scripts (the default), docker compose on one machine, or Kubernetes through NVIDIA "
    "Dynamo, llm-d's Helm chart or KServe.",
)
IMAGE_OPTION = click.option(
    "--image", help="Container image for the compose and Kubernetes targets, instead of the framework version's own."
)


def _document(path: Path) -> dict[str, Any]:
    """A deployment.json, with the `configuration` it was written from."""
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise InputError(
            f"cannot read {str(path)!r}: {error}", "give a deployment.json written by servecast"
        ) from error
    configuration = document.get("configuration") if isinstance(document, dict) else None
    if not isinstance(configuration, dict):
        raise InputError(f"{str(path)!r} has no 'configuration' object", "give a deployment.json written by servecast")
    return dict(document)


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
@TARGET_OPTION
@IMAGE_OPTION
@calibration_option
def generate_command(
    source: Path | None, out: Path, force: bool, target: str | None, image: str | None, **flags: Any
) -> None:
    """Write the launch files of one configuration — launch.sh and benchmark.sh, a compose file, or a Kubernetes
    manifest or Helm values (`--target`) — with the framework's config files and deployment.json, the configuration
    given like `servecast estimate`'s flags or taken from a deployment.json (`--from`, in the target it was written
    for unless `--target` says otherwise).

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
        document = _document(source)
        given = document["configuration"]
        target = target or document.get("target")
    chosen = LaunchTarget(target or LaunchTarget.SHELL)
    plan, written = write_launch_for(plugin_host(), request_from_flags(given, "generate"), out, force, chosen, image)
    for warning in plan.warnings:
        click.echo(f"note: {warning}", err=True)
    names = ", ".join(sorted(str(path.relative_to(out)) for path in written))
    click.echo(
        f"wrote {names} under {out} for {plan.deployment.framework} {plan.deployment.framework_version} "
        f"({plan.deployment.gpus} GPUs, target {chosen.value})"
    )

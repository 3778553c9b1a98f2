"""Shared CLI state: global options, and the plugin host built from them on first use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from servecast.json_text import json_text

if TYPE_CHECKING:  # loading plugins is what commands pay for, not the command line itself (`--help`, `--version`)
    from servecast.host import PluginHost
    from servecast.host.registry import Registered

F = TypeVar("F", bound=Callable[..., Any])


def pass_options(function: F) -> F:
    """Give a command the dict of global options (created on the group)."""
    return click.make_pass_decorator(dict, ensure=True)(function)  # type: ignore[return-value]


def plugin_host(*, report_failures: bool = True) -> PluginHost:
    """The plugin host for this invocation, loading plugins on first use; warns on stderr about skipped plugins."""
    from servecast.host import PluginHost, PluginSettings, PluginStatus, builtin_plugins, discover_plugins

    context = click.get_current_context()
    options: dict[str, Any] = context.find_object(dict) or {}
    if "host" not in options:
        settings = PluginSettings.resolve(strict=bool(options.get("strict")), disabled=options.get("disabled", ()))
        host = PluginHost([*builtin_plugins(), *discover_plugins()], settings)
        for warning in host.warnings:
            click.echo(f"warning: {warning}", err=True)
        if report_failures:
            for record in host.records:
                if record.status is PluginStatus.FAILED:
                    click.echo(
                        f"warning: plugin {record.origin} failed to load and was skipped; "
                        "`servecast plugins` shows why",
                        err=True,
                    )
        calibration_path = options.get("calibration")
        if calibration_path is not None:
            from servecast.calibrate.user_file import read_user_calibration

            host = host.with_user_calibration(read_user_calibration(calibration_path))
        options["host"] = host
    host_object: PluginHost = options["host"]
    return host_object


def _remember_calibration(context: click.Context, _: click.Parameter, value: Path | None) -> None:
    if value is not None:
        context.ensure_object(dict)["calibration"] = value


calibration_option = click.option(
    "--calibration",
    type=click.Path(path_type=Path),
    envvar="SERVECAST_CALIBRATION",
    expose_value=False,
    callback=_remember_calibration,
    help="A calibration `servecast calibrate` fitted to your own benchmark runs (env: SERVECAST_CALIBRATION); "
    "it corrects the estimates of the system, framework and version it was fitted on.",
)


def registered_json(entry: Registered[Any]) -> dict[str, Any]:
    """A registered spec as JSON, with the plugin and distribution that provide it."""
    return {
        **entry.value.model_dump(mode="json"),
        "plugin": entry.owner.name,
        "distribution": entry.owner.distribution,
    }


def echo_json(data: object) -> None:
    """Print `data` as indented, strict JSON on stdout (`servecast.json_text`)."""
    click.echo(json_text(data), nl=False)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")

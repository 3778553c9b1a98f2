"""The `servecast` command line."""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

import click

from servecast import __version__
from servecast.cli.context import pass_options
from servecast.cli.failures import (
    BUG,
    INTERRUPTED,
    TERMINATED,
    Terminated,
    as_servecast_error,
    report,
    report_bug,
    sigterm_as_interrupt,
)

COMMANDS = {
    "search": "search_cmd:search_command",
    "recommend": "recommend_cmd:recommend_command",
    "generate": "generate_cmd:generate_command",
    "plugins": "plugins_cmd:plugins",
    "hardware": "hardware_cmd:hardware",
    "frameworks": "frameworks_cmd:frameworks",
    "model": "model_cmd:model",
    "ops": "ops_cmd:ops",
    "estimate": "estimate_cmd:estimate_command",
    "new-plugin": "new_plugin_cmd:new_plugin",
    "collect": "collect_cmd:collect_command",
    "calibrate": "calibrate_cmd:calibrate_command",
}
"""Each command and where it is defined (`module:attribute` in this package), imported only when it runs or help
lists it: a command pays for its own imports, not for every other command's."""


class ServecastGroup(click.Group):
    """The command group; turns any failure of a command into a clear message and its documented exit code
    (`servecast.cli.failures`), with the traceback only under --debug."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(import_module(f"servecast.cli.{module}"), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with sigterm_as_interrupt():
                return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt as interrupt:
            terminated = isinstance(interrupt, Terminated)
            what = "terminated" if terminated else "interrupted"
            click.echo(f"error: {what}; nothing half-written is kept", err=True)
            ctx.exit(TERMINATED if terminated else INTERRUPTED)
        except Exception as error:
            if _debugging(ctx):
                raise
            known = as_servecast_error(error)
            if known is None:
                report_bug(error)
                ctx.exit(BUG)
            report(known)
            ctx.exit(known.exit_code)


def _debugging(ctx: click.Context) -> bool:
    options = ctx.find_object(dict) or {}
    return bool(options.get("debug")) or os.environ.get("SERVECAST_DEBUG", "") not in ("", "0")


@click.group(cls=ServecastGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", prog_name="servecast", message="%(prog)s %(version)s")
@click.option(
    "--strict-plugins",
    is_flag=True,
    help="Fail if any plugin fails to load or conflicts (also SERVECAST_STRICT_PLUGINS=1).",
)
@click.option(
    "--disable-plugin",
    "disabled",
    multiple=True,
    metavar="NAME",
    help="Do not load plugin NAME; repeatable (also SERVECAST_DISABLE_PLUGINS=a,b).",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error (also SERVECAST_DEBUG=1).")
@pass_options
def cli(options: dict[str, object], strict_plugins: bool, disabled: tuple[str, ...], debug: bool) -> None:
    """Predict LLM serving performance and pick the best deployment, without a GPU.

    Exit codes: 0 done, 2 bad input or an unusable file, 3 a plugin failed, 4 nothing meets the SLA,
    1 a bug (rerun with --debug), 130 interrupted, 143 terminated.
    """
    options["strict"] = strict_plugins
    options["disabled"] = disabled
    options["debug"] = debug


main = cli
"""Console entry point."""

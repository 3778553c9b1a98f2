"""The `servecast` command line."""

from __future__ import annotations

import os
from typing import Any

import click

from servecast import __version__
from servecast.cli.calibrate_cmd import calibrate_command
from servecast.cli.collect_cmd import collect_command
from servecast.cli.context import pass_options
from servecast.cli.estimate_cmd import estimate_command
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
from servecast.cli.frameworks_cmd import frameworks
from servecast.cli.generate_cmd import generate_command
from servecast.cli.hardware_cmd import hardware
from servecast.cli.model_cmd import model
from servecast.cli.new_plugin_cmd import new_plugin
from servecast.cli.ops_cmd import ops
from servecast.cli.plugins_cmd import plugins
from servecast.cli.recommend_cmd import recommend_command
from servecast.cli.search_cmd import search_command


class ServecastGroup(click.Group):
    """The command group; turns any failure of a command into a clear message and its documented exit code
    (`servecast.cli.failures`), with the traceback only under --debug."""

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


cli.add_command(search_command)
cli.add_command(recommend_command)
cli.add_command(generate_command)
cli.add_command(plugins)
cli.add_command(hardware)
cli.add_command(frameworks)
cli.add_command(model)
cli.add_command(ops)
cli.add_command(estimate_command)
cli.add_command(new_plugin)
cli.add_command(collect_command)
cli.add_command(calibrate_command)


main = cli
"""Console entry point."""

"""The `servecast` command line."""

from __future__ import annotations

from typing import Any

import click

from servecast import __version__
from servecast.cli.collect_cmd import collect_command
from servecast.cli.context import pass_options
from servecast.cli.estimate_cmd import estimate_command
from servecast.cli.frameworks_cmd import frameworks
from servecast.cli.generate_cmd import generate_command
from servecast.cli.hardware_cmd import hardware
from servecast.cli.model_cmd import model
from servecast.cli.new_plugin_cmd import new_plugin
from servecast.cli.ops_cmd import ops
from servecast.cli.plugins_cmd import plugins
from servecast.cli.recommend_cmd import recommend_command
from servecast.cli.search_cmd import search_command
from servecast.errors import ServecastError


class ServecastGroup(click.Group):
    """The command group; turns servecast errors raised by any command into a clear message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ServecastError as error:
            click.echo(f"error: {error.message}", err=True)
            if error.hint:
                click.echo(f"  what to do: {error.hint}", err=True)
            ctx.exit(error.exit_code)


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
@pass_options
def cli(options: dict[str, object], strict_plugins: bool, disabled: tuple[str, ...]) -> None:
    """Predict LLM serving performance and pick the best deployment, without a GPU."""
    options["strict"] = strict_plugins
    options["disabled"] = disabled


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


main = cli
"""Console entry point."""

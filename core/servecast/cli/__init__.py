"""The `servecast` command line."""

from __future__ import annotations

import sys

import click

from servecast import __version__
from servecast.cli.context import pass_options
from servecast.cli.frameworks_cmd import frameworks
from servecast.cli.hardware_cmd import hardware
from servecast.cli.plugins_cmd import plugins
from servecast.errors import ServecastError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
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


cli.add_command(plugins)
cli.add_command(hardware)
cli.add_command(frameworks)


def main() -> None:
    """Console entry point: run the CLI, turning servecast errors into a message and a documented exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except ServecastError as error:
        click.echo(f"error: {error.message}", err=True)
        if error.hint:
            click.echo(f"  what to do: {error.hint}", err=True)
        sys.exit(error.exit_code)

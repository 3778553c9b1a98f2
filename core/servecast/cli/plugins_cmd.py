"""`servecast plugins`: what is installed, what loaded, and why something did not."""

from __future__ import annotations

import click
from rich.markup import escape

from servecast.cli.context import echo_json, json_option, plugin_host
from servecast.cli.render import print_lines, print_table
from servecast.host import PluginStatus

_HOOK_PREFIX = "servecast_"


@click.command()
@json_option
def plugins(as_json: bool) -> None:
    """List discovered plugins: distribution, version, hooks, and status (ok / failed / disabled)."""
    host = plugin_host(report_failures=False)
    records = host.records
    if as_json:
        echo_json([record.to_json() for record in records])
        return
    print_table(
        None,
        ["plugin", "distribution", "version", "status", "hooks"],
        [
            (
                record.name,
                record.distribution,
                record.version,
                record.status.value + (" (conflict)" if record.conflicts else ""),
                ", ".join(hook.removeprefix(_HOOK_PREFIX) for hook in record.hooks),
            )
            for record in records
        ],
    )
    problems = []
    for record in records:
        if record.status is PluginStatus.FAILED:
            problems += [
                f"[bold red]{escape(record.name)}[/] failed: {escape(record.error or '')}",
                f"  what to do: {escape(record.hint or '')}",
            ]
        problems += [f"[bold yellow]{escape(record.name)}[/] conflict: {escape(c)}" for c in record.conflicts]
    print_lines(problems)

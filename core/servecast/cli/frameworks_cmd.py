"""`servecast frameworks`: the serving frameworks the installed plugins model."""

from __future__ import annotations

from typing import Any

import click

from servecast.cli.context import echo_json, json_option, plugin_host, registered_json
from servecast.cli.render import print_table
from servecast.domain import Knob


@click.group()
def frameworks() -> None:
    """Serving frameworks provided by framework plugins."""


def _names(values: frozenset[Any]) -> str:
    return ", ".join(sorted(value.value for value in values))


@frameworks.command("list")
@json_option
def list_frameworks(as_json: bool) -> None:
    """List every modelled framework with its versions and (latest version's) capabilities."""
    entries = list(plugin_host().frameworks)
    if as_json:
        echo_json([registered_json(entry) for entry in entries])
        return
    print_table(
        None,
        ["name", "framework", "versions", "parallel", "serving modes", "quantizations", "plugin"],
        [
            (
                entry.name,
                entry.value.display_name,
                ", ".join(entry.value.version_names),
                _names(entry.value.latest.capabilities.parallel_modes),
                _names(entry.value.latest.capabilities.serving_modes),
                _names(entry.value.latest.capabilities.quantizations),
                entry.owner.name,
            )
            for entry in entries
        ],
    )


def _default(knob: Knob) -> str:
    if knob.default is None:
        return f"(run time) {knob.default_note}"
    shown = ", ".join(map(str, knob.default)) if isinstance(knob.default, tuple) else str(knob.default)
    return f"{shown}; {knob.default_note}" if knob.default_note else shown


@frameworks.command("show")
@click.argument("name")
@click.option(
    "--version",
    "version",
    metavar="VERSION",
    help="A release; the modelled version standing for it is shown (default: the latest).",
)
@json_option
def show_framework(name: str, version: str | None, as_json: bool) -> None:
    """The knobs of framework NAME at one version (meaning, documented default, source) and its kernels."""
    host = plugin_host()
    entry = host.frameworks.entry(name)
    spec = entry.value
    chosen, note = host.nearest_framework_version(name, version)
    if note:
        click.echo(f"note: {note}", err=True)
    if as_json:
        echo_json({**chosen.model_dump(mode="json"), "framework": spec.name, "plugin": entry.owner.name})
        return
    print_table(
        f"{spec.display_name} {chosen.version} (plugin {entry.owner.name})",
        ["knob", "meaning", "set with", "default", "source"],
        [
            (
                knob.name,
                knob.meaning.value + (" (negated)" if knob.negates else ""),
                " / ".join(item for item in (knob.flag, knob.config_key, knob.env and f"${knob.env}") if item),
                _default(knob),
                knob.source.citation,
            )
            for knob in chosen.knobs
        ],
    )
    print_table(
        "default kernels on the modelled GPUs (what the estimators assume)",
        ["primitive", "kernel", "source", "note"],
        [
            (slot, choice.value.value, choice.source.citation, choice.note or "")
            for slot, choice in chosen.kernels
            if choice is not None
        ],
    )

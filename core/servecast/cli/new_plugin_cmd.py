"""`servecast new-plugin`: scaffold a plugin package that installs and passes its tests as generated."""

from __future__ import annotations

from pathlib import Path

import click

from servecast.scaffold.framework import framework_plugin_files
from servecast.scaffold.hardware import hardware_plugin_files
from servecast.scaffold.package import write_package


@click.group("new-plugin")
def new_plugin() -> None:
    """Scaffold a new plugin package."""


@new_plugin.command("hardware")
@click.argument("name")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Folder to create the package in.")
@click.option("--display-name", help="Human-readable system name, e.g. 'NVIDIA H200 SXM 141GB (HGX 8-GPU)'.")
def new_hardware_plugin(name: str, out: Path, display_name: str | None) -> None:
    """A hardware plugin for system NAME: spec to fill in, tables folder, README, contract test."""
    write_package(hardware_plugin_files(name, display_name), out)
    click.echo(f"wrote servecast-hardware-{name.replace('_', '-')} in {out}")
    click.echo(f"next: fill in {out}/servecast_hardware_{name}/data/{name}.toml, then `pip install -e {out}[test]`")


@new_plugin.command("framework")
@click.argument("name")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Folder to create the package in.")
@click.option("--display-name", help="Human-readable framework name, e.g. 'My Serve'.")
def new_framework_plugin(name: str, out: Path, display_name: str | None) -> None:
    """A framework plugin for serving framework NAME: spec to fill in, scheduler, README, contract test (no launch
    configs: add them when the framework's model is filled in)."""
    write_package(framework_plugin_files(name, display_name), out)
    click.echo(f"wrote servecast-{name.replace('_', '-')} in {out}")
    click.echo(f"next: fill in {out}/servecast_{name}/data/{name}.toml, then `pip install -e {out}[test]`")

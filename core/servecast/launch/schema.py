"""What a framework version's own parsers accept, and the check that a launch emits nothing else.

A schema snapshot lists, per command, the flags the version's argument parser accepts, the values it accepts for
those whose values it restricts (a `choices` list, a `Literal` type, or a check right after parsing) and, per
config argument, the keys it reads; `scripts/extract_launch_schemas.py` extracts it from the package the version
published on PyPI. A framework plugin ships one snapshot per modelled version and checks every launch against it,
so a flag or value the version does not have (renamed, not yet added, an internal name) is an error when the
artifacts are written, not when the user starts them on a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from importlib.resources import files

from pydantic import Field

from servecast.domain.base import FrozenModel
from servecast.errors import PluginError
from servecast.launch.artifacts import LaunchArtifacts


class SchemaSource(FrozenModel):
    """The published file a snapshot was read from."""

    name: str
    version: str
    file: str
    sha256: str


class CommandSchema(FrozenModel):
    """One command's accepted option strings and the values some of them accept, and the package files its parser
    was read from."""

    read: tuple[str, ...]
    flags: frozenset[str]
    choices: dict[str, frozenset[str]] = Field(
        default_factory=dict, description="Option string -> the values it accepts; options not listed take any."
    )


class LaunchSchema(FrozenModel):
    """The commands and config keys one framework version accepts."""

    framework: str
    version: str
    extracted_by: str
    packages: tuple[SchemaSource, ...] = Field(min_length=1)
    commands: dict[str, CommandSchema]
    config_keys: dict[str, frozenset[str]] = Field(default_factory=dict)

    @classmethod
    def shipped(cls, package: str, version: str) -> LaunchSchema | None:
        """The snapshot a plugin package ships for `version` (`<package>/data/cli/<version>.json`); None if none."""
        path = files(package) / "data" / "cli" / f"{version}.json"
        return cls.model_validate_json(path.read_text()) if path.is_file() else None

    def command_of(self, argv: Sequence[str]) -> str | None:
        """The snapshot command `argv` runs (its words lead argv; a path word may sit below any folder)."""
        matches = [name for name in self.commands if _runs(argv, name.split())]
        return max(matches, key=len, default=None)

    def unaccepted_flags(self, command: str, options: Sequence[str]) -> list[str]:
        """Option strings in `options` the command's parser does not accept (values and `-1` are not options)."""
        accepted = self.commands[command].flags
        return [item for item in options if _is_option(item) and item not in accepted]

    def accepts(self, command: str, flag: str, value: str) -> bool:
        """Whether the command's `flag` takes `value` (any value, where the snapshot lists none for it)."""
        choices = self.commands[command].choices.get(flag)
        return choices is None or value in choices

    def unaccepted_values(self, command: str, options: Sequence[str]) -> list[str]:
        """`flag value` pairs in `options` whose value the command's parser (or its check after parsing) rejects."""
        choices = self.commands[command].choices
        return [
            f"`{command}` {flag} takes no {value!r} (it takes {', '.join(sorted(choices[flag]))})"
            for flag, value in zip(options, options[1:], strict=False)
            if _is_option(flag) and not _is_option(value) and not self.accepts(command, flag, value)
        ]

    def unaccepted_config_keys(self, options: Sequence[str]) -> list[str]:
        """Top-level keys the version does not read in the JSON objects given to its config flags
        (`--compilation-config '{"cudagraph_capture_sizes": [...]}'` is checked against `compilation_config`)."""
        problems = []
        for flag, value in zip(options, options[1:], strict=False):
            config = flag.lstrip("-").replace("-", "_")
            if not _is_option(flag) or config not in self.config_keys:
                continue
            tree = json.loads(value) if value.startswith("{") else {}
            problems += [f"{flag} has no key {key!r}" for key in tree if key not in self.config_keys[config]]
        return problems

    @property
    def provenance(self) -> str:
        return ", ".join(package.file for package in self.packages)


def accepted_value(schema: LaunchSchema | None, command: str, flag: str, candidates: Sequence[str]) -> str | None:
    """The first of `candidates` the command's `flag` takes in the snapshot (the first of them without a snapshot
    or a list of the flag's values to ask); None when it takes none of them."""
    if schema is None or command not in schema.commands:
        return next(iter(candidates), None)
    return next((value for value in candidates if schema.accepts(command, flag, value)), None)


def _runs(argv: Sequence[str], words: Sequence[str]) -> bool:
    if len(argv) < len(words):
        return False
    return all(item == word or item.endswith("/" + word) for item, word in zip(argv, words, strict=False))


def _is_option(item: str) -> bool:
    if not item.startswith("-") or item == "-":
        return False
    try:
        float(item)
    except ValueError:
        return True
    return False


def check_launch(
    artifacts: LaunchArtifacts,
    schema: LaunchSchema | None,
    *,
    display_name: str,
    version: str,
    external: Collection[str] = (),
    missing_reason: str = "",
) -> LaunchArtifacts:
    """`artifacts` once every command, flag, flag value and config key in them is one the version accepts (values:
    where the snapshot lists a flag's choices; config keys: those of a JSON object given to a config flag such as
    `--compilation-config`); a PluginError naming each one it does not. Commands starting with an `external`
    prefix (another tool: Ray, mpirun, a script from a source checkout) are not the framework package's and are
    left unchecked, with a warning; with no snapshot, nothing is checked and the warning says why."""
    if schema is None:
        return _warned(artifacts, f"flags not checked against {display_name} {version}'s parser: {missing_reason}")
    problems: list[str] = []
    unchecked: list[str] = []
    for argv in (*(role.argv for role in artifacts.roles), *artifacts.benchmark):
        command = schema.command_of(argv)
        if command is not None:
            options = argv[len(command.split()) :]
            problems += [f"`{command}` has no {flag}" for flag in schema.unaccepted_flags(command, options)]
            problems += schema.unaccepted_values(command, options)
            problems += schema.unaccepted_config_keys(options)
        elif any(_runs(argv, prefix.split()) for prefix in external):
            unchecked.append(" ".join(argv[:2]))
        else:
            problems.append(f"`{' '.join(argv[:3])}` is not a command of the package")
    if problems:
        raise PluginError(
            f"{display_name} {version} would reject this launch: {'; '.join(sorted(set(problems)))} "
            f"(schema read from {schema.provenance})",
            "choose a framework version that supports this configuration, or fix the plugin's launch writer",
        )
    if unchecked:
        listed = ", ".join(sorted(set(unchecked)))
        return _warned(artifacts, f"not from the {display_name} package, so not checked against a parser: {listed}")
    return artifacts


def _warned(artifacts: LaunchArtifacts, warning: str) -> LaunchArtifacts:
    return artifacts.model_copy(update={"warnings": (*artifacts.warnings, warning)})

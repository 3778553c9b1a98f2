"""Named objects collected from plugins, remembering who provided each and which names collide."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from servecast.errors import InputError, PluginConflictError
from servecast.host.records import PluginRecord

T = TypeVar("T")


@dataclass(frozen=True)
class Registered(Generic[T]):
    """An object and the plugin that registered it."""

    name: str
    value: T
    owner: PluginRecord


class Registry(Generic[T]):
    """Objects of one kind (hardware, framework, …) by name; a name two plugins register is a conflict."""

    def __init__(self, kind: str, entries: list[Registered[T]]) -> None:
        self.kind = kind
        self._entries: dict[str, Registered[T]] = {}
        self._conflicts: dict[str, list[PluginRecord]] = {}
        for entry in entries:
            if entry.name in self._conflicts:
                self._conflicts[entry.name].append(entry.owner)
            elif entry.name in self._entries:
                self._conflicts[entry.name] = [self._entries.pop(entry.name).owner, entry.owner]
            else:
                self._entries[entry.name] = entry

    @property
    def conflicts(self) -> dict[str, tuple[PluginRecord, ...]]:
        """Names registered more than once, with every plugin that registered them."""
        return {name: tuple(owners) for name, owners in self._conflicts.items()}

    def conflict_message(self, name: str) -> str:
        """A sentence naming both (or all) distributions that register `name`."""
        owners = " and ".join(owner.origin for owner in self._conflicts[name])
        return f"{self.kind} {name!r} is registered by both {owners}"

    def _raise_conflict(self, name: str) -> None:
        plugins = ", ".join(owner.name for owner in self._conflicts[name])
        raise PluginConflictError(
            self.conflict_message(name),
            f"uninstall one of the distributions, or disable one plugin with --disable-plugin (one of: {plugins})",
        )

    def get(self, name: str) -> T:
        """The object registered as `name`; a clear error if unknown or registered twice."""
        return self.entry(name).value

    def entry(self, name: str) -> Registered[T]:
        """The object registered as `name` with its owner."""
        if name in self._conflicts:
            self._raise_conflict(name)
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or f"none (no {self.kind} plugin is installed)"
            raise InputError(
                f"unknown {self.kind} {name!r}; available: {known}",
                f"pick one of those, or install a plugin that provides {name!r} (`servecast plugins` lists them)",
            )
        return self._entries[name]

    def replacing(self, name: str, value: T) -> Registry[T]:
        """A copy with `name`'s object replaced by `value` (same owner)."""
        entry = self.entry(name)
        twin = Registry[T](self.kind, [])
        twin._entries = {**self._entries, name: Registered(name, value, entry.owner)}
        twin._conflicts = dict(self._conflicts)
        return twin

    def names(self) -> list[str]:
        """Names that resolve, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Registered[T]]:
        """Every entry, sorted by name; raises the conflict error if any name is registered twice."""
        for name in sorted(self._conflicts):
            self._raise_conflict(name)
        return iter(sorted(self._entries.values(), key=lambda entry: entry.name))

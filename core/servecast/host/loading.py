"""Loading one plugin in isolation: import, register, validate its hooks, run its registrations."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import ValidationError

from servecast import hookspecs
from servecast.domain.framework import FrameworkSpec
from servecast.domain.hardware import HardwareSpec
from servecast.errors import ServecastError
from servecast.host.discovery import PluginSource
from servecast.models.family import ModelFamily
from servecast.perfdb.table import PerfTableRef

HOOK_PREFIX = "servecast_"


@dataclass(frozen=True)
class RegistrationHook:
    """A collecting hook that registers named objects of one type."""

    hook: str
    kind: str
    check: Callable[[object], bool]
    expected: str


REGISTRATION_HOOKS = (
    RegistrationHook(
        "servecast_register_hardware",
        "hardware",
        lambda obj: isinstance(obj, HardwareSpec),
        "servecast.plugin.HardwareSpec (see servecast.plugin.load_hardware_spec)",
    ),
    RegistrationHook(
        "servecast_register_frameworks",
        "framework",
        lambda obj: isinstance(obj, FrameworkSpec),
        "servecast.plugin.FrameworkSpec (see servecast.plugin.load_framework_spec)",
    ),
    RegistrationHook(
        "servecast_register_perf_tables",
        "perf table",
        lambda obj: isinstance(obj, PerfTableRef),
        "servecast.plugin.PerfTableRef",
    ),
    RegistrationHook(
        "servecast_register_model_families",
        "model family",
        lambda obj: isinstance(obj, ModelFamily),
        "an object with name, architectures and build(config) (servecast.plugin.ModelFamily)",
    ),
)

SPEC_NAMES = tuple(name for name in dir(hookspecs) if name.startswith(HOOK_PREFIX))


class PluginFailure(Exception):
    """A plugin could not be loaded; carries the error and what the user can do."""

    def __init__(self, error: str, hint: str) -> None:
        super().__init__(error)
        self.error = error
        self.hint = hint


@dataclass
class LoadedPlugin:
    """A plugin that registered cleanly, with the objects it registered per hook."""

    source: PluginSource
    hooks: tuple[str, ...]
    registered: dict[str, list[object]] = field(default_factory=dict)


def remedy(name: str, distribution: str) -> str:
    """The generic advice for a plugin that does not work."""
    return (
        f"upgrade or reinstall {distribution} (its maintainers may need this error), "
        f"uninstall it (pip uninstall {distribution}), "
        f"or skip it with --disable-plugin {name} / SERVECAST_DISABLE_PLUGINS={name}"
    )


def _remedy_for(source: PluginSource) -> str:
    return remedy(source.name, source.distribution)


def load_plugin(pm: pluggy.PluginManager, source: PluginSource) -> LoadedPlugin:
    """Import, register and validate one plugin; on any failure it is left unregistered and PluginFailure raised."""
    try:
        plugin = source.load()
    except BaseException as error:  # a plugin's import may raise anything, SystemExit included
        if isinstance(error, KeyboardInterrupt):
            raise
        raise PluginFailure(f"import of {source.module} failed: {_describe(error)}", _remedy_for(source)) from error
    try:
        pm.register(plugin, name=source.name)
    except (pluggy.PluginValidationError, ValueError) as error:
        raise PluginFailure(f"hook validation failed: {_describe(error)}", _remedy_for(source)) from error
    try:
        _check_hook_names(pm, plugin, source)
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        loaded = LoadedPlugin(source=source, hooks=hooks)
        for registration in REGISTRATION_HOOKS:
            if registration.hook in hooks:
                loaded.registered[registration.hook] = _run_registration(pm, plugin, registration, source)
        return loaded
    except BaseException:
        pm.unregister(plugin)
        raise


def _check_hook_names(pm: pluggy.PluginManager, plugin: object, source: PluginSource) -> None:
    """Reject unknown `servecast_*` hooks, unmarked hook functions and wrappers, which pluggy lets through."""
    for caller in pm.get_hookcallers(plugin) or ():
        if caller.spec is None:
            close = difflib.get_close_matches(caller.name, SPEC_NAMES, n=1)
            suggestion = f"; did you mean {close[0]!r}?" if close else ""
            raise PluginFailure(
                f"implements {caller.name!r}, which is not a servecast hook{suggestion}",
                f"rename it to one of: {', '.join(SPEC_NAMES)} — or {_remedy_for(source)}",
            )
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper):
                raise PluginFailure(
                    f"{caller.name} is a hook wrapper; servecast hooks take plain implementations only",
                    f"drop wrapper=True/hookwrapper=True — or {_remedy_for(source)}",
                )
    marked = {caller.name for caller in pm.get_hookcallers(plugin) or ()}
    for name, _ in inspect.getmembers(plugin, callable):
        if name in SPEC_NAMES and name not in marked:
            raise PluginFailure(
                f"defines {name} without the @servecast.hookimpl decorator, so servecast would ignore it",
                f"decorate it with @servecast.hookimpl — or {_remedy_for(source)}",
            )


def _run_registration(
    pm: pluggy.PluginManager, plugin: object, registration: RegistrationHook, source: PluginSource
) -> list[object]:
    """Call one registration hook of one plugin and check what it returns."""
    caller = getattr(pm.hook, registration.hook)
    impl = next(impl for impl in caller.get_hookimpls() if impl.plugin is plugin)
    try:
        result: Any = impl.function()
    except ValidationError as error:
        raise PluginFailure(
            f"{registration.hook} raised a validation error: {_describe(error)}", _remedy_for(source)
        ) from error
    except Exception as error:
        raise PluginFailure(f"{registration.hook} raised {_describe(error)}", _remedy_for(source)) from error
    if not isinstance(result, Sequence) or isinstance(result, str | bytes):
        raise PluginFailure(
            f"{registration.hook} returned {type(result).__name__}, not a list of {registration.kind} objects",
            f"return a list (possibly empty) — or {_remedy_for(source)}",
        )
    for position, item in enumerate(result):
        if not registration.check(item):
            raise PluginFailure(
                f"{registration.hook} returned a {type(item).__name__} at position {position}, "
                f"expected {registration.expected}",
                _remedy_for(source),
            )
    return list(result)


def _describe(error: BaseException) -> str:
    """`ExceptionType: message`, on one line."""
    message = " ".join((error.message if isinstance(error, ServecastError) else str(error)).split())
    return f"{type(error).__name__}: {message}" if message else type(error).__name__

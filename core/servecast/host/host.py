"""PluginHost: the typed facade the rest of servecast uses instead of pluggy."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
from packaging.version import Version

from servecast import PROJECT_NAME, hookspecs
from servecast.disk_cache import DiskCache, code_fingerprint, file_digest
from servecast.domain.candidate import Candidate
from servecast.domain.framework import FrameworkSpec, FrameworkVersion
from servecast.domain.hardware import HardwareSpec
from servecast.domain.kernels import KernelChoices
from servecast.domain.target import Target
from servecast.domain.user_calibration import UserCalibration
from servecast.errors import InputError, PluginError, PluginLoadError
from servecast.estimate.layered import LayeredEstimator, TableGrids, default_estimator
from servecast.estimate.user_scaled import user_scaled
from servecast.host.discovery import PluginSource, builtin_plugins, discover_plugins
from servecast.host.loading import LoadedPlugin, PluginFailure, load_plugin, remedy
from servecast.host.placeholders import placeholder_warnings
from servecast.host.records import PluginRecord, PluginStatus
from servecast.host.registry import Registered, Registry
from servecast.host.settings import PluginSettings
from servecast.models.family import ModelFamily
from servecast.ops.estimator import OpEstimator, OpKind
from servecast.perfdb.loading import load_table
from servecast.perfdb.table import PerfTableRef

if TYPE_CHECKING:  # serving and launch build on the host: their classes are imported where a result is checked
    from servecast.launch.artifacts import Deployment, LaunchArtifacts
    from servecast.serving.policy import SchedulingPolicy


@dataclass(frozen=True)
class Veto:
    """A reason a plugin gave for rejecting a candidate."""

    plugin: str
    reason: str


class PluginHost:
    """Loads plugins once, in isolation, and answers the core's questions about them.

    Registration hooks run at load time; firstresult hooks are resolved once per argument and cached, so the
    search never calls into pluggy in its inner loop.
    """

    def __init__(self, sources: Iterable[PluginSource], settings: PluginSettings | None = None) -> None:
        self.settings = settings or PluginSettings()
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        sources = list(sources)
        self._records: list[PluginRecord] = []
        loaded: list[LoadedPlugin] = []
        taken: dict[str, PluginRecord] = {}
        for source in sources:
            record, plugin = self._load(source, taken)
            if plugin is not None:
                loaded.append(plugin)
                taken[source.name] = record
            self._records.append(record)
        self._pm.check_pending()
        self._build_registries(loaded)
        known = {source.name for source in sources}
        self.warnings = tuple(
            f"--disable-plugin {name!r}: no installed plugin has that name (installed: {', '.join(sorted(known))})"
            for name in sorted(self.settings.disabled - known)
        ) + placeholder_warnings({"hardware show": self.hardware, "frameworks show": self.frameworks})
        self._estimators: dict[tuple[OpKind, Target], OpEstimator] = {}
        self._schedulers: dict[Target, SchedulingPolicy] = {}
        self._replaced_frameworks: frozenset[str] = frozenset()
        self.user_calibration: UserCalibration | None = None
        self._tables: dict[tuple[str, str | None, str | None, OpKind], TableGrids] = {}
        self._raise_if_strict()

    @classmethod
    def from_entry_points(cls, settings: PluginSettings | None = None, path: Sequence[str] | None = None) -> PluginHost:
        """A host over the core's own plugin and every installed plugin (or those of the distributions on `path`)."""
        return cls([*builtin_plugins(), *discover_plugins(path)], settings)

    # -- loading ---------------------------------------------------------------------------------------------

    def _load(self, source: PluginSource, taken: dict[str, PluginRecord]) -> tuple[PluginRecord, LoadedPlugin | None]:
        """Load one plugin unless it is disabled or its name is taken; never raises for a broken plugin."""
        record = PluginRecord(
            name=source.name,
            distribution=source.distribution,
            version=source.version,
            module=source.module,
            status=PluginStatus.DISABLED,
        )
        if source.name in self.settings.disabled:
            return record, None
        if source.name in taken:
            failed = replace(
                record,
                status=PluginStatus.FAILED,
                error=f"plugin name {source.name!r} is already taken by {taken[source.name].origin}",
                hint=f"uninstall one of {taken[source.name].distribution} and {source.distribution}",
            )
            return failed, None
        try:
            plugin = load_plugin(self._pm, source)
        except PluginFailure as failure:
            return replace(record, status=PluginStatus.FAILED, error=failure.error, hint=failure.hint), None
        return replace(record, status=PluginStatus.OK, hooks=plugin.hooks), plugin

    def _build_registries(self, loaded: list[LoadedPlugin]) -> None:
        owners = {record.name: record for record in self._records if record.status is PluginStatus.OK}

        def entries(hook: str, name_of: Callable[[Any], str]) -> list[Registered[Any]]:
            return [
                Registered(name_of(obj), obj, owners[plugin.source.name])
                for plugin in loaded
                for obj in plugin.registered.get(hook, ())
            ]

        self.hardware: Registry[HardwareSpec] = Registry(
            "hardware", entries("servecast_register_hardware", lambda spec: spec.name)
        )
        self.frameworks: Registry[FrameworkSpec] = Registry(
            "framework", entries("servecast_register_frameworks", lambda spec: spec.name)
        )
        self.perf_tables: Registry[PerfTableRef] = Registry(
            "perf table", entries("servecast_register_perf_tables", lambda ref: ref.name)
        )
        families = entries("servecast_register_model_families", lambda family: family.name)
        self.model_families: Registry[ModelFamily] = Registry("model family", families)
        self.architectures: Registry[ModelFamily] = Registry(
            "architecture",
            [replace(entry, name=arch) for entry in families for arch in entry.value.architectures],
        )
        conflicts: dict[str, list[str]] = {}
        for registry in (
            self.hardware,
            self.frameworks,
            self.perf_tables,
            self.model_families,
            self.architectures,
        ):
            for name, plugins in registry.conflicts.items():
                for plugin in plugins:
                    conflicts.setdefault(plugin.name, []).append(registry.conflict_message(name))
        self._records = [replace(r, conflicts=tuple(conflicts.get(r.name, ()))) for r in self._records]

    def _raise_if_strict(self) -> None:
        if not self.settings.strict:
            return
        problems = [f"{r.origin}: {r.error}" for r in self._records if r.status is PluginStatus.FAILED]
        problems += sorted({conflict for r in self._records for conflict in r.conflicts})
        if problems:
            raise PluginLoadError(problems)

    # -- what was loaded -------------------------------------------------------------------------------------

    @property
    def records(self) -> tuple[PluginRecord, ...]:
        """Every discovered plugin, loaded or not, sorted by name."""
        return tuple(sorted(self._records, key=lambda record: (record.name, record.distribution)))

    def record(self, name: str) -> PluginRecord:
        """The record of the loaded plugin called `name`."""
        for record in self._records:
            if record.name == name and record.status is PluginStatus.OK:
                return record
        raise KeyError(name)

    def framework_version(self, framework: str, version: str | None = None) -> FrameworkVersion:
        """A modelled version of `framework` (the newest when `version` is None); a clear input error otherwise."""
        spec = self.frameworks.get(framework)
        if version is None:
            return spec.latest
        try:
            return spec.version(version)
        except KeyError as error:
            raise InputError(str(error.args[0]), f"pick one of the modelled versions of {framework}") from None

    def nearest_framework_version(self, framework: str, version: str | None) -> tuple[FrameworkVersion, str | None]:
        """The modelled version that stands for release `version` (the newest when None), with a note naming it
        when it is another one (`FrameworkSpec.resolve`); a clear input error when `version` is no version."""
        spec = self.frameworks.get(framework)
        if version is None:
            return spec.latest, None
        try:
            return spec.resolve(version)
        except ValueError as error:
            raise InputError(
                str(error.args[0]), f"give a release such as {spec.latest.version} (or 1.0.0rc3, 0.6.3.post1)"
            ) from None

    def with_framework(self, spec: FrameworkSpec) -> PluginHost:
        """A copy whose framework `spec.name` is `spec` (a what-if: other overheads, say), caches empty. Policies
        built from the spec's knobs (`KnobSchedulingPolicy`) read the replacement; others stay the plugin's."""
        if spec.name not in self.frameworks:
            raise InputError(f"unknown framework {spec.name!r}", "replace a registered framework")
        twin = copy.copy(self)
        twin.frameworks = self.frameworks.replacing(spec.name, spec)
        twin._replaced_frameworks = self._replaced_frameworks | {spec.name}
        twin._estimators, twin._schedulers = {}, {}
        return twin

    def with_hardware(self, spec: HardwareSpec) -> PluginHost:
        """A copy whose system `spec.name` is `spec` (a what-if: other calibration values, say), caches empty."""
        if spec.name not in self.hardware:
            raise InputError(f"unknown hardware {spec.name!r}", "replace a registered system")
        twin = copy.copy(self)
        twin.hardware = self.hardware.replacing(spec.name, spec)
        twin._estimators, twin._schedulers = {}, {}
        return twin

    def with_user_calibration(self, calibration: UserCalibration | None) -> PluginHost:
        """A copy whose estimates for the calibration's system, framework and version carry its corrections (the
        kernel speeds, front-end and iteration costs, memory reserve it fits), caches empty; None removes it."""
        if calibration is not None:
            if calibration.system not in self.hardware:
                raise InputError(
                    f"the calibration is for system {calibration.system!r}, which no installed plugin describes",
                    "install its hardware plugin, or calibrate on a system `servecast hardware list` shows",
                )
            for version in calibration.framework_versions:
                self.framework_version(calibration.framework, version)
        twin = copy.copy(self)
        twin.user_calibration = calibration
        twin._estimators, twin._schedulers = {}, {}
        return twin

    def calibrated_release(self, system: str, framework: str) -> str | None:
        """The newest framework version the user calibration was fitted on, where it is for `framework` on `system`:
        the version a command that is not told one estimates (the version the user runs)."""
        calibration = self.user_calibration
        if calibration is None or (calibration.system, calibration.framework) != (system, framework):
            return None
        return max(calibration.framework_versions, key=Version)

    def user_calibration_covers(self, target: Target) -> bool:
        """Whether the user calibration was fitted on `target`'s system, framework and (modelled) version."""
        calibration = self.user_calibration
        if calibration is None or target.hardware != calibration.system or target.framework != calibration.framework:
            return False
        modelled, _ = self.nearest_framework_version(target.framework, target.framework_version)
        return modelled.version in calibration.framework_versions

    # -- firstresult hooks, resolved once per argument ------------------------------------------------------

    def op_estimator(self, op: OpKind, target: Target) -> OpEstimator:
        """The estimator for `op` on `target` (cached): a plugin's own model if one answers the hook, else the
        core's layered default over the registered tables and the system's calibration."""
        key = (op, target)
        if key not in self._estimators:
            estimator: OpEstimator | None = self._first_result(
                "servecast_op_estimator", {"op": op, "target": target}, OpEstimator, "an OpEstimator"
            )
            estimator = estimator or self.default_estimator(op, target)
            if self.user_calibration is not None and self.user_calibration_covers(target):
                estimator = user_scaled(op, estimator, self.user_calibration)
            self._estimators[key] = estimator
        return self._estimators[key]

    def default_estimator(self, op: OpKind, target: Target) -> LayeredEstimator:
        """Measured tables (the framework version's kernels first, then the system's), the calibrated roofline
        for the framework's kernel choices, and the pure roofline."""
        if target.hardware not in self.hardware:
            raise PluginError(
                f"no installed plugin estimates {op.value!r} on {target}: no hardware plugin describes "
                f"{target.hardware!r} (installed systems: {', '.join(self.hardware.names()) or 'none'})",
                "install the hardware plugin for this system (`servecast plugins` lists what is installed)",
            )
        hardware = self.hardware.get(target.hardware)
        kernels = KernelChoices()
        keys: list[tuple[str, str | None, str | None, OpKind]] = []
        if target.framework is not None:
            version = self.framework_version(target.framework, target.framework_version)
            kernels = version.kernels
            keys.append((target.hardware, target.framework, version.version, op))
        keys.append((target.hardware, None, None, op))
        refs = {entry.value.key: entry.value for entry in self.perf_tables}
        tables = [self._table(refs[key]) for key in keys if key in refs]
        return default_estimator(op, hardware, kernels, tables)

    def _table(self, ref: PerfTableRef) -> TableGrids:
        """A registered table, read and validated once however many targets use it (and kept on disk, parsed, until
        its files or servecast's change)."""
        if ref.key not in self._tables:
            try:
                files = [file_digest(Path(path)) for path in (ref.csv_path, ref.metadata_path)]
            except OSError:  # a missing file: reading it says so
                self._tables[ref.key] = load_table(ref)
            else:
                key = (code_fingerprint(), ref, *files)
                self._tables[ref.key] = DiskCache.default().fetch("measured-tables", key, partial(load_table, ref))
        return self._tables[ref.key]

    def scheduler(self, target: Target) -> SchedulingPolicy:
        """The scheduling policy of the target's framework version (cached); an InputError for a version its
        framework's spec does not model, before any plugin is asked."""
        # imported here, not at the top: serving builds on the host
        from servecast.serving.policy import KnobSchedulingPolicy, SchedulingPolicy
        from servecast.serving.user_calibrated import UserCalibratedPolicy

        if target not in self._schedulers:
            if target.framework is not None and target.framework in self.frameworks:
                self.framework_version(target.framework, target.framework_version)
            policy: SchedulingPolicy | None = self._first_result(
                "servecast_scheduler", {"target": target}, SchedulingPolicy, "a SchedulingPolicy"
            )
            if policy is None:
                raise PluginError(
                    f"no installed plugin provides the scheduling policy for {target}",
                    f"install the servecast plugin for {target.framework or 'the framework'}",
                )
            if target.framework in self._replaced_frameworks and isinstance(policy, KnobSchedulingPolicy):
                # a what-if spec: the plugin's policy, reading the replaced version's knobs and overheads
                spec = self.frameworks.get(target.framework)
                policy = type(policy)(policy.target, spec.version(policy.version.version))
            if self.user_calibration is not None and self.user_calibration_covers(target):
                policy = UserCalibratedPolicy(policy, self.user_calibration)
            self._schedulers[target] = policy
        return self._schedulers[target]

    def launch_config(self, deployment: Deployment, target: Target) -> LaunchArtifacts:
        """The launch artifacts of `deployment`, from the plugin of the target's framework."""
        # imported here, not at the top: launch builds on the host
        from servecast.launch.artifacts import LaunchArtifacts

        artifacts: LaunchArtifacts | None = self._first_result(
            "servecast_launch_config",
            {"deployment": deployment, "target": target},
            LaunchArtifacts,
            "LaunchArtifacts",
        )
        if artifacts is None:
            raise PluginError(
                f"no installed plugin writes launch configs for {target}",
                f"install the servecast plugin for {target.framework or 'the framework'}",
            )
        return artifacts

    # -- collecting hooks ----------------------------------------------------------------------------------

    def check_candidate(self, candidate: Candidate, target: Target) -> tuple[Veto, ...]:
        """Every reason any plugin gives for rejecting `candidate` on `target` (empty: it may run)."""
        vetoes: list[Veto] = []
        for impl, result in self._call_each("servecast_check_candidate", {"candidate": candidate, "target": target}):
            if result is None:
                continue
            if (
                not isinstance(result, Sequence)
                or isinstance(result, str)
                or not all(isinstance(reason, str) for reason in result)
            ):
                raise self._broken(impl, "servecast_check_candidate", f"returned {result!r}, not a list of reasons")
            vetoes += [Veto(impl.plugin_name, reason) for reason in result]
        return tuple(vetoes)

    # -- calling plugins safely ----------------------------------------------------------------------------

    def _first_result(self, hook: str, kwargs: dict[str, Any], expected: type, what: str) -> Any:
        """The first non-None answer, checked to be an instance of `expected` (a class or runtime protocol)."""
        for impl, result in self._call_each(hook, kwargs):
            if result is None:
                continue
            if not isinstance(result, expected):
                raise self._broken(impl, hook, f"returned a {type(result).__name__}, expected {what}")
            return result
        return None

    def _call_each(self, hook: str, kwargs: dict[str, Any]) -> Iterable[tuple[pluggy.HookImpl, object]]:
        """Call a hook's implementations in pluggy's order, one at a time, so a failure names its plugin. An
        InputError a plugin raises is its answer (the user must change something), not a sign that it is broken."""
        for impl in reversed(getattr(self._pm.hook, hook).get_hookimpls()):
            try:
                yield impl, impl.function(*(kwargs[name] for name in impl.argnames))
            except (PluginError, InputError):
                raise
            except Exception as error:
                raise self._broken(impl, hook, f"raised {type(error).__name__}: {error}") from error

    def _broken(self, impl: pluggy.HookImpl, hook: str, problem: str) -> PluginError:
        record = self.record(impl.plugin_name)
        return PluginError(f"plugin {record.origin}: {hook} {problem}", remedy(record.name, record.distribution))

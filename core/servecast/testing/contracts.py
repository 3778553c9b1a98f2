"""Contract checks every plugin, hardware plugin and framework plugin must pass."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import ClassVar

from servecast.domain import FrameworkSpec, HardwareSpec, KnobMeaning, SourceKind
from servecast.domain.framework import MEMORY_FRACTION_MEANINGS
from servecast.domain.target import Target
from servecast.host import PluginHost, PluginSettings, PluginStatus, discover_plugins

FORBIDDEN_IMPORTS = ("torch", "vllm", "sglang", "tensorrt_llm")
"""Modules a plugin must never import: plugins model frameworks, they do not run them."""

_IMPORT_PROBE = """
import json, sys
from servecast.host import PluginHost, discover_plugins
sources = [s for s in discover_plugins() if s.name == {name!r} and s.distribution == {distribution!r}]
host = PluginHost(sources)
print(json.dumps({{"loaded": [m for m in {forbidden!r} if m in sys.modules],
                   "status": [r.status.value for r in host.records]}}))
"""


class PluginContract:
    """Checks for any servecast plugin. Subclasses set `plugin_name` and `distribution`."""

    plugin_name: ClassVar[str]
    distribution: ClassVar[str]

    def load_host(self) -> PluginHost:
        """A fresh host holding only this plugin, loaded through its installed entry point."""
        sources = [
            source
            for source in discover_plugins()
            if source.name == self.plugin_name and source.distribution == self.distribution
        ]
        assert sources, (
            f"no entry point {self.plugin_name!r} from distribution {self.distribution!r} in group 'servecast'; "
            "is the plugin installed (pip install -e .) and its [project.entry-points.servecast] table right?"
        )
        return PluginHost(sources, PluginSettings())

    def test_is_discoverable_through_its_entry_point(self) -> None:
        matches = [source for source in discover_plugins() if source.name == self.plugin_name]
        assert [source.distribution for source in matches] == [self.distribution]

    def test_loads_and_registers_without_error(self) -> None:
        (record,) = self.load_host().records
        assert record.status is PluginStatus.OK, f"{record.error}\n  what to do: {record.hint}"
        assert record.hooks, "the plugin implements no servecast hook"

    def test_registration_is_deterministic(self) -> None:
        assert self.registered_snapshot(self.load_host()) == self.registered_snapshot(self.load_host())

    def test_importing_it_does_not_import_frameworks_or_torch(self) -> None:
        probe = _IMPORT_PROBE.format(name=self.plugin_name, distribution=self.distribution, forbidden=FORBIDDEN_IMPORTS)
        completed = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120
        )
        assert completed.returncode == 0, completed.stderr
        outcome = json.loads(completed.stdout.strip().splitlines()[-1])
        assert outcome["status"] == ["ok"]
        assert outcome["loaded"] == [], f"loading the plugin imported {outcome['loaded']}"

    @staticmethod
    def registered_snapshot(host: PluginHost) -> dict[str, list[object]]:
        """Everything the host's plugins registered, as plain data."""
        return {
            "hardware": [entry.value.model_dump(mode="json") for entry in host.hardware],
            "frameworks": [entry.value.model_dump(mode="json") for entry in host.frameworks],
            "perf_tables": [entry.value.model_dump(mode="json") for entry in host.perf_tables],
            "model_families": [(entry.name, entry.value.architectures) for entry in host.model_families],
        }


class HardwarePluginContract(PluginContract):
    """Checks for a hardware plugin. Subclasses also set `hardware_names`."""

    hardware_names: ClassVar[tuple[str, ...]]

    def hardware_specs(self) -> list[HardwareSpec]:
        """The specs this plugin registers."""
        return [entry.value for entry in self.load_host().hardware]

    def test_registers_its_hardware(self) -> None:
        assert sorted(spec.name for spec in self.hardware_specs()) == sorted(self.hardware_names)

    def test_specs_survive_a_round_trip_through_json(self) -> None:
        for spec in self.hardware_specs():
            assert HardwareSpec.model_validate_json(spec.model_dump_json()) == spec

    def test_figures_have_plausible_units(self) -> None:
        for spec in self.hardware_specs():
            gpu = spec.gpu
            flops_per_byte = max(gpu.dense_tensor_flops_per_s.values()) / gpu.mem_bw_bytes_per_s
            assert 10 < flops_per_byte < 10_000, f"{spec.name}: peak FLOP/s per HBM byte/s = {flops_per_byte:.0f}"
            assert gpu.mem_bw_bytes_per_s > spec.node.intra_node_bw_bytes_per_s, f"{spec.name}: NVLink > HBM?"
            assert spec.node.intra_node_bw_bytes_per_s >= spec.node.inter_node_bw_bytes_per_s
            assert spec.node.intra_node_latency_s <= spec.node.inter_node_latency_s
            seconds_to_read_memory = gpu.memory_bytes / gpu.mem_bw_bytes_per_s
            assert 1e-3 < seconds_to_read_memory < 1.0, f"{spec.name}: whole memory read in {seconds_to_read_memory}s"

    def test_every_figure_names_a_source(self) -> None:
        for spec in self.hardware_specs():
            assert set(spec.provenance) == set(spec.figure_paths())
            for path, provenance in spec.provenance.items():
                if provenance.source.kind is SourceKind.ASSUMPTION:
                    assert provenance.source.note or provenance.note, f"{spec.name} {path}: say why it is plausible"


class FrameworkPluginContract(PluginContract):
    """Checks for a framework plugin. Subclasses also set `framework_names`."""

    framework_names: ClassVar[tuple[str, ...]]

    _MEMORY_MEANINGS = frozenset(MEMORY_FRACTION_MEANINGS)
    _TOKEN_BUDGET_MEANINGS = frozenset(
        {KnobMeaning.MAX_NUM_TOKENS, KnobMeaning.MAX_PREFILL_TOKENS, KnobMeaning.CHUNKED_PREFILL_SIZE}
    )

    def framework_specs(self) -> list[FrameworkSpec]:
        """The specs this plugin registers."""
        return [entry.value for entry in self.load_host().frameworks]

    def test_registers_its_frameworks(self) -> None:
        assert sorted(spec.name for spec in self.framework_specs()) == sorted(self.framework_names)

    def test_specs_survive_a_round_trip_through_json(self) -> None:
        for spec in self.framework_specs():
            assert FrameworkSpec.model_validate_json(spec.model_dump_json()) == spec

    def test_every_version_documents_memory_batch_and_token_budget_knobs(self) -> None:
        for spec in self.framework_specs():
            for version in spec.versions:
                meanings = {knob.meaning for knob in version.knobs}
                where = f"{spec.name} {version.version}"
                assert meanings & self._MEMORY_MEANINGS, f"{where}: no memory-fraction knob"
                assert KnobMeaning.MAX_BATCH_SIZE in meanings, f"{where}: no max-batch-size knob"
                assert meanings & self._TOKEN_BUDGET_MEANINGS, f"{where}: no token-budget knob"

    def test_every_version_declares_its_attention_all_reduce_and_moe_kernels(self) -> None:
        for spec in self.framework_specs():
            for version in spec.versions:
                kernels = version.kernels
                missing = [slot for slot in ("attention", "all_reduce", "moe") if getattr(kernels, slot) is None]
                assert not missing, f"{spec.name} {version.version}: no [versions.kernels] {', '.join(missing)}"

    def test_every_version_describes_its_scheduler_and_answers_the_scheduler_hook(self) -> None:
        host = self.load_host()
        for spec in self.framework_specs():
            for version in spec.versions:
                where = f"{spec.name} {version.version}"
                assert version.scheduling is not None, f"{where}: no [versions.scheduling] table"
                target = Target(hardware="any", framework=spec.name, framework_version=version.version)
                assert host.scheduler(target).target == target, f"{where}: the policy names another target"

    def test_knob_defaults_are_plausible(self) -> None:
        for spec in self.framework_specs():
            for version in spec.versions:
                for knob in version.knobs:
                    where = f"{spec.name} {version.version} {knob.name}={knob.default!r}"
                    if knob.default is None:
                        continue
                    if knob.meaning in self._MEMORY_MEANINGS:
                        assert isinstance(knob.default, float) and 0 < knob.default <= 1, where
                    if knob.meaning in {KnobMeaning.MAX_BATCH_SIZE, KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE}:
                        assert isinstance(knob.default, int) and 0 < knob.default <= 1 << 16, where
                    if knob.meaning in self._TOKEN_BUDGET_MEANINGS:
                        assert isinstance(knob.default, int) and (knob.default == -1 or knob.default > 0), where

    def test_knobs_cite_the_frameworks_own_material(self) -> None:
        for spec in self.framework_specs():
            for version in spec.versions:
                for knob in version.knobs:
                    assert knob.source.kind in {SourceKind.DOCUMENTATION, SourceKind.SOURCE_CODE}, knob.name
                    assert knob.source.url, f"{spec.name} {version.version} {knob.name}: source has no URL"

"""Fixtures: fake plugin distributions on a private path, so no test sees the developer's installed plugins."""

from __future__ import annotations

import datetime as dt
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from servecast.domain.user_calibration import UserCalibration
from servecast.host import PluginHost, PluginSettings, discover_plugins

H100_LIKE_TOML = textwrap.dedent(
    """
    schema_version = 1
    name = "{name}"
    display_name = "Test GPU {name}"

    [sources.sheet]
    kind = "datasheet"
    citation = "a test datasheet"

    [gpu]
    memory_bytes = {{ value = 85_899_345_920, source = "sheet" }}
    mem_bw_bytes_per_s = {{ value = 3.35e12, source = "sheet" }}
    sm_count = {{ value = 132, source = "sheet" }}
    l2_cache_bytes = {{ value = 52_428_800, source = "sheet" }}

    [gpu.dense_tensor_flops_per_s]
    bf16 = {{ value = 989.4e12, source = "sheet" }}

    [node]
    gpus_per_node = {{ value = 8, source = "sheet" }}
    intra_node_bw_bytes_per_s = {{ value = 450e9, source = "sheet" }}
    intra_node_latency_s = {{ value = 2e-6, source = "sheet" }}
    inter_node_bw_bytes_per_s = {{ value = 50e9, source = "sheet" }}
    inter_node_latency_s = {{ value = 5e-6, source = "sheet" }}
    """
)


FRAMEWORK_TOML = textwrap.dedent(
    """
    schema_version = 1
    name = "toyserve"
    display_name = "ToyServe"

    [sources.docs-1]
    kind = "documentation"
    citation = "ToyServe 1.0 docs"
    url = "https://example.org/1.0"

    [sources.docs-2]
    kind = "source_code"
    citation = "ToyServe 2.0 args.py"
    url = "https://example.org/2.0/args.py"

    [[versions]]
    version = "1.0.0"
    released = 2025-01-31
    notes = "first"
    [versions.capabilities]
    parallel_modes = ["tp", "pp"]
    quantizations = ["bf16", "fp8"]
    kv_cache_dtypes = ["bf16"]
    serving_modes = ["static", "agg"]
    [versions.knobs.mem]
    meaning = "gpu_memory_fraction"
    flag = "--mem"
    default = 0.9
    description = "memory fraction"
    source = "docs-1"
    [versions.knobs.max_seqs]
    meaning = "max_batch_size"
    flag = "--max-seqs"
    default = 256
    description = "most sequences"
    source = "docs-1"
    [versions.knobs.eager]
    meaning = "cuda_graph"
    flag = "--eager"
    negates = true
    default = false
    description = "no CUDA graphs"
    source = "docs-1"

    [[versions]]
    version = "2.0.0"
    extends = "1.0.0"
    [versions.capabilities]
    serving_modes = ["static", "agg", "disagg"]
    [versions.knobs.max_seqs]
    default = 1024
    source = "docs-2"
    [versions.knobs.eager]
    removed = true
    [versions.knobs.budget]
    meaning = "max_num_tokens"
    config_key = "scheduler.budget"
    default_note = "8192 on GPUs with 70 GiB or more, else 2048"
    description = "token budget"
    source = "docs-2"
    """
)


@dataclass
class FakeSite:
    """A directory of fake distributions, each with `servecast` entry points pointing at generated modules."""

    root: Path
    modules: list[str] = field(default_factory=list)

    def add_plugin(self, name: str, source: str, distribution: str | None = None, version: str = "1.0") -> str:
        """Write a module with `source` and a distribution whose entry point `name` loads it; returns the module."""
        module = f"fake_{name}_{uuid.uuid4().hex[:8]}"
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        distribution = distribution or f"fake-{name}"
        dist_info = self.root / f"{distribution.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(exist_ok=True)
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        entry_points = dist_info / "entry_points.txt"
        existing = entry_points.read_text() if entry_points.exists() else "[servecast]\n"
        entry_points.write_text(existing + f"{name} = {module}\n")
        self.modules.append(module)
        return module

    def add_spec_plugin(
        self, name: str, hook: str, loader: str, spec_toml: str, distribution: str | None = None
    ) -> str:
        """A plugin whose registration `hook` returns the spec `loader` reads from `spec_toml`."""
        data = self.root / f"{name}_{uuid.uuid4().hex[:6]}.toml"
        data.write_text(spec_toml)
        return self.add_plugin(
            name,
            f"""
            from servecast import hookimpl
            from servecast.specfiles import {loader}

            @hookimpl
            def {hook}():
                return [{loader}({str(data)!r})]
            """,
            distribution,
        )

    def add_hardware_plugin(self, name: str, hardware: str, distribution: str | None = None) -> str:
        """A plugin registering one valid hardware spec called `hardware`."""
        spec = H100_LIKE_TOML.format(name=hardware)
        return self.add_spec_plugin(name, "servecast_register_hardware", "load_hardware_spec", spec, distribution)

    def add_framework_plugin(self, name: str, spec_toml: str) -> str:
        """A plugin registering the framework spec written in `spec_toml`."""
        return self.add_spec_plugin(name, "servecast_register_frameworks", "load_framework_spec", spec_toml)

    def host(self, settings: PluginSettings | None = None) -> PluginHost:
        """A fresh host over exactly the fake distributions."""
        return PluginHost(discover_plugins([str(self.root)]), settings)


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """Fake distributions importable from a private path; their modules are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    site = FakeSite(tmp_path)
    yield site
    for module in site.modules:
        sys.modules.pop(module, None)


@pytest.fixture(autouse=True)
def _no_plugin_settings_from_the_developer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's SERVECAST_* variables must not change what tests see."""
    monkeypatch.delenv("SERVECAST_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("SERVECAST_DISABLE_PLUGINS", raising=False)


@pytest.fixture
def run_cli(fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run the CLI in-process over the fake site only."""
    import servecast.host
    from servecast.cli import cli

    monkeypatch.setattr(servecast.host, "discover_plugins", lambda: discover_plugins([str(fake_site.root)]))

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def make_user_calibration() -> Callable[..., UserCalibration]:
    """A factory of user calibrations of vLLM 0.11.0 on h100_sxm: `changes` replace any field (nothing fitted, no
    errors by default)."""

    def make(**changes: object) -> UserCalibration:
        fields: dict[str, object] = {
            "system": "h100_sxm",
            "framework": "vllm",
            "framework_versions": ("0.11.0",),
            "fitted_by": "a test",
            "fitted_on": dt.date(2026, 12, 7),
            "data": ("runs.json",),
            "rows": 12,
            "parameters": {},
            "errors": {},
            "mape": {},
        }
        return UserCalibration.model_validate(fields | changes)

    return make

"""The public contract suite passes healthy plugins and fails broken ones."""

from __future__ import annotations

import inspect

import pytest

from servecast import testing
from servecast.testing import HardwarePluginContract, PluginContract


@pytest.fixture
def on_path(fake_site, monkeypatch):
    """The fake site is also visible to subprocesses (the import probe runs in one)."""
    monkeypatch.setenv("PYTHONPATH", str(fake_site.root))
    return fake_site


def contract_for(plugin: str, distribution: str, hardware: tuple[str, ...]) -> HardwarePluginContract:
    contract = type(
        "Contract",
        (HardwarePluginContract,),
        {"plugin_name": plugin, "distribution": distribution, "hardware_names": hardware},
    )
    return contract()


def run_all(contract: PluginContract) -> None:
    for name, check in inspect.getmembers(contract, inspect.ismethod):
        if name.startswith("test_"):
            check()


def test_contract_classes_are_not_collected_by_pytest_on_their_own():
    assert not [name for name in testing.__all__ if name.startswith("Test")]


def test_a_healthy_hardware_plugin_passes_every_check(on_path):
    on_path.add_hardware_plugin("acme", "acme_gpu", distribution="acme-gpus")
    run_all(contract_for("acme", "acme-gpus", ("acme_gpu",)))


def test_a_plugin_that_fails_to_load_fails_the_contract(on_path):
    on_path.add_plugin("broken", "raise ImportError('missing data')\n", distribution="broken-dist")
    contract = contract_for("broken", "broken-dist", ())
    with pytest.raises(AssertionError, match="missing data"):
        contract.test_loads_and_registers_without_error()


def test_a_plugin_that_imports_torch_fails_the_contract(on_path):
    (on_path.root / "torch.py").write_text("")
    on_path.add_plugin("heavy", "import torch\n", distribution="heavy-dist")
    with pytest.raises(AssertionError, match="imported \\['torch'\\]"):
        contract_for("heavy", "heavy-dist", ()).test_importing_it_does_not_import_frameworks_or_torch()


def test_a_plugin_registering_other_hardware_than_promised_fails_the_contract(on_path):
    on_path.add_hardware_plugin("acme", "acme_gpu", distribution="acme-gpus")
    with pytest.raises(AssertionError):
        contract_for("acme", "acme-gpus", ("acme_gpu", "acme_gpu_2")).test_registers_its_hardware()

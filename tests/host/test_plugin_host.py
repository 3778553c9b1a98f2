"""The plugin host loads plugins in isolation, reports failures usefully, and detects conflicts."""

from __future__ import annotations

import sys

import pytest

from servecast.domain import Target
from servecast.errors import InputError, PluginConflictError, PluginError, PluginLoadError
from servecast.host import PluginSettings, PluginStatus
from servecast.ops import OpEstimate, OpKind

GOOD_ESTIMATOR = """
    import numpy as np
    from servecast import hookimpl
    from servecast.ops import OpEstimate

    CALLS = []

    def estimate(shapes):
        n = len(next(iter(shapes.values())))
        return OpEstimate(np.ones(n), np.zeros(n, dtype=np.int8))

    @hookimpl
    def servecast_op_estimator(op, target):
        CALLS.append((op, target))
        return estimate
"""


def statuses(host):
    return {record.name: record.status for record in host.records}


def the_failure(host):
    """The error of the host's only plugin, which must have failed to load."""
    (record,) = host.records
    assert record.status is PluginStatus.FAILED
    return record.error


def test_a_valid_plugin_loads_and_its_hardware_is_registered(fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu", distribution="acme-gpus")
    host = fake_site.host()
    (record,) = host.records
    assert (record.name, record.distribution, record.version, record.status) == (
        "acme",
        "acme-gpus",
        "1.0",
        PluginStatus.OK,
    )
    assert record.hooks == ("servecast_register_hardware",)
    assert host.hardware.names() == ["acme_gpu"]
    assert host.hardware.entry("acme_gpu").owner.distribution == "acme-gpus"


def test_a_plugin_that_fails_to_import_is_reported_and_skipped(fake_site):
    fake_site.add_plugin("broken", "import module_that_does_not_exist\n", distribution="broken-dist", version="2.3")
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    host = fake_site.host()
    broken = next(record for record in host.records if record.name == "broken")
    assert broken.status is PluginStatus.FAILED
    assert (broken.distribution, broken.version) == ("broken-dist", "2.3")
    assert "ModuleNotFoundError" in broken.error and "module_that_does_not_exist" in broken.error
    assert "--disable-plugin broken" in broken.hint and "pip uninstall broken-dist" in broken.hint
    assert host.hardware.names() == ["acme_gpu"], "the healthy plugin still loads"


def test_a_plugin_that_exits_during_import_does_not_take_the_host_down(fake_site):
    fake_site.add_plugin("quitter", "import sys\nsys.exit(3)\n")
    assert statuses(fake_site.host()) == {"quitter": PluginStatus.FAILED}


def test_a_hook_implementation_not_matching_its_spec_is_reported_and_skipped(fake_site):
    fake_site.add_plugin(
        "mismatch",
        """
        from servecast import hookimpl

        @hookimpl
        def servecast_op_estimator(op, target, gpu_count):
            return None
        """,
    )
    host = fake_site.host()
    assert "gpu_count" in the_failure(host)


def test_an_unknown_hook_name_is_reported_with_the_closest_real_hook(fake_site):
    fake_site.add_plugin(
        "typo",
        """
        from servecast import hookimpl

        @hookimpl
        def servecast_register_hardwre():
            return []
        """,
    )
    assert "'servecast_register_hardware'" in the_failure(fake_site.host())


def test_a_hook_function_without_the_hookimpl_marker_is_reported(fake_site):
    fake_site.add_plugin("unmarked", "def servecast_register_hardware():\n    return []\n")
    assert "@servecast.hookimpl" in the_failure(fake_site.host())


def test_hook_wrappers_are_rejected(fake_site):
    fake_site.add_plugin(
        "wrapper",
        """
        from servecast import hookimpl

        @hookimpl(wrapper=True)
        def servecast_scheduler(target):
            return (yield)
        """,
    )
    assert "wrapper" in the_failure(fake_site.host())


def test_a_registration_hook_that_raises_is_reported_and_its_other_hooks_unregistered(fake_site):
    fake_site.add_plugin(
        "raiser",
        """
        from servecast import hookimpl

        @hookimpl
        def servecast_register_frameworks():
            raise RuntimeError("data file missing")

        @hookimpl
        def servecast_scheduler(target):
            return object()
        """,
    )
    host = fake_site.host()
    assert "RuntimeError: data file missing" in the_failure(host)
    with pytest.raises(PluginError, match="no installed plugin provides the scheduling policy"):
        host.scheduler(Target(hardware="h100_sxm", framework="x"))


@pytest.mark.parametrize(
    ("returned", "complaint"),
    [("None", "returned NoneType, not a list"), ("[{'name': 'x'}]", "returned a dict at position 0")],
)
def test_a_registration_returning_the_wrong_type_is_reported(fake_site, returned, complaint):
    fake_site.add_plugin(
        "sloppy",
        f"""
        from servecast import hookimpl

        @hookimpl
        def servecast_register_hardware():
            return {returned}
        """,
    )
    assert complaint in the_failure(fake_site.host())


def test_strict_mode_makes_a_load_failure_fatal(fake_site):
    fake_site.add_plugin("broken", "raise ImportError('nope')\n", distribution="broken-dist")
    with pytest.raises(PluginLoadError, match="broken-dist 1.0 \\(plugin 'broken'\\): import of .* ImportError: nope"):
        fake_site.host(PluginSettings(strict=True))


def test_strict_mode_can_come_from_the_environment(fake_site):
    fake_site.add_plugin("broken", "raise ImportError('nope')\n")
    settings = PluginSettings.resolve(environ={"SERVECAST_STRICT_PLUGINS": "1"})
    with pytest.raises(PluginLoadError):
        fake_site.host(settings)


def test_an_unreadable_strict_setting_is_an_input_error():
    with pytest.raises(InputError, match="'maybe'"):
        PluginSettings.resolve(environ={"SERVECAST_STRICT_PLUGINS": "maybe"})


def test_the_same_hardware_from_two_plugins_is_a_conflict_naming_both_distributions(fake_site):
    fake_site.add_hardware_plugin("first", "shared_gpu", distribution="first-dist")
    fake_site.add_hardware_plugin("second", "shared_gpu", distribution="second-dist")
    host = fake_site.host()
    assert set(statuses(host).values()) == {PluginStatus.OK}
    with pytest.raises(PluginConflictError) as raised:
        host.hardware.get("shared_gpu")
    assert "first-dist 1.0" in str(raised.value) and "second-dist 1.0" in str(raised.value)
    with pytest.raises(PluginConflictError):
        list(host.hardware)
    assert all("shared_gpu" in record.conflicts[0] for record in host.records)


def test_a_conflict_is_fatal_in_strict_mode(fake_site):
    fake_site.add_hardware_plugin("first", "shared_gpu", distribution="first-dist")
    fake_site.add_hardware_plugin("second", "shared_gpu", distribution="second-dist")
    with pytest.raises(PluginLoadError, match="first-dist.*second-dist"):
        fake_site.host(PluginSettings(strict=True))


def test_two_distributions_claiming_one_plugin_name_keep_the_first(fake_site):
    fake_site.add_hardware_plugin("same", "gpu_a", distribution="a-dist")
    fake_site.add_hardware_plugin("same", "gpu_b", distribution="b-dist")
    host = fake_site.host()
    failed = [record for record in host.records if record.status is PluginStatus.FAILED]
    assert len(failed) == 1 and "already taken by a-dist" in failed[0].error
    assert host.hardware.names() == ["gpu_a"]


def test_a_disabled_plugin_is_not_even_imported(fake_site):
    module = fake_site.add_plugin("explosive", "raise RuntimeError('imported!')\n")
    host = fake_site.host(PluginSettings(disabled=frozenset({"explosive"})))
    assert statuses(host) == {"explosive": PluginStatus.DISABLED}
    assert module not in sys.modules


def test_plugins_can_be_disabled_from_the_environment(fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    fake_site.add_hardware_plugin("other", "other_gpu")
    settings = PluginSettings.resolve(environ={"SERVECAST_DISABLE_PLUGINS": " acme, other"})
    assert set(statuses(fake_site.host(settings)).values()) == {PluginStatus.DISABLED}


def test_disabling_a_plugin_that_is_not_installed_warns(fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    host = fake_site.host(PluginSettings(disabled=frozenset({"acmee"})))
    assert host.warnings == ("--disable-plugin 'acmee': no installed plugin has that name (installed: acme)",)


def test_firstresult_hooks_are_resolved_once_per_argument(fake_site):
    module = fake_site.add_plugin("kernels", GOOD_ESTIMATOR)
    host = fake_site.host()
    target = Target(hardware="h100_sxm")
    estimators = {host.op_estimator(OpKind.GEMM, target) for _ in range(1000)}
    host.op_estimator(OpKind.P2P, target)
    assert len(estimators) == 1
    assert len(sys.modules[module].CALLS) == 2


def test_an_estimator_hook_that_raises_is_reported_with_its_plugin(fake_site):
    fake_site.add_plugin(
        "flaky",
        """
        from servecast import hookimpl

        @hookimpl
        def servecast_op_estimator(op, target):
            raise ZeroDivisionError("oops")
        """,
        distribution="flaky-kernels",
    )
    with pytest.raises(PluginError, match="flaky-kernels 1.0 .*servecast_op_estimator raised ZeroDivisionError"):
        fake_site.host().op_estimator(OpKind.GEMM, Target(hardware="h100_sxm"))


def test_an_estimator_of_the_wrong_type_is_reported(fake_site):
    fake_site.add_plugin(
        "wrongtype",
        """
        from servecast import hookimpl

        @hookimpl
        def servecast_op_estimator(op, target):
            return 42
        """,
    )
    with pytest.raises(PluginError, match="returned a int, expected an OpEstimator"):
        fake_site.host().op_estimator(OpKind.GEMM, Target(hardware="h100_sxm"))


def test_an_op_nobody_estimates_is_a_clear_error(fake_site):
    with pytest.raises(PluginError, match="no installed plugin estimates 'gemm' on h100_sxm"):
        fake_site.host().op_estimator(OpKind.GEMM, Target(hardware="h100_sxm"))


def test_an_unknown_name_lists_what_is_available(fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    with pytest.raises(InputError, match="unknown hardware 'h200'; available: acme_gpu"):
        fake_site.host().hardware.get("h200")


def test_estimates_returned_by_a_plugin_keep_shape_and_provenance(fake_site):
    fake_site.add_plugin("kernels", GOOD_ESTIMATOR)
    estimator = fake_site.host().op_estimator(OpKind.GEMM, Target(hardware="h100_sxm"))
    import numpy as np

    estimate = estimator({"m": np.arange(4), "n": np.arange(4), "k": np.arange(4)})
    assert isinstance(estimate, OpEstimate)
    assert estimate.latency_ms.shape == estimate.provenance.shape == (4,)


def test_a_host_with_replaced_hardware_leaves_the_original_untouched():
    from servecast.host import PluginHost

    host = PluginHost.from_entry_points()
    original = host.hardware.get("h100_sxm")
    assert original.calibration is not None
    parameters = dict(original.calibration.parameters)
    parameters["gemm.serving_efficiency"] = parameters["gemm.serving_efficiency"].model_copy(update={"value": 0.5})
    calibration = original.calibration.model_copy(update={"parameters": parameters})
    twin = host.with_hardware(original.model_copy(update={"calibration": calibration}))
    assert twin.hardware.get("h100_sxm").calibration.value("gemm.serving_efficiency") == 0.5
    assert host.hardware.get("h100_sxm").calibration.value("gemm.serving_efficiency") == 0.75
    assert twin.frameworks.names() == host.frameworks.names()


def test_a_host_with_a_replaced_framework_schedules_with_the_replacement():
    from servecast.domain import Target
    from servecast.host import PluginHost

    host = PluginHost.from_entry_points()
    spec = host.frameworks.get("vllm")
    modelled = spec.version("0.10.2")
    overheads = modelled.scheduling.overheads
    slower = overheads.model_copy(
        update={"iteration_cpu_ms": overheads.iteration_cpu_ms.model_copy(update={"value": 9.0})}
    )
    scheduling = modelled.scheduling.model_copy(update={"overheads": slower})
    versions = tuple(v.model_copy(update={"scheduling": scheduling}) if v is modelled else v for v in spec.versions)
    twin = host.with_framework(spec.model_copy(update={"versions": versions}))
    target = Target(hardware="h100_sxm", framework="vllm", framework_version="0.10.2")
    assert twin.scheduler(target).behaviour.overheads.iteration_cpu_ms.value == 9.0
    assert host.scheduler(target).behaviour.overheads.iteration_cpu_ms.value == 1.0

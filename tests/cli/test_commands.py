"""The CLI lists plugins, hardware and frameworks, as tables or JSON, and survives broken plugins."""

from __future__ import annotations

import json

from servecast import __version__

from ..conftest import FRAMEWORK_TOML

FAILING = "raise RuntimeError('this plugin is broken')\n"


def plugin_entries(result):
    """The listed plugins other than the core's own (built-in model families)."""
    return [entry for entry in json.loads(result.stdout) if entry["name"] != "core"]


def test_version_is_printed():
    from click.testing import CliRunner

    from servecast.cli import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"servecast {__version__}"


def test_plugins_json_lists_every_plugin_with_status_and_error(run_cli, fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu", distribution="acme-gpus")
    fake_site.add_plugin("broken", FAILING, distribution="broken-dist")
    result = run_cli("plugins", "--json")
    assert result.exit_code == 0
    listed = {entry["name"]: entry for entry in plugin_entries(result)}
    assert listed["acme"]["status"] == "ok"
    assert listed["acme"]["hooks"] == ["servecast_register_hardware"]
    assert listed["acme"]["distribution"] == "acme-gpus" and listed["acme"]["version"] == "1.0"
    assert listed["broken"]["status"] == "failed"
    assert "RuntimeError: this plugin is broken" in listed["broken"]["error"]
    assert "--disable-plugin broken" in listed["broken"]["hint"]


def test_a_broken_plugin_cannot_take_the_plugins_listing_down(run_cli, fake_site):
    fake_site.add_plugin("broken", FAILING, distribution="broken-dist")
    result = run_cli("plugins")
    assert result.exit_code == 0
    assert "broken-dist" in result.stdout and "failed" in result.stdout
    assert "this plugin is broken" in result.stdout


def test_other_commands_warn_about_skipped_plugins_and_carry_on(run_cli, fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    fake_site.add_plugin("broken", FAILING, distribution="broken-dist")
    result = run_cli("hardware", "list", "--json")
    assert result.exit_code == 0
    assert [entry["name"] for entry in json.loads(result.stdout)] == ["acme_gpu"]
    assert "warning: plugin broken-dist 1.0 (plugin 'broken') failed to load" in result.stderr


def test_strict_plugins_turns_a_load_failure_into_an_error_exit(run_cli, fake_site):
    fake_site.add_plugin("broken", FAILING, distribution="broken-dist")
    for args, env in ((("--strict-plugins", "plugins"), None), (("plugins",), {"SERVECAST_STRICT_PLUGINS": "1"})):
        result = run_cli(*args, env=env)
        assert result.exit_code == 3
        assert "broken-dist" in result.stderr and "what to do:" in result.stderr


def test_disable_plugin_skips_it(run_cli, fake_site):
    fake_site.add_plugin("broken", FAILING)
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    for args, env in (
        (("--disable-plugin", "broken", "--disable-plugin", "acme", "plugins", "--json"), None),
        (("plugins", "--json"), {"SERVECAST_DISABLE_PLUGINS": "broken,acme"}),
    ):
        result = run_cli(*args, env=env)
        assert {entry["status"] for entry in plugin_entries(result)} == {"disabled"}


def test_hardware_list_reports_a_conflict_naming_both_distributions(run_cli, fake_site):
    fake_site.add_hardware_plugin("first", "shared_gpu", distribution="first-dist")
    fake_site.add_hardware_plugin("second", "shared_gpu", distribution="second-dist")
    result = run_cli("hardware", "list")
    assert result.exit_code == 3
    assert "hardware 'shared_gpu' is registered by both first-dist 1.0" in result.stderr
    assert "second-dist 1.0" in result.stderr
    listing = run_cli("plugins", "--json")
    assert all(entry["conflicts"] for entry in plugin_entries(listing))


def test_hardware_list_table_and_show(run_cli, fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    table = run_cli("hardware", "list")
    assert table.exit_code == 0 and "acme_gpu" in table.stdout and "3.35" in table.stdout
    shown = run_cli("hardware", "show", "acme_gpu", "--json")
    assert json.loads(shown.stdout)["provenance"]["gpu.sm_count"]["source"]["citation"] == "a test datasheet"
    assert "gpu.sm_count" in run_cli("hardware", "show", "acme_gpu").stdout


def test_an_unknown_hardware_name_exits_2_and_lists_the_known_ones(run_cli, fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    result = run_cli("hardware", "show", "h200_sxm")
    assert result.exit_code == 2
    assert "unknown hardware 'h200_sxm'; available: acme_gpu" in result.stderr


def test_an_unreadable_strict_variable_exits_2(run_cli):
    result = run_cli("plugins", env={"SERVECAST_STRICT_PLUGINS": "maybe"})
    assert result.exit_code == 2
    assert "SERVECAST_STRICT_PLUGINS='maybe'" in result.stderr


def test_frameworks_list_and_show(run_cli, fake_site):
    fake_site.add_framework_plugin("toy", FRAMEWORK_TOML)
    listed = json.loads(run_cli("frameworks", "list", "--json").stdout)
    assert [(entry["name"], entry["plugin"]) for entry in listed] == [("toyserve", "toy")]
    assert [version["version"] for version in listed[0]["versions"]] == ["1.0.0", "2.0.0"]
    shown = run_cli("frameworks", "show", "toyserve", "--version", "1.0.0")
    assert shown.exit_code == 0 and "--max-seqs" in shown.stdout
    assert json.loads(run_cli("frameworks", "show", "toyserve", "--json").stdout)["version"] == "2.0.0"
    newer = run_cli("frameworks", "show", "toyserve", "--version", "9.9")
    assert newer.exit_code == 0 and "ToyServe 2.0.0" in newer.stdout
    assert "newer than every modelled version; using 2.0.0" in newer.stderr
    assert "(modelled: 1.0.0, 2.0.0)" in newer.stderr
    bad = run_cli("frameworks", "show", "toyserve", "--version", "nine")
    assert bad.exit_code == 2 and "'nine' is not a version number" in bad.stderr


def test_with_no_plugins_installed_only_the_core_is_listed_and_listings_are_empty(run_cli):
    (core,) = json.loads(run_cli("plugins", "--json").stdout)
    assert (core["name"], core["distribution"], core["status"]) == ("core", "servecast", "ok")
    assert core["hooks"] == ["servecast_register_model_families"]
    assert json.loads(run_cli("hardware", "list", "--json").stdout) == []
    assert json.loads(run_cli("frameworks", "list", "--json").stdout) == []

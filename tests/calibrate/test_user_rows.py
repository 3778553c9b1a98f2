"""Measured runs as predicted configurations: each run at its own release's modelled version, or the one given."""

from __future__ import annotations

import pytest

from servecast.calibrate.runs import MeasuredRun
from servecast.calibrate.user_rows import calibrated_versions
from servecast.errors import InputError
from servecast.host import PluginHost


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def runs(*releases: str | None) -> list[MeasuredRun]:
    return [
        MeasuredRun(f"runs.csv, line {n}", {} if release is None else {"framework_version": release}, {"ttft_ms": 1.0})
        for n, release in enumerate(releases, start=2)
    ]


def test_runs_of_several_releases_keep_their_own_modelled_versions(host):
    versions, _ = calibrated_versions(host, runs("0.11.2", "0.19.0", None), "h100_sxm", "vllm", None)
    newest = host.framework_version("vllm").version
    assert versions == {0: "0.11.0", 1: newest, 2: newest}


def test_a_release_given_on_the_command_line_applies_to_every_run_that_states_none(host):
    versions, notes = calibrated_versions(host, runs(None, "0.12.0"), "h100_sxm", "vllm", "0.11.1")
    assert versions == {0: "0.11.0", 1: "0.11.0"}
    assert notes


def test_a_run_of_another_modelled_version_than_the_one_given_is_refused(host):
    with pytest.raises(InputError, match=r"line 3: a run of vllm 0\.6\.0, but --framework-version is 0\.11\.0"):
        calibrated_versions(host, runs("0.11.0", "0.6.0"), "h100_sxm", "vllm", "0.11.0")


def test_a_run_of_another_framework_is_refused_before_its_release_is_read(host):
    run = MeasuredRun("runs.jsonl, line 2", {"framework": "sglang", "framework_version": "0.5.3"}, {"ttft_ms": 1.0})
    with pytest.raises(InputError, match="line 2: a run on framework 'sglang', but the calibration is for framework"):
        calibrated_versions(host, [run], "h100_sxm", "trtllm", None)

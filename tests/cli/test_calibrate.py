"""`servecast calibrate` on a user's runs, the calibration it writes used by other commands, and bad runs refused
with the file and line named and nothing written."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from servecast.cli import cli

COLUMNS = ["model", "isl", "osl", "concurrency", "ttft_ms", "tpot_ms", "throughput_tokens_per_s"]
MODEL = "meta-llama/Llama-3.1-8B"
ESTIMATE = ["estimate", "--model", MODEL, "--system", "h100_sxm", "--framework", "vllm", "--isl", "1000"]
ESTIMATE += ["--osl", "200", "--concurrency", "8", "--json"]


def run_cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env)


def calibrate(runs: Path, output: Path, *extra: str):
    """`servecast calibrate` of vLLM on h100_sxm over `runs`, writing `output`."""
    common = ["--system", "h100_sxm", "--framework", "vllm", "--output", str(output)]
    return run_cli("calibrate", "--input", str(runs), *common, *extra)


def write_runs(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def measured_like_a_slower_gpu(tmp_path: Path) -> Path:
    """Runs 'measured' on a GPU 25 % slower than the shipped model with a 30 ms front end: the shipped model's own
    predictions, scaled."""
    rows = []
    for users in (1, 32):
        for isl in (500, 2000):
            args = ["estimate", "--model", MODEL, "--system", "h100_sxm", "--framework", "vllm", "--isl", str(isl)]
            result = run_cli(*args, "--osl", "200", "--concurrency", str(users), "--json")
            data = json.loads(result.stdout)
            rows.append(
                [
                    MODEL,
                    isl,
                    200,
                    users,
                    data["ttft_ms"] * 1.25 + 30,
                    data["tpot_ms"] * 1.25,
                    data["throughput_tokens_per_s"] / 1.25,
                ]
            )
    return write_runs(tmp_path / "runs.csv", rows)


def test_a_calibration_is_fitted_written_and_used_by_estimate(tmp_path):
    runs = measured_like_a_slower_gpu(tmp_path)
    output = tmp_path / "cal.toml"
    result = calibrate(runs, output, "--fit", "gemm.efficiency_scale")
    assert result.exit_code == 0, result.output
    assert "cross-validated" in result.stdout
    assert output.exists()
    shipped = json.loads(run_cli(*ESTIMATE).stdout)
    calibrated = json.loads(run_cli(*ESTIMATE, "--calibration", str(output)).stdout)
    from_environment = json.loads(run_cli(*ESTIMATE, env={"SERVECAST_CALIBRATION": str(output)}).stdout)
    assert shipped["calibration"] is None
    assert "vllm" in calibrated["calibration"] and "4 measured runs" in calibrated["calibration"]
    assert calibrated["tpot_ms"] == pytest.approx(shipped["tpot_ms"] * 1.25, rel=0.1)
    assert from_environment["tpot_ms"] == calibrated["tpot_ms"]
    assert "cross-validated" in calibrated["intervals"]["basis"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[MODEL, 1000, 200, 1, 20, 7, 140]] * 2, "a calibration needs at least 3"),
        (
            [[MODEL, 1000, 200, 1, 20, 7, 140], [MODEL, 1000, 200, 1, 80, 7, 140], [MODEL, 1000, 200, 4, 25, 8, 500]],
            r"runs\.csv, line 3 and .*runs\.csv, line 2 measure the same configuration with ttft_ms 80 and 20",
        ),
        ([[MODEL, 1000, 200, 1, 20, -7, 140]] * 3, r"runs\.csv, line 2.*tpot_ms"),
        (
            [[MODEL, 1000, 200, 4, 20, 7, 90000], [MODEL, 500, 200, 1, 20, 7, 140]] * 2,
            r"line 2: 90,000 output tokens/s",
        ),
    ],
    ids=["too-few-runs", "contradicting-runs", "negative-tpot", "impossible-throughput"],
)
def test_bad_runs_are_refused_naming_the_file_and_nothing_is_written(tmp_path, rows, message):
    runs = write_runs(tmp_path / "runs.csv", rows)
    output = tmp_path / "cal.toml"
    result = calibrate(runs, output)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert re.search(message, result.output), result.output
    assert not output.exists()


def test_an_unknown_parameter_to_fit_is_refused(tmp_path):
    runs = write_runs(tmp_path / "runs.csv", [[MODEL, 1000, 200, 1, 20, 7, 140]] * 3)
    result = calibrate(runs, tmp_path / "cal.toml", "--fit", "gemm.speed")
    assert result.exit_code == 2
    assert "--fit 'gemm.speed': unknown parameter(s) 'gemm.speed'" in result.output


def test_a_broken_calibration_file_is_bad_input(tmp_path):
    path = tmp_path / "cal.toml"
    path.write_text("schema_version = 1\nsystem = 3\n")
    result = run_cli(*ESTIMATE, "--calibration", str(path))
    assert result.exit_code == 2
    assert "not a servecast calibration" in result.output


RELEASES = "".join(
    f"{MODEL},{version},1000,200,{users},20,7\n" for version, users in (("0.11.0", 1), ("0.6.0", 4), ("0.11.0", 8))
)


@pytest.mark.parametrize(
    ("text", "args", "messages"),
    [
        (
            f"model,system,isl,osl,concurrency,ttft_ms\n{MODEL},a100_sxm,1000,200,1,20\n",
            (),
            ["runs.csv, line 2: a run on system 'a100_sxm'"],
        ),
        (
            "model,framework_version,isl,osl,concurrency,ttft_ms,tpot_ms\n" + RELEASES,
            ("--framework-version", "0.11.0"),
            ["runs.csv, line 3: a run of vllm 0.6.0, but --framework-version is 0.11.0"],
        ),
        (
            f"model,isl,osl,ttft_ms\n{MODEL},1000,200,20\n{MODEL},2000,200,30\n{MODEL},500,200,15\n",
            (),
            ["runs.csv, line 2: the file does not state the load", "--concurrency N"],
        ),
    ],
    ids=["another-system", "another-release", "no-load"],
)
def test_a_run_that_does_not_belong_or_says_too_little_is_refused(tmp_path, text, args, messages):
    path = tmp_path / "runs.csv"
    path.write_text(text)
    result = calibrate(path, tmp_path / "cal.toml", *args)
    assert result.exit_code == 2
    for message in messages:
        assert message in result.output

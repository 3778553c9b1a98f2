"""`servecast collect` with the NumPy CPU backend: real timings of this CPU, written as tables the perf database
reads back, with the sidecar saying what was measured, where, how and by which command."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.ops.estimator import OpKind
from servecast.perfdb.folder import tables_in
from servecast.perfdb.loading import load_metadata, load_table


def collect(*args: str):
    return CliRunner().invoke(cli, ["collect", "--backend", "numpy-cpu", *args])


def test_measured_tables_load_back_with_their_provenance(tmp_path):
    result = collect(
        "--out", str(tmp_path), "--hardware", "h100_sxm", "--op", "gemm", "--op", "elementwise", "--by", "ci"
    )
    assert result.exit_code == 0, result.output
    refs = {ref.op: ref for ref in tables_in(tmp_path)}
    assert set(refs) == {OpKind.GEMM, OpKind.ELEMENTWISE}
    metadata = load_metadata(refs[OpKind.GEMM])
    measurement = metadata.measurement
    assert (metadata.hardware, measurement.kind, measurement.by) == ("h100_sxm", "measured", "ci")
    assert "numpy-cpu backend" in measurement.tool and "NumPy" in measurement.software
    assert measurement.command.startswith("servecast collect --backend numpy-cpu --size tiny --out")
    assert "median of 5 timed repeats" in measurement.method and measurement.notes.startswith("outliers:")
    gemm = load_table(refs[OpKind.GEMM])
    (grid,) = gemm.values()
    assert grid.axes == ("m", "n", "k") and grid.latency_ms.shape == (3, 2, 2)
    assert grid.latency_ms[-1, -1, -1] > 10 * grid.latency_ms[0, 0, 0]  # 64x128x128 is 512x the work of 1x32x32


def test_attention_tables_answer_shapes_without_a_cached_prefix(tmp_path):
    result = collect("--out", str(tmp_path), "--hardware", "h100_sxm", "--op", "context_attention")
    assert result.exit_code == 0, result.output
    (ref,) = tables_in(tmp_path)
    (grid,) = load_table(ref).values()
    assert grid.axes == ("batch", "q_len", "heads", "kv_heads") and grid.tied == {"kv_len": "q_len"}


def test_collectives_are_skipped_with_the_reason(tmp_path):
    result = collect("--out", str(tmp_path), "--hardware", "h100_sxm", "--op", "all_reduce")
    assert result.exit_code == 2
    assert "all_reduce: a CPU backend has one device" in result.output
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_existing_tables_are_kept_unless_forced(tmp_path):
    args = ("--out", str(tmp_path), "--hardware", "h100_sxm", "--op", "elementwise")
    assert collect(*args).exit_code == 0
    before = (tmp_path / "elementwise.csv").read_text()
    refused = collect(*args)
    assert refused.exit_code == 2 and "already holds elementwise.csv" in refused.output and "--force" in refused.output
    assert (tmp_path / "elementwise.csv").read_text() == before
    assert collect(*args, "--force").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "say where the tables go"),
        (("--out", "x"), "say where the tables go"),
        (("--out", "x", "--hardware", "H100 SXM"), "'H100 SXM' is not a system name"),
        (("--into", "."), "is not a hardware plugin package"),
        (("--out", "x", "--hardware", "h100_sxm", "--quick", "--size", "tiny"), "--quick contradicts --size tiny"),
    ],
)
def test_unclear_destinations_and_options_are_refused(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = collect(*args)
    assert result.exit_code == 2 and message in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="PyTorch is installed here")
def test_the_gpu_backend_without_pytorch_says_what_to_install(tmp_path):
    result = CliRunner().invoke(cli, ["collect", "--out", str(tmp_path), "--hardware", "h100_sxm"])
    assert result.exit_code == 2
    assert "needs torch, which is not installed" in result.output and "servecast[collect]" in result.output


def test_the_cli_imports_neither_torch_nor_the_fitting_optimizer():
    """torch only for `collect --backend torch`; scipy's optimizer (half a second to import) only for `hardware fit`."""
    probe = "import sys, servecast.cli, servecast.collect.runner; print(sorted({'torch', 'scipy'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "[]\n"

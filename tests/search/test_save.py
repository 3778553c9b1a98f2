"""`search --save-dir`: a run's results arrive whole, replace an earlier run's entirely, or not at all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from click.testing import CliRunner

from servecast.cli import cli
from servecast.files import STAGING_PREFIX

SEARCH = ["search", "--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--isl", "1000", "--osl", "100"]
SMALL = [*SEARCH, "--gpus", "1", "--frameworks", "vllm", "--modes", "agg"]


def test_an_interrupted_save_leaves_neither_results_nor_staging(tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("servecast.search.save._plot", interrupted)
    result = CliRunner().invoke(cli, [*SMALL, "--save-dir", str(tmp_path)])
    assert result.exit_code == 130, result.output
    assert list(tmp_path.iterdir()) == []


def test_a_forced_save_removes_what_the_earlier_run_wrote_and_this_one_does_not(tmp_path):
    assert CliRunner().invoke(cli, [*SMALL, "--save-dir", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "configs").is_dir()
    too_big = ["search", "--model", "meta-llama/Llama-3.1-405B", *SMALL[3:]]
    result = CliRunner().invoke(cli, [*too_big, "--save-dir", str(tmp_path), "--force"])
    assert result.exit_code == 4, result.output
    assert not (tmp_path / "configs").exists()
    assert (tmp_path / "infeasible.json").exists()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(STAGING_PREFIX)]


def test_a_save_terminated_by_sigterm_exits_143_and_leaves_no_staging(tmp_path):
    """A real SIGTERM in the middle of a save (the plot stalls): the run cleans up its staging folder and exits 143."""
    script = (
        "import sys, time\n"
        "import servecast.search.save as save\n"
        "save._plot = lambda *args: time.sleep(60)\n"
        "from servecast.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-c", script, *SMALL, "--save-dir", str(out)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (out.exists() and any(path.name.startswith(STAGING_PREFIX) for path in out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "the save never started"
        time.sleep(0.05)
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 143
    assert list(out.iterdir()) == []

"""Servers' step tables cached across runs: a new run takes them from disk instead of tabulating them again."""

from __future__ import annotations

import numpy as np

import servecast.serving.server as server_module
from servecast.disk_cache import CACHE_DIR_VARIABLE, DiskCache
from servecast.domain import ParallelLayout, Target, Workload
from servecast.models.model import load_model
from servecast.serving.server import StepTableCache, build_server


def test_step_tables_come_back_from_disk_in_a_new_run(host, monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_DIR_VARIABLE, str(tmp_path))
    model = load_model("meta-llama/Llama-3.1-8B", host.architectures)
    target = Target(hardware="h100_sxm", framework="vllm")
    workload = Workload(input_tokens=1000, output_tokens=200)

    def build():
        tables = StepTableCache(DiskCache.default())  # a new run: nothing in memory
        return build_server(
            host, model, host.hardware.get("h100_sxm"), target, ParallelLayout(tp=2), workload, table_cache=tables
        )

    first = build()

    def no_tabulation(*args, **kwargs):
        raise AssertionError("the step tables were tabulated again")

    monkeypatch.setattr(server_module, "tabulate_steps", no_tabulation)
    again = build()
    assert again.steps.tables is not first.steps.tables
    decodes, kv = np.array([1.0, 7.0, 64.0]), np.array([500.0, 1100.0, 1100.0])
    np.testing.assert_array_equal(first.steps.iteration_ms(decodes, kv), again.steps.iteration_ms(decodes, kv))

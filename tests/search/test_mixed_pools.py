"""Disaggregated pools on two systems: each pool estimated on its own GPUs with the KV cache crossing the network,
searched with their blended price, and launched with each pool on its own nodes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from servecast.cli import cli
from servecast.domain.workload import Sla
from servecast.errors import InputError
from servecast.launch.placement import place
from servecast.launch.plan import plan_launch
from servecast.search.runner import run_search
from servecast.serving.disaggregated import Pool, kv_transfer_ms
from servecast.serving.estimate import estimate
from servecast.serving.request import EstimateRequest

from .conftest import task

DISAGG = {
    "model": "Qwen/Qwen3-32B",
    "system": "h100_sxm",
    "framework": "vllm",
    "isl": 4000,
    "osl": 500,
    "mode": "disagg",
    "prefill_tp": 2,
    "prefill_workers": 2,
    "decode_tp": 4,
    "concurrency": 64,
}


def test_a_decode_pool_on_h200_runs_on_h200_and_moves_the_kv_cache_over_the_network(host):
    same = estimate(host, EstimateRequest.parse(DISAGG))
    mixed = estimate(host, EstimateRequest.parse({**DISAGG, "decode_system": "h200_sxm"}))
    assert mixed.metrics.tpot_ms < same.metrics.tpot_ms  # H200's 4.8 TB/s against H100's 3.35 for decode
    assert mixed.servers["decode"].kv_tokens > same.servers["decode"].kv_tokens  # 141 GB against 80 GB
    assert mixed.servers["prefill"].kv_tokens == same.servers["prefill"].kv_tokens
    h100, h200 = host.hardware.get("h100_sxm"), host.hardware.get("h200_sxm")
    prefill, decode = Pool(mixed.servers["prefill"], 2, 1), Pool(mixed.servers["decode"], 1, 64)
    within = kv_transfer_ms(prefill, decode, h100)
    across = kv_transfer_ms(prefill, decode, h100, h200)
    assert across > within  # one 8-GPU NVLink domain against the NICs of two systems


def test_pool_systems_are_refused_outside_disaggregated_mode(host):
    with pytest.raises(InputError, match="decode_system=h200_sxm has no effect in mode=agg"):
        EstimateRequest.parse({**DISAGG, "mode": "agg", "tp": 2, **dict.fromkeys(("prefill_tp", "decode_tp"), 1)} | {
            "prefill_workers": 1, "decode_system": "h200_sxm"})  # fmt: skip


def test_a_mixed_search_prices_each_pool_at_its_own_system(host):
    prices = {"h100_sxm": 2.0, "h200_sxm": 4.0}
    result = run_search(
        host, task(model="Qwen/Qwen3-32B", gpus=16, frameworks=("vllm",), decode_system="h200_sxm", gpu_prices=prices)
    )
    columns = result.columns
    mixed = np.flatnonzero(columns["decode_system"] == "h200_sxm")
    assert len(mixed) and all(columns["mode"][mixed] == "disagg")
    index = int(mixed[0])
    gpus = {
        role: columns[f"{role}_tp"][index] * columns[f"{role}_pp"][index] * columns[f"{role}_dp"][index]
        * columns[f"{role}_workers"][index]
        for role in ("prefill", "decode")
    }  # fmt: skip
    blended = (gpus["prefill"] * 2.0 + gpus["decode"] * 4.0) / (gpus["prefill"] + gpus["decode"])
    assert columns["gpu_hour_usd"][index] == pytest.approx(blended)
    row = result.row(index)
    assert row["decode_system"] == "h200_sxm" and row["prefill_system"] is None
    assert estimate(host, EstimateRequest.parse({k: v for k, v in row.items() if k in EstimateRequest.model_fields
                                                 and v is not None})).metrics.num_gpus == row["num_gpus"]  # fmt: skip


def test_the_cost_objective_can_pick_another_winner_when_the_pools_cost_differently(host):
    values = {"model": "Qwen/Qwen3-32B", "gpus": 16, "isl": 4000, "osl": 500, "frameworks": ("vllm",)}
    values |= {"sla": Sla(ttft_ms=1000, tpot_ms=20), "decode_system": "b200_sxm"}
    values |= {"gpu_prices": {"h100_sxm": 6.88, "b200_sxm": 30.0}}
    by_throughput = run_search(host, task(**values))
    by_cost = run_search(host, task(**values, objective="cost"))
    winner, cheapest = by_throughput.row(by_throughput.best[0]), by_cost.row(by_cost.best[0])
    assert cheapest != winner
    assert cheapest["usd_per_million_output_tokens"] < winner["usd_per_million_output_tokens"]
    assert cheapest["tokens_per_s_per_gpu"] < winner["tokens_per_s_per_gpu"]


def test_a_mixed_deployment_puts_each_pool_on_its_systems_nodes(host):
    plan = plan_launch(host, EstimateRequest.parse({**DISAGG, "decode_system": "h200_sxm"}))
    assert plan.deployment.mixed
    workers = place(plan.deployment)
    prefill_nodes = {worker.first_node for worker in workers if worker.role.value == "prefill"}
    decode_nodes = {worker.first_node for worker in workers if worker.role.value == "decode"}
    assert not prefill_nodes & decode_nodes


def test_generate_writes_each_pool_onto_its_gpu_product_and_refuses_compose(tmp_path):
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in DISAGG.items()]
    runner = CliRunner()
    written = runner.invoke(cli, ["generate", *flags, "--decode-system", "h200_sxm", "--target", "kserve",
                                  "--out", str(tmp_path / "k")])  # fmt: skip
    assert written.exit_code == 0, written.output
    (service,) = yaml.safe_load_all((tmp_path / "k" / "kserve.yaml").read_text())
    assert service["spec"]["template"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H200"}
    assert service["spec"]["prefill"]["template"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    document = json.loads((tmp_path / "k" / "deployment.json").read_text())
    assert [group.get("hardware") for group in document["deployment"]["workers"]] == [None, "h200_sxm"]
    refused = runner.invoke(cli, ["generate", *flags, "--decode-system", "h200_sxm", "--target", "compose",
                                  "--out", str(tmp_path / "c")])  # fmt: skip
    assert refused.exit_code == 2 and "runs on one machine" in refused.output  # each system's pool has its nodes

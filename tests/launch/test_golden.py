"""Golden files pin the artifacts each framework writes for typical deployments (aggregated replicas, attention-DP
with expert parallelism, a pipeline over two nodes, disaggregated pools), so any change to a launch is reviewed.

Regenerate after an intended change: `SERVECAST_UPDATE_GOLDEN=1 uv run pytest tests/launch/test_golden.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from servecast.domain import Target
from servecast.host import PluginHost
from servecast.launch.plan import plan_launch
from servecast.launch.write import write_launch
from servecast.serving.request import EstimateRequest

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SERVECAST_UPDATE_GOLDEN") == "1"
CASES = {
    "agg-replicas": {"model": "Qwen/Qwen3-8B", "mode": "agg", "tp": 2, "replicas": 2, "concurrency": 64},
    "agg-moe-ep-attention-dp": {
        "model": "Qwen/Qwen3-30B-A3B",
        "mode": "agg",
        "tp": 1,
        "dp": 4,
        "ep": 4,
        "concurrency": 128,
    },
    "agg-pp-two-nodes": {"model": "Qwen/Qwen3-32B", "mode": "agg", "tp": 8, "pp": 2, "concurrency": 64},
    "disagg": {
        "model": "Qwen/Qwen3-8B",
        "mode": "disagg",
        "prefill_workers": 2,
        "decode_workers": 1,
        "decode_tp": 2,
        "decode_batch_size": 48,
        "concurrency": 64,
    },
}
FRAMEWORKS = {"vllm": "0.11.0", "sglang": "0.5.23", "trtllm": "1.0.0"}
UNPINNED = ("servecast_version", "predicted")
"""deployment.json fields that follow the performance model, not the launch (pinned by the accuracy benchmarks)."""


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def rendered(host: PluginHost, framework: str, case: str, folder: Path) -> dict[str, str]:
    values = {"system": "h100_sxm", "isl": 2000, "osl": 200, "framework": framework}
    plan = plan_launch(host, EstimateRequest.parse(values | {"framework_version": FRAMEWORKS[framework]} | CASES[case]))
    deployment = plan.deployment
    target = Target(hardware=deployment.hardware, framework=framework, framework_version=deployment.framework_version)
    write_launch(plan, host.launch_config(deployment, target), folder)
    texts = {path.name: path.read_text() for path in sorted(folder.iterdir())}
    document = json.loads(texts["deployment.json"])
    texts["deployment.json"] = json.dumps({k: v for k, v in document.items() if k not in UNPINNED}, indent=2) + "\n"
    return texts


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_artifacts_match_the_golden_files(host, tmp_path, framework, case):
    texts = rendered(host, framework, case, tmp_path)
    golden = GOLDEN / f"{framework}-{case}"
    if UPDATE:
        golden.mkdir(parents=True, exist_ok=True)
        for stale in golden.iterdir():
            stale.unlink()
        for name, text in texts.items():
            (golden / name).write_text(text)
    assert golden.is_dir(), f"no golden files for {golden.name}: run with SERVECAST_UPDATE_GOLDEN=1 and review them"
    assert sorted(path.name for path in golden.iterdir()) == sorted(texts)
    for name, text in texts.items():
        assert text == (golden / name).read_text(), f"{golden.name}/{name} changed (SERVECAST_UPDATE_GOLDEN=1)"

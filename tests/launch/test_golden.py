"""Golden files pin the artifacts each framework writes for typical deployments (aggregated replicas, attention-DP
with expert parallelism, a pipeline over two nodes, disaggregated pools), so any change to a launch is reviewed.

Regenerate after an intended change: `SERVECAST_UPDATE_GOLDEN=1 uv run pytest tests/launch/test_golden.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from servecast.host import PluginHost
from servecast.launch.write import write_launch

from .conftest import CASES, render

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("SERVECAST_UPDATE_GOLDEN") == "1"
GOLDEN_CASES = ("agg-replicas", "agg-moe-ep-attention-dp", "agg-pp-two-nodes", "disagg")
FRAMEWORKS = {"vllm": "0.11.0", "sglang": "0.5.23", "trtllm": "1.0.0"}
UNPINNED = ("servecast_version", "predicted", "intervals")
"""deployment.json fields that follow the performance model, not the launch (pinned by the accuracy benchmarks)."""


def rendered(host: PluginHost, framework: str, case: str, folder: Path) -> dict[str, str]:
    plan, artifacts = render(host, framework=framework, framework_version=FRAMEWORKS[framework], **CASES[case])
    write_launch(plan, artifacts, folder)
    texts = {path.name: path.read_text() for path in sorted(folder.iterdir())}
    document = json.loads(texts["deployment.json"])
    texts["deployment.json"] = json.dumps({k: v for k, v in document.items() if k not in UNPINNED}, indent=2) + "\n"
    return texts


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
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

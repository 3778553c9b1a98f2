"""Golden files pin the artifacts each framework writes for typical deployments (aggregated replicas, attention-DP
with expert parallelism, a pipeline over two nodes, disaggregated pools), and the compose file, Dynamo graph, llm-d
values and KServe service the targets write for some of them, so any change to a launch is reviewed.

Regenerate after an intended change: `SERVECAST_UPDATE_GOLDEN=1 uv run pytest tests/launch/test_golden.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from servecast.host import PluginHost
from servecast.launch.targets import TARGET_FILES, LaunchTarget, render_target
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


TARGET_VERSIONS = {"vllm": "0.33.0", "sglang": "0.5.23", "trtllm": "1.2.0rc1"}
"""The versions Dynamo 1.4.0's runtime images stand for (and the newest of each framework)."""
TARGET_CASES = [
    *((target, framework, "disagg") for target in ("compose", "dynamo") for framework in sorted(TARGET_VERSIONS)),
    *(("dynamo", framework, "agg-pp-two-nodes") for framework in sorted(TARGET_VERSIONS)),
    *((target, "vllm", case) for target in ("llm-d", "kserve") for case in ("agg-replicas", "disagg")),
]


@pytest.mark.parametrize(("target", "framework", "case"), TARGET_CASES, ids="-".join)
def test_target_files_match_the_golden_files(host, target, framework, case):
    plan, artifacts = render(host, framework=framework, framework_version=TARGET_VERSIONS[framework], **CASES[case])
    output = render_target(LaunchTarget(target), plan, artifacts)
    (main,) = (path for path in output.files if path.suffix == ".yaml" and path.name in TARGET_FILES)
    golden = GOLDEN / "targets" / f"{target}-{framework}-{case}.yaml"
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(output.files[main])
    assert golden.is_file(), f"no golden file {golden.name}: run with SERVECAST_UPDATE_GOLDEN=1 and review it"
    assert output.files[main] == golden.read_text(), f"targets/{golden.name} changed (SERVECAST_UPDATE_GOLDEN=1)"

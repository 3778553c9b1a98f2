"""Golden predictions: the JSON `estimate` and `search` print for the benchmark configurations, pinned, so that a
refactor that changes a number fails here and a model change is reviewed (and named in the commit).

Regenerate after an intended model change: `SERVECAST_UPDATE_GOLDEN=1 uv run pytest tests/test_golden_predictions.py`.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from servecast.cli import cli

GOLDEN = Path(__file__).parent / "golden_predictions"
UPDATE = os.environ.get("SERVECAST_UPDATE_GOLDEN") == "1"
VOLATILE = ("elapsed_s",)
"""Fields that differ from run to run."""
RELATIVE = 1e-9
"""Floats must agree to this relative tolerance (numpy's summation order is the only freedom)."""

_ESTIMATE = ["estimate", "--system", "h100_sxm", "--json"]
CASES: dict[str, list[str]] = {
    "estimate-vllm-agg-llama70b-tp4": [
        *_ESTIMATE, "--model", "meta-llama/Llama-3.1-70B", "--framework", "vllm", "--isl", "1000", "--osl", "200",
        "--concurrency", "32", "--tp", "4",
    ],
    "estimate-sglang-agg-qwen3-30b-a3b-ep": [
        *_ESTIMATE, "--model", "Qwen/Qwen3-30B-A3B", "--framework", "sglang", "--isl", "4000", "--osl", "500",
        "--concurrency", "64", "--tp", "2", "--ep", "2",
    ],
    "estimate-trtllm-disagg-llama8b": [
        *_ESTIMATE, "--model", "meta-llama/Llama-3.1-8B", "--framework", "trtllm", "--mode", "disagg", "--isl", "2000",
        "--osl", "500", "--concurrency", "64", "--prefill-batch-size", "2",
    ],
    "estimate-trtllm-static-llama70b-tp8": [
        *_ESTIMATE, "--model", "meta-llama/Llama-3.1-70B", "--framework", "trtllm", "--mode", "static", "--isl", "128",
        "--osl", "2048", "--batch-size", "64", "--tp", "8",
    ],
    "estimate-vllm-poisson-qwen3-32b-tp2": [
        *_ESTIMATE, "--model", "Qwen/Qwen3-32B", "--framework", "vllm", "--isl", "3000", "--osl", "300",
        "--request-rate", "2", "--tp", "2", "--framework-version", "0.11.0",
    ],
    "simulate-vllm-agg-lognormal-llama8b": [
        *_ESTIMATE, "--model", "meta-llama/Llama-3.1-8B", "--framework", "vllm", "--isl", "2000", "--osl", "300",
        "--concurrency", "48", "--length-distribution", "lognormal", "--length-spread", "0.6", "--percentiles",
    ],
    "simulate-sglang-disagg-poisson-qwen3-32b": [
        *_ESTIMATE, "--model", "Qwen/Qwen3-32B", "--framework", "sglang", "--mode", "disagg", "--isl", "3000",
        "--osl", "400", "--request-rate", "3", "--prefill-tp", "2", "--prefill-workers", "2", "--decode-tp", "4",
        "--percentiles",
    ],
    "search-qwen3-32b-16gpus": [
        "search", "--model", "Qwen/Qwen3-32B", "--system", "h100_sxm", "--gpus", "16", "--isl", "4000", "--osl",
        "500", "--ttft", "1000", "--tpot", "20", "--json",
    ],
}  # fmt: skip


def run(arguments: list[str]) -> Any:
    result = CliRunner().invoke(cli, arguments, catch_exceptions=False)
    assert result.exit_code in (0, 4), result.output
    document = json.loads(result.stdout)
    for name in VOLATILE:
        document.pop(name, None)
    return document


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` departs from `expected`: floats beyond RELATIVE, anything else unequal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}/{key}: missing or extra" for key in expected.keys() ^ actual.keys()]
        for key in expected.keys() & actual.keys():
            found += differences(expected[key], actual[key], f"{path}/{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items expected, {len(actual)} found"]
        return [
            d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in differences(e, a, f"{path}[{i}]")
        ]
    if isinstance(expected, float) and isinstance(actual, float):
        close = math.isclose(expected, actual, rel_tol=RELATIVE) or (math.isnan(expected) and math.isnan(actual))
        return [] if close else [f"{path}: {expected!r} expected, {actual!r} found"]
    return [] if expected == actual else [f"{path}: {expected!r} expected, {actual!r} found"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_predictions_match_the_golden_files(case):
    document = run(CASES[case])
    golden = GOLDEN / f"{case}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    expected = json.loads(golden.read_text())
    found = differences(expected, document)
    assert not found, f"{case}: {len(found)} differences, the first: " + "; ".join(found[:5])

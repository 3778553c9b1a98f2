"""Shared by the search tests: the installed plugins and a small search task."""

from __future__ import annotations

import pytest

from servecast.domain.workload import Sla
from servecast.host import PluginHost
from servecast.search.task import SearchTask


@pytest.fixture(scope="session")
def host() -> PluginHost:
    return PluginHost.from_entry_points()


def task(**changes: object) -> SearchTask:
    """Qwen3-8B on 4 H100s, ISL 2000 / OSL 200, TTFT 2 s and TPOT 30 ms, with `changes`."""
    values: dict[str, object] = {
        "model": "Qwen/Qwen3-8B",
        "system": "h100_sxm",
        "gpus": 4,
        "isl": 2000,
        "osl": 200,
        "sla": Sla(ttft_ms=2000, tpot_ms=30),
    }
    return SearchTask.model_validate(values | changes)

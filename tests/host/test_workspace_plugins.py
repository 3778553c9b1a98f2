"""The development environment has the in-repo plugins installed, loading cleanly through their entry points."""

from __future__ import annotations

from servecast.host import PluginHost, PluginSettings, PluginStatus

IN_REPO = {
    "hardware_ada": "servecast-hardware-ada",
    "hardware_amd": "servecast-hardware-amd",
    "hardware_ampere": "servecast-hardware-ampere",
    "hardware_blackwell": "servecast-hardware-blackwell",
    "hardware_h100": "servecast-hardware-h100",
    "sglang": "servecast-sglang",
    "trtllm": "servecast-trtllm",
    "vllm": "servecast-vllm",
}


def test_the_in_repo_plugins_load_in_strict_mode():
    host = PluginHost.from_entry_points(PluginSettings(strict=True))
    ours = {record.name: record for record in host.records if record.name in IN_REPO}
    assert {name: record.distribution for name, record in ours.items()} == IN_REPO
    assert {record.status for record in ours.values()} == {PluginStatus.OK}
    systems = {"a100_sxm", "a100_sxm_40gb", "l40s", "l4", "h100_sxm", "h100_pcie", "h100_nvl", "h200_sxm", "b200_sxm"}
    systems |= {"mi300x", "mi325x", "mi355x"}
    assert systems <= set(host.hardware.names())
    assert {"sglang", "trtllm", "vllm"} <= set(host.frameworks.names())

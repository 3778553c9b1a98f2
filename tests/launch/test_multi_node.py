"""Deployments over several nodes: one launch.sh, run on every node with its NODE_RANK, parses for every layout,
replica count and mode, starts exactly that node's processes, and refuses a rank the deployment does not have; the
benchmark.sh run on the head node reaches each server on the node it listens on."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from servecast.errors import PluginError
from servecast.host import PluginHost
from servecast.launch import LaunchArtifacts, RoleLaunch
from servecast.launch.plan import plan_launch
from servecast.launch.write import render_launch, write_launch

from .conftest import request

FRAMEWORKS = ("vllm", "sglang", "trtllm")
MOE = "Qwen/Qwen3-30B-A3B"
LAYOUTS: dict[str, dict[str, object]] = {
    "agg-pp2": {"mode": "agg", "tp": 8, "pp": 2, "concurrency": 32},
    "agg-pp2-x2": {"mode": "agg", "tp": 8, "pp": 2, "replicas": 2, "concurrency": 64},
    "agg-pp4-x2": {"mode": "agg", "tp": 4, "pp": 4, "replicas": 2, "concurrency": 64},
    "agg-tp4-x3": {"mode": "agg", "tp": 4, "replicas": 3, "concurrency": 48},
    "agg-tp8-x2": {"mode": "agg", "tp": 8, "replicas": 2, "concurrency": 64},
    "disagg-pp2": {
        **{"mode": "disagg", "prefill_tp": 8, "prefill_pp": 2, "prefill_workers": 2},
        **{"decode_tp": 8, "decode_pp": 2, "decode_workers": 1, "concurrency": 64},
    },
    "disagg-mixed": {
        **{"mode": "disagg", "prefill_tp": 4, "prefill_workers": 3},
        **{"decode_tp": 8, "decode_pp": 2, "decode_workers": 1, "concurrency": 64},
    },
    "agg-wide-ep16": {"model": MOE, "mode": "agg", "dp": 16, "ep": 16, "moe_all_to_all": True, "concurrency": 256},
    "disagg-wide-ep": {
        **{"model": MOE, "mode": "disagg", "prefill_dp": 16, "prefill_ep": 16, "prefill_moe_all_to_all": True},
        **{"decode_dp": 24, "decode_ep": 24, "decode_redundant_experts": 16, "decode_moe_all_to_all": True},
        "concurrency": 512,
    },
}
"""Layouts on 8-GPU nodes: Qwen3-32B instances spanning nodes, several of them, and pools sharing nodes; Qwen3-30B-A3B
(128 experts) with expert parallelism over two and three nodes, all-to-all, and EPLB's redundant experts."""
STUBBED = ("mpirun", "ray", "vllm", "vllm-router", "python", "trtllm-serve", "curl")
"""Every program a launch.sh or benchmark.sh starts (after `env`), replaced in the tests by a stub that logs its
arguments (and succeeds: curl's poll answers at once)."""


def written(
    host: PluginHost, tmp_path: Path, framework: str, layout: str, **changes: object
) -> tuple[LaunchArtifacts, Path]:
    values = {"model": "Qwen/Qwen3-32B", "framework": framework, "isl": 1000, "osl": 100, **LAYOUTS[layout], **changes}
    plan = plan_launch(host, request(**values))
    artifacts = render_launch(host, plan.deployment)
    folder = tmp_path / "deploy"
    write_launch(plan, artifacts, folder)
    return artifacts, folder


def addresses(artifacts: LaunchArtifacts) -> dict[str, str]:
    return {name: f"10.0.0.{index}" for index, name in enumerate(sorted(artifacts.variables), start=1)}


def run_node(folder: Path, rank: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """launch.sh run as node `rank`, every program it starts replaced by a stub logging to `started.log`."""
    return run_script(folder, ["launch.sh", rank], environment)


def run_script(folder: Path, command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A script of the folder run with its arguments, every program it starts replaced by a stub logging to
    `started.log`."""
    stubs = folder.parent / "bin"
    if not stubs.exists():
        stubs.mkdir()
        for program in STUBBED:
            stub = stubs / program
            stub.write_text('#!/usr/bin/env bash\nprintf \'%s\\n\' "$(basename "$0") $*" >> "$STARTED"\n')
            stub.chmod(0o755)
    log = folder.parent / "started.log"
    log.unlink(missing_ok=True)
    log.touch()
    env = {**os.environ, **environment, "PATH": f"{stubs}:{os.environ['PATH']}", "STARTED": str(log)}
    return subprocess.run(
        ["bash", str(folder / command[0]), *command[1:]], capture_output=True, text=True, env=env, timeout=60
    )


def started(folder: Path) -> list[str]:
    """What the last script run started, as its stubs logged it."""
    return (folder.parent / "started.log").read_text().splitlines()


def expanded(role: RoleLaunch, values: dict[str, str]) -> str:
    line = " ".join(role.argv)
    for name, value in values.items():
        line = line.replace(f"{{{name}}}", value)
    return line


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_launch_and_benchmark_scripts_parse_for_every_layout_replica_count_and_mode(host, tmp_path, framework, layout):
    _, folder = written(host, tmp_path, framework, layout)
    for script in ("launch.sh", "benchmark.sh"):
        parsed = subprocess.run(["bash", "-n", str(folder / script)], capture_output=True, text=True)
        assert parsed.returncode == 0, f"{script}: {parsed.stderr}"


@pytest.mark.parametrize("layout", ["agg-pp2-x2", "agg-tp4-x3", "disagg-mixed", "disagg-wide-ep"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_node_rank_starts_exactly_the_processes_placed_on_that_node(host, tmp_path, framework, layout):
    artifacts, folder = written(host, tmp_path, framework, layout)
    values = addresses(artifacts)
    assert artifacts.node_count > 1
    for node in range(artifacts.node_count):
        result = run_node(folder, str(node), values)
        assert result.returncode == 0, result.stderr
        started = sorted(  # started in the background: in any order
            line
            for line in (folder.parent / "started.log").read_text().splitlines()
            if line != "ray status"  # the readiness poll after a Ray head
        )
        assert started == sorted(expanded(role, values) for role in artifacts.roles if role.node == node)
        if not started:
            assert "starts nothing itself" in result.stdout


def test_tensorrt_llm_replicas_over_several_nodes_leave_the_mpirun_nodes_nothing_to_start(host, tmp_path):
    artifacts, folder = written(host, tmp_path, "trtllm", "agg-pp2-x2")
    script = (folder / "launch.sh").read_text()
    assert "NODE_RANK (0 to 3; 0 is the head node)" in script
    assert sorted({role.node for role in artifacts.roles}) == [0, 2]
    assert "  1 | 3)" in script
    assert "then\nfi" not in script and "then\n  fi" not in script


def test_a_node_rank_outside_the_deployment_is_refused_with_the_ranks_it_has(host, tmp_path):
    artifacts, folder = written(host, tmp_path, "vllm", "agg-pp2-x2")
    for rank in ("4", "head", "-1"):
        result = run_node(folder, rank, addresses(artifacts))
        assert result.returncode == 2
        assert f"unknown NODE_RANK '{rank}' (give 0 to 3; 0 is the head node)" in result.stderr
        assert (folder.parent / "started.log").read_text() == ""


def test_a_node_is_asked_only_for_the_addresses_its_own_processes_use(host, tmp_path):
    artifacts, folder = written(host, tmp_path, "sglang", "agg-pp2-x2")
    result = run_node(folder, "3", {"NODE2_ADDR": "10.0.0.3"})  # node 3 joins the instance led by node 2
    assert result.returncode == 0, result.stderr
    missing = run_node(folder, "3", {})
    assert missing.returncode != 0 and "set NODE2_ADDR" in missing.stderr


def test_a_shell_script_bash_cannot_parse_is_refused_before_anything_is_written(host, tmp_path):
    plan = plan_launch(host, request(framework="vllm", tp=1, concurrency=8))
    artifacts = render_launch(host, plan.deployment)
    broken = artifacts.model_copy(update={"files": {"helper.sh": "if [ -n x ]; then\nfi\n"}})
    folder = tmp_path / "deploy"
    with pytest.raises(PluginError, match="helper.sh that bash cannot parse"):
        write_launch(plan, broken, folder)
    assert not folder.exists() or not any(folder.iterdir())


def served_port(line: str, folder: Path) -> int | None:
    """The port whose HTTP server a started process runs itself: its `--port` (the disaggregated TensorRT-LLM
    router's is in disagg.yml), none for a Ray node or an SGLang rank after the first (rank 0 serves HTTP)."""
    words = line.split()
    if words[0] == "ray" or ("--node-rank" in words and words[words.index("--node-rank") + 1] != "0"):
        return None
    if "disaggregated" in words:
        return int(yaml.safe_load((folder / words[words.index("-c") + 1]).read_text())["port"])
    return int(words[words.index("--port") + 1]) if "--port" in words else None


def server_nodes(artifacts: LaunchArtifacts, folder: Path, values: dict[str, str]) -> dict[int, set[str]]:
    """Port -> the addresses of the nodes whose server listens on it, from running launch.sh as every node: the
    node whose branch starts it (mpirun's first host, where its rank 0 serves HTTP)."""
    address = {node: values["HEAD_ADDR" if node == 0 else f"NODE{node}_ADDR"] for node in range(artifacts.node_count)}
    served: dict[int, set[str]] = {}
    for node in range(artifacts.node_count):
        result = run_node(folder, str(node), values)
        assert result.returncode == 0, result.stderr
        for line in started(folder):
            port = served_port(line, folder)
            if port is not None:
                words = line.split()
                host = words[words.index("-H") + 1].split(",")[0].split(":")[0] if words[0] == "mpirun" else None
                served.setdefault(port, set()).add(host or address[node])
    return served


def reached(line: str) -> tuple[str, int]:
    """The host and port a benchmark.sh poll or client connects to."""
    words = line.split()
    if words[0] == "curl":
        url = words[-1]
    elif "--base-url" in words:
        url = words[words.index("--base-url") + 1]
    else:
        url = f"http://{words[words.index('--host') + 1]}:{words[words.index('--port') + 1]}"
    host, port = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    return host, int(port)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_benchmark_polls_and_drives_each_server_on_the_node_that_starts_it(host, tmp_path, framework, layout):
    artifacts, folder = written(host, tmp_path, framework, layout)
    values = addresses(artifacts)
    served = server_nodes(artifacts, folder, values)
    result = run_script(folder, ["benchmark.sh"], values)  # on the head node: localhost is node 0
    assert result.returncode == 0, result.stderr
    lines = started(folder)
    polls = [reached(line) for line in lines if line.startswith("curl ")]
    clients = [reached(line) for line in lines if not line.startswith("curl ")]
    assert sorted(port for _, port in polls) == sorted(endpoint.port for endpoint in artifacts.endpoints)
    assert sorted(clients) == sorted(polls) and len(clients) == len(artifacts.benchmark)
    for reached_host, port in polls + clients:
        (server,) = served[port]
        assert reached_host == ("localhost" if server == values["HEAD_ADDR"] else server), (port, served)
    spread = any(endpoint.node for endpoint in artifacts.endpoints)
    assert spread == (layout in ("agg-pp2-x2", "agg-pp4-x2", "agg-tp4-x3", "agg-tp8-x2"))


def test_benchmark_sh_says_where_it_runs_and_asks_for_the_addresses_it_reaches(host, tmp_path):
    artifacts, folder = written(host, tmp_path, "trtllm", "agg-pp2-x2")
    script = (folder / "benchmark.sh").read_text()
    assert "# Run it on the head node (NODE_RANK 0)" in script
    assert [(endpoint.port, endpoint.node) for endpoint in artifacts.endpoints] == [(8100, 0), (8101, 2)]
    assert 'until curl -sf http://"$NODE2_ADDR":8101/v1/models' in script
    missing = run_script(folder, ["benchmark.sh"], {})
    assert missing.returncode != 0 and "set NODE2_ADDR: node 2 address" in missing.stderr
    assert started(folder) == []  # checked before polling anything


def test_a_config_file_naming_node_addresses_is_filled_in_by_launch_sh_on_its_node(host, tmp_path):
    """TensorRT-LLM's disaggregated router lists its servers' addresses in disagg.yml: it is written as a template
    and launch.sh on the head node fills in the addresses before the router reads it."""
    artifacts, folder = written(host, tmp_path, "trtllm", "disagg-mixed")
    assert not (folder / "disagg.yml").exists() and (folder / "disagg.yml.template").exists()
    values = addresses(artifacts)
    result = run_node(folder, "0", values)
    assert result.returncode == 0, result.stderr
    router = yaml.safe_load((folder / "disagg.yml").read_text())
    urls = [*router["context_servers"]["urls"], *router["generation_servers"]["urls"]]
    assert urls and all(url.split(":")[0] in values.values() for url in urls)


def test_a_node_address_that_could_break_a_config_file_is_refused(host, tmp_path):
    artifacts, folder = written(host, tmp_path, "trtllm", "disagg-mixed")
    result = run_node(folder, "0", {**addresses(artifacts), "HEAD_ADDR": "10.0.0.1|x"})
    assert result.returncode == 2
    assert "HEAD_ADDR='10.0.0.1|x' is not a node address" in result.stderr
    assert not (folder / "disagg.yml").exists()


def test_sglang_wide_ep_runs_deepep_and_eplb_on_every_node_of_the_pool(host, tmp_path):
    artifacts, _ = written(host, tmp_path, "sglang", "disagg-wide-ep", decode_two_batch_overlap=True)
    decode = [role for role in artifacts.roles if role.role.startswith("decode-0")]
    assert len(decode) == 3
    for rank, role in enumerate(decode):
        argv = " ".join(role.argv)
        assert "--moe-a2a-backend deepep --enable-two-batch-overlap" in argv
        assert "--ep-num-redundant-experts 16 --enable-eplb" in argv
        assert "--tp-size 24 --dp-size 24 --enable-dp-attention --moe-dense-tp-size 1 --ep-size 24" in argv
        assert f"--nnodes 3 --dist-init-addr {{NODE2_ADDR}}:5000 --node-rank {rank}" in argv


def test_vllm_runs_data_parallel_nodes_headless_behind_the_head_and_prefill_on_high_throughput_kernels(host, tmp_path):
    artifacts, _ = written(host, tmp_path, "vllm", "disagg-wide-ep")
    decode = [role for role in artifacts.roles if role.role.startswith("decode-0")]
    assert [role.role for role in decode] == ["decode-0", "decode-0-node1", "decode-0-node2"]
    for rank, role in enumerate(decode):
        argv = " ".join(role.argv)
        assert "--data-parallel-size 24 --enable-expert-parallel" in argv
        assert '--enable-eplb --eplb-config {"num_redundant_experts":16}' in argv
        assert "--all2all-backend deepep_low_latency" in argv
        assert "--data-parallel-size-local 8 --data-parallel-address {NODE2_ADDR}" in argv
        assert ("--headless" in role.argv) == (rank > 0) and ("--port" in role.argv) == (rank == 0)
    prefill = next(role for role in artifacts.roles if role.role.startswith("prefill-0"))
    assert "--all2all-backend deepep_high_throughput" in " ".join(prefill.argv)


def test_vllm_before_the_all_to_all_flag_sets_it_in_the_environment(host, tmp_path):
    artifacts, _ = written(host, tmp_path, "vllm", "agg-wide-ep16", framework_version="0.11.0")
    server = next(role for role in artifacts.roles if role.role == "agg-0")
    assert server.env["VLLM_ALL2ALL_BACKEND"] == "deepep_low_latency"
    assert "--all2all-backend" not in server.argv


def test_tensorrt_llm_wide_ep_exports_deepep_to_every_rank_and_sizes_the_expert_slots(host, tmp_path):
    artifacts, folder = written(host, tmp_path, "trtllm", "disagg-wide-ep")
    decode = next(role for role in artifacts.roles if role.role == "decode-0")
    assert decode.env["TRTLLM_CAN_USE_DEEP_EP"] == "1"
    assert decode.argv[:1] == ("mpirun",) and "TRTLLM_CAN_USE_DEEP_EP" in decode.argv
    options = yaml.safe_load((folder / "extra-llm-api-decode-0.yml").read_text())
    assert options["moe_config"] == {"backend": "WIDEEP", "load_balancer": "moe-load-balancer-decode-0.yml"}
    assert yaml.safe_load((folder / "moe-load-balancer-decode-0.yml").read_text()) == {"num_slots": 144}

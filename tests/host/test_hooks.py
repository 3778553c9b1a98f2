"""One test per hook: a plugin implementing it is heard, through the host, with the documented semantics.

The meta-test in test_hook_documentation.py requires a `test_hook_<name>` here for every hook spec.
"""

from __future__ import annotations

import pytest

from servecast.domain import Candidate, ParallelLayout, Quantization, ServingMode, Target
from servecast.domain.vocabulary import KvCacheDtype
from servecast.errors import PluginError
from servecast.launch import Deployment, LaunchArtifacts, WorkerGroup, WorkerRole
from servecast.ops import OpKind
from servecast.perfdb import PerfTableRef

from ..conftest import FRAMEWORK_TOML

H100 = Target(hardware="h100_sxm", framework="vllm", framework_version="0.11.0")


def a_candidate(tp):
    return Candidate(
        model="meta-llama/Llama-3.1-8B",
        mode=ServingMode.AGGREGATED,
        layout=ParallelLayout(tp=tp),
        quantization=Quantization.BF16,
        kv_cache_dtype=KvCacheDtype.BF16,
    )


def test_hook_servecast_register_hardware(fake_site):
    fake_site.add_hardware_plugin("acme", "acme_gpu")
    assert fake_site.host().hardware.get("acme_gpu").gpu.sm_count == 132


def test_hook_servecast_register_perf_tables(fake_site, tmp_path):
    fake_site.add_plugin(
        "tables",
        f"""
        from servecast import hookimpl
        from servecast.ops import OpKind
        from servecast.perfdb import PerfTableRef

        @hookimpl
        def servecast_register_perf_tables():
            return [PerfTableRef(hardware="h100_sxm", op=OpKind.GEMM, csv_path={str(tmp_path / "g.csv")!r},
                                 metadata_path={str(tmp_path / "g.toml")!r})]
        """,
    )
    (entry,) = fake_site.host().perf_tables
    assert isinstance(entry.value, PerfTableRef)
    assert entry.value.key == ("h100_sxm", None, None, OpKind.GEMM)
    assert entry.name == "h100_sxm/any/gemm"


def test_hook_servecast_register_frameworks(fake_site):
    fake_site.add_framework_plugin("toy", FRAMEWORK_TOML)
    spec = fake_site.host().frameworks.get("toyserve")
    assert spec.version("2.0.0").knob("max_seqs").default == 1024
    assert fake_site.host().frameworks.entry("toyserve").owner.name == "toy"


def test_hook_servecast_register_model_families(fake_site):
    fake_site.add_plugin(
        "mamba",
        """
        from servecast import hookimpl

        class MambaFamily:
            name = "mamba"
            architectures = ("MambaForCausalLM",)

            def build(self, config):
                return dict(config)

        @hookimpl
        def servecast_register_model_families():
            return [MambaFamily()]
        """,
    )
    host = fake_site.host()
    assert host.architectures.get("MambaForCausalLM").name == "mamba"
    assert host.model_families.names() == ["mamba"]


def test_hook_servecast_register_model_families_conflict_on_an_architecture(fake_site):
    for name in ("one", "two"):
        fake_site.add_plugin(
            name,
            f"""
            from servecast import hookimpl

            class Family:
                name = "{name}"
                architectures = ("LlamaForCausalLM",)

                def build(self, config):
                    return config

            @hookimpl
            def servecast_register_model_families():
                return [Family()]
            """,
        )
    host = fake_site.host()
    assert host.model_families.names() == ["one", "two"]
    with pytest.raises(PluginError, match="architecture 'LlamaForCausalLM' is registered by both fake-one"):
        host.architectures.get("LlamaForCausalLM")


def test_hook_servecast_op_estimator(fake_site):
    """Firstresult, with the framework's kernel preferred over a trylast default, and subset arguments allowed."""
    fake_site.add_plugin(
        "defaults",
        """
        import numpy as np
        from servecast import hookimpl
        from servecast.ops import OpEstimate

        def roofline(shapes, dtype="bf16"):
            return OpEstimate(np.full(1, 2.0), np.full(1, 4, dtype=np.int8))

        @hookimpl(trylast=True)
        def servecast_op_estimator(op):
            return roofline
        """,
    )
    fake_site.add_plugin(
        "framework_kernels",
        """
        import numpy as np
        from servecast import hookimpl
        from servecast.ops import OpEstimate, OpKind

        def custom_all_reduce(shapes, dtype="bf16"):
            return OpEstimate(np.full(1, 1.0), np.zeros(1, dtype=np.int8))

        @hookimpl
        def servecast_op_estimator(op, target):
            if op is OpKind.ALL_REDUCE and target.framework == "vllm":
                return custom_all_reduce
            return None
        """,
    )
    host = fake_site.host()
    assert host.op_estimator(OpKind.ALL_REDUCE, H100)({}).latency_ms[0] == 1.0
    assert host.op_estimator(OpKind.GEMM, H100)({}).latency_ms[0] == 2.0
    sglang = H100.model_copy(update={"framework": "sglang"})
    assert host.op_estimator(OpKind.ALL_REDUCE, sglang)({}).latency_ms[0] == 2.0


def test_hook_servecast_scheduler(fake_site):
    fake_site.add_plugin(
        "policy",
        """
        from dataclasses import dataclass
        from servecast import hookimpl
        from servecast.domain import Target

        @dataclass(frozen=True)
        class Policy:
            target: Target

            def settings(self, context, overrides=None):
                raise NotImplementedError

        @hookimpl
        def servecast_scheduler(target):
            return Policy(target) if target.framework == "vllm" else None
        """,
    )
    host = fake_site.host()
    assert host.scheduler(H100).target == H100
    assert host.scheduler(H100) is host.scheduler(H100)
    with pytest.raises(PluginError, match="scheduling policy for sglang"):
        host.scheduler(H100.model_copy(update={"framework": "sglang"}))


def test_hook_servecast_check_candidate(fake_site):
    fake_site.add_plugin(
        "vetoes",
        """
        from servecast import hookimpl

        @hookimpl
        def servecast_check_candidate(candidate, target):
            if candidate.layout.tp > 1 and target.framework == "vllm":
                return ["tp above 1 is vetoed in this test"]
            return []
        """,
    )
    fake_site.add_plugin(
        "silent",
        """
        from servecast import hookimpl

        @hookimpl
        def servecast_check_candidate(candidate):
            return None
        """,
    )
    host = fake_site.host()
    (veto,) = host.check_candidate(a_candidate(tp=2), H100)
    assert (veto.plugin, veto.reason) == ("vetoes", "tp above 1 is vetoed in this test")
    assert host.check_candidate(a_candidate(tp=1), H100) == ()


def test_hook_servecast_launch_config(fake_site):
    fake_site.add_plugin(
        "launcher",
        """
        from servecast import hookimpl
        from servecast.launch import LaunchArtifacts, RoleLaunch

        @hookimpl
        def servecast_launch_config(deployment, target):
            if target.framework != "vllm":
                return None
            (group,) = deployment.workers
            argv = ("vllm", "serve", deployment.model, "--tensor-parallel-size", str(group.layout.tp))
            role = RoleLaunch(role="agg", framework="vllm", version=target.framework_version,
                              gpus=group.layout.gpus, argv=argv)
            return LaunchArtifacts(roles=(role,))
        """,
    )
    deployment = Deployment(
        model="meta-llama/Llama-3.1-8B",
        hardware="h100_sxm",
        framework="vllm",
        framework_version="0.11.0",
        mode=ServingMode.AGGREGATED,
        workers=(WorkerGroup(role=WorkerRole.AGGREGATED, layout=ParallelLayout(tp=2)),),
    )
    artifacts = fake_site.host().launch_config(deployment, H100)
    assert isinstance(artifacts, LaunchArtifacts)
    assert artifacts.roles[0].argv[-2:] == ("--tensor-parallel-size", "2")
    assert deployment.gpus == 2

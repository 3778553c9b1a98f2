"""docs/add-a-gpu.md, step by step, in a fresh environment: scaffold, collect (the CPU backend stands in for the
GPU), install, test, estimate with measured provenance, fit the calibration, search."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from .test_isolated_install import ROOT, Environment

GUIDE = ROOT / "docs" / "add-a-gpu.md"
PACKAGE = "servecast-hardware-h200-sxm"
DATA = f"{PACKAGE}/servecast_hardware_h200_sxm/data"
SCAFFOLD = (
    'servecast new-plugin hardware h200_sxm --out servecast-hardware-h200-sxm --display-name "NVIDIA H200 SXM 141GB '
    '(HGX 8-GPU)"'
)
COLLECT = "servecast collect --into servecast-hardware-h200-sxm"
INSTALL = 'pip install -e "servecast-hardware-h200-sxm[test]"'
TEST = "pytest servecast-hardware-h200-sxm/tests"
ESTIMATE = "servecast ops estimate --system h200_sxm --input ops.csv --json"
FIT = f"servecast hardware fit h200_sxm --write {DATA}/h200_sxm_calibration.toml"
SEARCH = "servecast search --model Qwen/Qwen3-8B --system h200_sxm --gpus 8 --isl 2000 --osl 200"
CPU_BACKEND = ("--backend", "numpy-cpu")
"""What CI adds to the guide's collect command: it has no GPU."""

OPS = """op,dtype,m,n,k,batch,seq_len,kv_len,num_heads,num_kv_heads,head_dim,kv_dtype,message_bytes,num_gpus
gemm,fp16,8,128,128,,,,,,,,,
gemm,fp16,16,96,128,,,,,,,,,
gemm,fp16,4096,4096,4096,,,,,,,,,
context_attention,bf16,,,,2,32,,4,2,16,bf16,,
generation_attention,bf16,,,,3,,128,4,2,16,bf16,,
all_reduce,bf16,,,,,,,,,,,1048576,8
"""


def test_every_step_the_test_runs_is_written_in_the_guide():
    guide = GUIDE.read_text()
    for command in (SCAFFOLD, COLLECT, INSTALL, TEST, ESTIMATE, FIT, SEARCH):
        assert f"$ {command}\n" in guide, command


@pytest.mark.install
def test_a_gpu_is_added_by_following_the_guide(tmp_path):
    venv = Environment(tmp_path / "venv")
    venv.install(ROOT, ROOT / "plugins" / "vllm")
    work = tmp_path / "work"
    work.mkdir()

    def run(command: str, *extra: str) -> str:
        words = shlex.split(command)
        executable = venv.root / "bin" / words[0]
        completed = subprocess.run(
            [str(executable), *words[1:], *extra], capture_output=True, text=True, env=venv.env, cwd=work, check=False
        )
        assert completed.returncode == 0, f"{command}\n{completed.stdout}\n{completed.stderr}"
        return completed.stdout

    run(SCAFFOLD)
    run(COLLECT, *CPU_BACKEND)
    tables = sorted(path.name for path in (work / DATA / "tables").glob("*.toml"))
    assert tables == ["context_attention.toml", "decode_attention.toml", "elementwise.toml", "gemm.toml"]
    venv.install("-e", f"{work / PACKAGE}[test]")
    run(TEST)

    (work / "ops.csv").write_text(OPS)
    before = [row["provenance"] for row in json.loads(run(ESTIMATE))]
    assert before == ["measured", "interpolated", "extrapolated", "interpolated", "interpolated", "roofline"]

    run(FIT)
    spec = work / DATA / "h200_sxm.toml"
    spec.write_text(spec.read_text().replace('# calibration = "', 'calibration = "'))
    after = [row["provenance"] for row in json.loads(run(ESTIMATE))]
    assert after == [*before[:-1], "calibrated_roofline"]
    shown = run("servecast hardware show h200_sxm")
    assert "servecast hardware fit h200_sxm" in shown

    assert "vllm/agg" in run(SEARCH)

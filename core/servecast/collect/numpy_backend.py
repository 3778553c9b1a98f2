"""A backend that really measures the CPU with NumPy: the collector's whole pipeline runs in CI without a GPU.

Its numbers describe this CPU, not a GPU; they exist so tests exercise real timings instead of invented ones.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from servecast.collect.backend import Advance, CollectError, DeviceInfo, OpSupport
from servecast.collect.plan import AttentionShape, RunSize, Sweep, Timing
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind

Run = Callable[[], object]

DEFAULT_CACHE_BYTES = 32 * 2**20
"""Last-level cache size assumed when the operating system does not report one."""


class NumpyCpuBackend:
    """GEMM, attention and memory copies in NumPy on one CPU; no collectives (one device)."""

    name = "numpy-cpu"
    default_size = RunSize.TINY

    def __init__(self) -> None:
        self._flush = np.zeros(2 * _last_level_cache_bytes(), dtype=np.uint8)

    def device(self) -> DeviceInfo:
        blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
        return DeviceInfo(
            name=_cpu_name(),
            software=(
                f"NumPy {np.__version__} ({blas.get('name', 'unknown BLAS')} {blas.get('version', '')}".rstrip()
                + f"), Python {platform.python_version()}, {platform.platform()}"
            ),
            count=1,
            method=(
                f"time.perf_counter_ns around each repeat, after writing a {self._flush.nbytes / 2**20:g} MiB buffer "
                "(twice the last-level cache) to evict the operands"
            ),
        )

    def support(self) -> dict[OpKind, OpSupport | str]:
        sixteen_bit = "float16 elements standing in for bf16 (NumPy has no bfloat16)"
        supported: dict[OpKind, OpSupport | str] = {
            OpKind.GEMM: OpSupport("numpy.matmul in float16 (NumPy's own loop: BLAS has no float16)", (OpDtype.FP16,)),
            OpKind.CONTEXT_ATTENTION: OpSupport(
                f"NumPy reference attention (matmul, causal mask, softmax, matmul), {sixteen_bit}", (OpDtype.BF16,)
            ),
            OpKind.DECODE_ATTENTION: OpSupport(
                f"NumPy reference attention (matmul, softmax, matmul) of one query token, {sixteen_bit}",
                (OpDtype.BF16,),
            ),
            OpKind.ELEMENTWISE: OpSupport(
                "numpy.copyto of 2-byte elements (bytes counts what is read plus what is written)", (OpDtype.BF16,)
            ),
        }
        for op in (OpKind.ALL_REDUCE, OpKind.ALL_GATHER, OpKind.REDUCE_SCATTER, OpKind.ALL_TO_ALL, OpKind.P2P):
            supported[op] = "a CPU backend has one device, so there is nothing to communicate with"
        return supported

    def measure(self, sweep: Sweep, timing: Timing, advance: Advance) -> list[tuple[float, ...]]:
        build = _KERNELS.get(sweep.op)
        if build is None:
            raise CollectError(f"the {self.name} backend does not measure {sweep.op.value}")
        results = []
        for point in sweep.points():
            run = build(point)
            for _ in range(timing.warmup):
                run()
            samples = []
            for _ in range(timing.repeats):
                self._flush.fill(1)
                start = time.perf_counter_ns()
                run()
                samples.append((time.perf_counter_ns() - start) / 1e6)
            results.append(tuple(samples))
            advance(1)
        return results


def _gemm(point: dict[str, float]) -> Run:
    rng = np.random.default_rng(0)
    m, n, k = int(point["m"]), int(point["n"]), int(point["k"])
    a = rng.standard_normal((m, k)).astype(np.float16)
    weight = rng.standard_normal((k, n)).astype(np.float16)
    out = np.empty((m, n), dtype=np.float16)
    return lambda: np.matmul(a, weight, out=out)


def _attention(op: OpKind) -> Callable[[dict[str, float]], Run]:
    """Grouped-query attention: each KV head serves heads / kv_heads query heads."""

    def build(point: dict[str, float]) -> Run:
        a = AttentionShape.of(op, point)
        rng = np.random.default_rng(0)
        q = rng.standard_normal((a.batch, a.kv_heads, a.heads // a.kv_heads, a.q_len, a.head_dim)).astype(np.float16)
        k = rng.standard_normal((a.batch, a.kv_heads, 1, a.kv_len, a.head_dim)).astype(np.float16)
        v = rng.standard_normal((a.batch, a.kv_heads, 1, a.kv_len, a.head_dim)).astype(np.float16)
        scale = np.float16(a.head_dim**-0.5)
        above = a.kv_len - a.q_len + 1
        mask = np.triu(np.full((a.q_len, a.kv_len), -np.inf, dtype=np.float16), k=above) if a.causal else None

        def run() -> object:
            scores = np.matmul(q, k.swapaxes(-1, -2)) * scale
            if mask is not None:
                scores += mask
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            return np.matmul(weights, v)

        return run

    return build


def _copy(point: dict[str, float]) -> Run:
    elements = int(point["bytes"]) // 4
    source = np.ones(elements, dtype=np.uint16)
    target = np.empty_like(source)
    return lambda: np.copyto(target, source)


_KERNELS: dict[OpKind, Callable[[dict[str, float]], Run]] = {
    OpKind.GEMM: _gemm,
    OpKind.CONTEXT_ATTENTION: _attention(OpKind.CONTEXT_ATTENTION),
    OpKind.DECODE_ATTENTION: _attention(OpKind.DECODE_ATTENTION),
    OpKind.ELEMENTWISE: _copy,
}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _last_level_cache_bytes() -> int:
    sizes = []
    for entry in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = entry.read_text().strip()
        multiplier = {"K": 2**10, "M": 2**20}.get(text[-1:], 1)
        digits = text.rstrip("KM")
        if digits.isdigit():
            sizes.append(int(digits) * multiplier)
    return max(sizes, default=DEFAULT_CACHE_BYTES)

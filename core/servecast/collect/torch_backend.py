"""The GPU backend: PyTorch on the local CUDA (or ROCm) device, timed with CUDA events.

Imported only when `servecast collect --backend torch` is run, so the core never imports torch otherwise; needs
the `servecast[collect]` extra. Collectives run one process per visible GPU over torch.distributed (NCCL).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch  # type: ignore[import-not-found, unused-ignore]
import torch.distributed as dist  # type: ignore[import-not-found, unused-ignore]
import torch.nn.functional as F  # type: ignore[import-not-found, unused-ignore]  # noqa: N812
from packaging.version import Version

from servecast.collect.backend import Advance, CollectError, DeviceInfo, OpSupport
from servecast.collect.plan import COLLECTIVES, AttentionShape, RunSize, Sweep, Timing, shape_value
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind

Run = Callable[[], object]

FALLBACK_L2_BYTES = 64 * 2**20
"""L2 size assumed when PyTorch does not report it."""
TORCH_DTYPES = {OpDtype.BF16: torch.bfloat16, OpDtype.FP16: torch.float16}
SDPA_HAS_GQA = Version(torch.__version__.split("+")[0]) >= Version("2.5")
"""torch.nn.functional.scaled_dot_product_attention takes enable_gqa from PyTorch 2.5."""


class TorchBackend:
    """GEMM (bf16, fp16, fp8 where the GPU has it), attention (FlashAttention if importable, else PyTorch SDPA),
    device-local copies, and NCCL collectives when several GPUs are visible."""

    name = "torch"
    default_size = RunSize.FULL

    def __init__(self) -> None:
        if not torch.cuda.is_available():
            raise CollectError(
                f"PyTorch {torch.__version__} sees no GPU (torch.cuda.is_available() is False)",
                "run on a machine with a GPU and a CUDA or ROCm build of PyTorch; --backend numpy-cpu measures the CPU",
            )
        self._device = torch.device("cuda", torch.cuda.current_device())
        properties = torch.cuda.get_device_properties(self._device)
        self._properties = properties
        self._flush = torch.empty(_flush_bytes(properties), dtype=torch.uint8, device=self._device)
        self._flash = _flash_attn()

    def device(self) -> DeviceInfo:
        return DeviceInfo(
            name=str(self._properties.name),
            software=_software(self._flash),
            count=torch.cuda.device_count(),
            method=(
                f"CUDA events around each repeat on one stream, after zeroing a {self._flush.numel() / 2**20:g} MiB "
                "buffer (twice the L2 cache) so operands come from HBM"
            ),
        )

    def support(self) -> dict[OpKind, OpSupport | str]:
        gemm_dtypes = (OpDtype.BF16, OpDtype.FP16, *((OpDtype.FP8,) if self._has_fp8() else ()))
        attention = (
            f"flash_attn {self._flash.__version__}"
            if self._flash
            else "torch.nn.functional.scaled_dot_product_attention (PyTorch picks the flash, efficient or math kernel)"
            + ("" if SDPA_HAS_GQA else " with K/V repeated to every query head (no enable_gqa before PyTorch 2.5)")
        )
        supported: dict[OpKind, OpSupport | str] = {
            OpKind.GEMM: OpSupport(
                "torch.mm on row-major activations and (n, k) weights (cuBLAS/cuBLASLt); fp8: torch._scaled_mm, "
                "e4m3 operands, per-tensor scales, bf16 output",
                gemm_dtypes,
            ),
            OpKind.CONTEXT_ATTENTION: OpSupport(
                f"{attention}, causal" + (" (flash_attn_func)" if self._flash else ""), (OpDtype.BF16,)
            ),
            OpKind.DECODE_ATTENTION: OpSupport(
                f"{attention}, one query token" + (" (flash_attn_with_kvcache)" if self._flash else ""),
                (OpDtype.BF16,),
            ),
            OpKind.ELEMENTWISE: OpSupport(
                "torch.Tensor.copy_ between bf16 tensors on one GPU (bytes counts what is read plus written)",
                (OpDtype.BF16,),
            ),
        }
        for op in COLLECTIVES:
            supported[op] = OpSupport(
                f"torch.distributed {_COLLECTIVE_CALLS[op]} over NCCL, one process per GPU, bf16", (OpDtype.BF16,)
            )
        return supported

    def measure(self, sweep: Sweep, timing: Timing, advance: Advance) -> list[tuple[float, ...]]:
        if sweep.op in COLLECTIVES:
            return _measure_collective(sweep, timing, advance)
        build = _KERNELS[sweep.op]
        results = []
        for point in sweep.points():
            try:
                results.append(time_repeats(build(self, point, sweep.dtype), timing, self._flush))
            except torch.cuda.OutOfMemoryError:
                shape = " ".join(f"{name}={shape_value(value)}" for name, value in point.items())
                raise CollectError(
                    f"{sweep.op.value} {sweep.dtype.value} at {shape} does not fit in "
                    f"{self._properties.total_memory / 2**30:.0f} GiB",
                    "use --quick, or --op to leave this op out",
                ) from None
            advance(1)
        return results

    def _has_fp8(self) -> bool:
        capability = torch.cuda.get_device_capability(self._device)
        return bool(torch.version.cuda) and capability >= (8, 9) and hasattr(torch, "_scaled_mm")

    def randn(self, *shape: int, dtype: Any = torch.bfloat16) -> Any:
        return torch.randn(*shape, device=self._device, dtype=dtype)


def time_repeats(run: Run, timing: Timing, flush: Any) -> tuple[float, ...]:
    """Warm up, then time each repeat with CUDA events after flushing L2; launch overhead hides behind the flush."""
    for _ in range(timing.warmup):
        run()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(timing.repeats)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(timing.repeats)]
    for start, end in zip(starts, ends, strict=True):
        flush.zero_()
        start.record()
        run()
        end.record()
    torch.cuda.synchronize()
    return tuple(float(start.elapsed_time(end)) for start, end in zip(starts, ends, strict=True))


def _gemm(backend: TorchBackend, point: dict[str, float], dtype: OpDtype) -> Run:
    m, n, k = int(point["m"]), int(point["n"]), int(point["k"])
    if dtype is OpDtype.FP8:
        activation = backend.randn(m, k).to(torch.float8_e4m3fn)
        weight = backend.randn(n, k).to(torch.float8_e4m3fn)
        one = torch.ones((), device=activation.device, dtype=torch.float32)
        return lambda: torch._scaled_mm(activation, weight.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
    activation = backend.randn(m, k, dtype=TORCH_DTYPES[dtype])
    weight = backend.randn(n, k, dtype=TORCH_DTYPES[dtype])
    out = torch.empty(m, n, device=activation.device, dtype=TORCH_DTYPES[dtype])
    return lambda: torch.mm(activation, weight.t(), out=out)


def _attention(op: OpKind) -> Callable[[TorchBackend, dict[str, float], OpDtype], Run]:
    """FlashAttention (its KV-cache kernel for decode) when importable, else PyTorch SDPA; grouped-query heads."""

    def build(backend: TorchBackend, point: dict[str, float], dtype: OpDtype) -> Run:
        a = AttentionShape.of(op, point)
        flash = backend._flash
        if flash is not None:
            q = backend.randn(a.batch, a.q_len, a.heads, a.head_dim)
            k = backend.randn(a.batch, a.kv_len, a.kv_heads, a.head_dim)
            v = backend.randn(a.batch, a.kv_len, a.kv_heads, a.head_dim)
            if op is OpKind.DECODE_ATTENTION:
                return lambda: flash.flash_attn_with_kvcache(q, k, v)
            return lambda: flash.flash_attn_func(q, k, v, causal=a.causal)
        q = backend.randn(a.batch, a.heads, a.q_len, a.head_dim)
        repeat = 1 if SDPA_HAS_GQA else a.heads // a.kv_heads
        k = backend.randn(a.batch, a.kv_heads * repeat, a.kv_len, a.head_dim)
        v = backend.randn(a.batch, a.kv_heads * repeat, a.kv_len, a.head_dim)
        options = {"is_causal": a.causal, **({"enable_gqa": True} if SDPA_HAS_GQA else {})}
        return lambda: F.scaled_dot_product_attention(q, k, v, **options)

    return build


def _copy(backend: TorchBackend, point: dict[str, float], dtype: OpDtype) -> Run:
    source = backend.randn(int(point["bytes"]) // 4)
    target = torch.empty_like(source)
    return lambda: target.copy_(source)


_KERNELS: dict[OpKind, Callable[[TorchBackend, dict[str, float], OpDtype], Run]] = {
    OpKind.GEMM: _gemm,
    OpKind.CONTEXT_ATTENTION: _attention(OpKind.CONTEXT_ATTENTION),
    OpKind.DECODE_ATTENTION: _attention(OpKind.DECODE_ATTENTION),
    OpKind.ELEMENTWISE: _copy,
}

_COLLECTIVE_CALLS = {
    OpKind.ALL_REDUCE: "all_reduce",
    OpKind.ALL_GATHER: "all_gather_into_tensor",
    OpKind.REDUCE_SCATTER: "reduce_scatter_tensor",
    OpKind.ALL_TO_ALL: "all_to_all_single",
    OpKind.P2P: "send/recv from GPU 0 to GPU 1",
}


def _measure_collective(sweep: Sweep, timing: Timing, advance: Advance) -> list[tuple[float, ...]]:
    """Spawn one process per visible GPU; the timing rank writes every point's repeats to a file read back here."""
    world = torch.cuda.device_count()
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "samples.json"
        try:
            torch.multiprocessing.spawn(
                _collective_worker, args=(world, _free_port(), sweep, timing, str(result)), nprocs=world, join=True
            )
        except torch.multiprocessing.ProcessRaisedException as error:
            raise CollectError(
                f"{sweep.op.value} over {world} GPUs failed in a worker process: {str(error).strip().splitlines()[-1]}",
                "check that NCCL works here (e.g. NCCL_DEBUG=INFO), or leave collectives out with --op",
            ) from None
        samples = [tuple(repeats) for repeats in json.loads(result.read_text())]
    advance(len(samples))
    return samples


def _collective_worker(rank: int, world: int, port: int, sweep: Sweep, timing: Timing, result: str) -> None:
    """One rank: every point of the sweep, each repeat started together (barrier) and timed with CUDA events.
    The receiving GPU times P2P; rank 0 times the collectives (its time includes waiting for the slowest peer)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world)
    device = torch.device("cuda", rank)
    flush = torch.empty(_flush_bytes(torch.cuda.get_device_properties(device)), dtype=torch.uint8, device=device)
    sizes = sorted({int(point.get("num_gpus", 2)) for point in sweep.points()})
    groups = {size: dist.new_group(list(range(size))) for size in sizes}
    timer = 1 if sweep.op is OpKind.P2P else 0
    samples = []
    for point in sweep.points():
        size = int(point.get("num_gpus", 2))
        run = _collective(sweep.op, point, rank, size, groups[size], device) if rank < size else None
        for _ in range(timing.warmup):
            if run is not None:
                run()
        repeats = []
        for _ in range(timing.repeats):
            dist.barrier()
            torch.cuda.synchronize()
            flush.zero_()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            if run is not None:
                run()
            end.record()
            torch.cuda.synchronize()
            repeats.append(float(start.elapsed_time(end)))
        samples.append(repeats)
    dist.barrier()
    if rank == timer:
        Path(result).write_text(json.dumps(samples))
    dist.destroy_process_group()


def _collective(op: OpKind, point: dict[str, float], rank: int, size: int, group: Any, device: Any) -> Run:
    """The call for one rank; message_bytes means what servecast's op shapes say it means for each op."""
    elements = int(point["message_bytes"]) // 2

    def zeros(count: int) -> Any:
        return torch.zeros(count, dtype=torch.bfloat16, device=device)

    if op is OpKind.ALL_REDUCE:
        buffer = zeros(elements)
        return lambda: dist.all_reduce(buffer, group=group)
    if op is OpKind.ALL_GATHER:
        gathered, part = zeros(elements), zeros(elements // size)
        return lambda: dist.all_gather_into_tensor(gathered, part, group=group)
    if op is OpKind.REDUCE_SCATTER:
        contributed, part = zeros(elements), zeros(elements // size)
        return lambda: dist.reduce_scatter_tensor(part, contributed, group=group)
    if op is OpKind.ALL_TO_ALL:
        sent, received = zeros(elements), zeros(elements)
        return lambda: dist.all_to_all_single(received, sent, group=group)
    buffer = zeros(elements)
    if rank == 0:
        return lambda: dist.send(buffer, dst=1)
    return (lambda: dist.recv(buffer, src=0)) if rank == 1 else (lambda: None)


def _flush_bytes(properties: Any) -> int:
    return 2 * int(getattr(properties, "L2_cache_size", 0) or FALLBACK_L2_BYTES)


def _flash_attn() -> ModuleType | None:
    try:
        import flash_attn  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None
    return flash_attn  # type: ignore[no-any-return, unused-ignore]


def _software(flash: ModuleType | None) -> str:
    parts = [f"PyTorch {torch.__version__}"]
    parts.append(f"CUDA {torch.version.cuda}" if torch.version.cuda else f"HIP {getattr(torch.version, 'hip', '?')}")
    if torch.backends.cudnn.is_available():
        parts.append(f"cuDNN {torch.backends.cudnn.version()}")
    try:
        nccl = torch.cuda.nccl.version()
        parts.append("NCCL " + (".".join(map(str, nccl)) if isinstance(nccl, tuple) else str(nccl)))
    except (AttributeError, RuntimeError):
        pass
    if flash is not None:
        parts.append(f"flash-attn {flash.__version__}")
    parts.append(f"driver {_driver_version()}")
    return ", ".join(parts)


def _driver_version() -> str:
    try:
        completed = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "not reported (nvidia-smi unavailable)"
    return completed.stdout.splitlines()[0].strip() if completed.stdout.strip() else "not reported"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

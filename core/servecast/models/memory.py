"""The memory model: weights and KV cache per GPU, the framework's memory budget, and the KV capacity it leaves."""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

from servecast.domain.framework import KnobMeaning
from servecast.domain.layout import ParallelLayout
from servecast.domain.quantization import KV_CACHE_BYTES
from servecast.errors import InputError
from servecast.models.model import Model
from servecast.models.weights import WeightRole, shard_fraction, stage_layers, weight_groups
from servecast.ops.work import ACTIVATION_BYTES

GIB = 2**30

DRIVER_RESERVED_BYTES = int(0.8 * GIB)
"""Memory the driver keeps from applications: the total CUDA reports, which the frameworks' fractions apply to, is
79.19 GiB on an 80 GiB H100 SXM, 79.15 on an A100 80GB and 93.10 on a 94 GiB H100 NVL (their start-up logs)."""
CUDA_CONTEXT_BYTES = int(0.5 * GIB)
"""Assumption: CUDA context and library workspaces (cuBLAS, attention) outside the framework's tensors."""
COMMUNICATION_BUFFER_BYTES = int(0.25 * GIB)
"""Assumption: NCCL and custom all-reduce buffers when a stage spans several GPUs."""
CUDA_GRAPH_BYTES = int(0.5 * GIB)
"""Assumption: memory held by captured decode CUDA graphs."""
NVSWITCH_COLLECTIVE_BYTES = int(1.8 * GIB)
"""Collective buffers NCCL keeps on NVSwitch nodes (NVLink SHARP multicast) for a communicator of several GPUs:
vLLM 0.19 logs 2.07-2.21 GiB of non-torch memory at TP 2 and 4 on HGX H100 against 0.25 GiB at TP 1 and 0.07 GiB
at PP 2 (tests/models/data/engine_startup_logs.csv); NCCL_NVLS_ENABLE=0 is the documented way to save it
(NVIDIA/NeMo-Framework-Launcher PR #127). SGLang turns NVLS off by default (sgl-project/sglang PR #631); TensorRT-LLM
reduces through its own all-reduce kernels (its 0.14 Llama-3.1-70B TP4 table runs the 256 requests a cache without
these buffers holds), so only frameworks that say so (`MemoryPolicy.nccl_nvls`) pay them."""


@dataclass(frozen=True)
class StageMemory:
    """What one GPU of one pipeline stage holds independently of the load."""

    stage: int
    weight_bytes: int
    kv_bytes_per_token: int
    """Per token of a sequence, summed over the full-attention layers of the stage."""
    window_kv_bytes_per_token: int
    """Per token, summed over the stage's sliding-window layers (which store at most `window` tokens)."""
    window: int | None


def stage_memory(model: Model, layout: ParallelLayout) -> tuple[StageMemory, ...]:
    """Weights and per-token KV bytes on one GPU of each pipeline stage."""
    arch = model.architecture
    kv_element = KV_CACHE_BYTES[model.kv_cache_dtype]
    if arch.mla is not None:
        per_layer = arch.mla.cached_width * kv_element  # the latent is not split by tensor parallelism
    else:
        per_layer = 2 * math.ceil(arch.num_kv_heads / layout.tp) * arch.head_dim * kv_element
    groups = weight_groups(arch)
    stages = stage_layers(arch.num_layers, layout.pp)
    result = []
    for index, layers in enumerate(stages):
        weights = 0.0
        for group in groups:
            if group.layers:  # sorted layer indices, of which the stage holds those in its range
                held = bisect_left(group.layers, layers.stop) - bisect_left(group.layers, layers.start)
            else:
                first, last = index == 0, index == len(stages) - 1
                tied_head = arch.tie_word_embeddings and last and not first
                held = int(
                    (group.role is WeightRole.EMBEDDING and (first or tied_head))
                    or (group.role is WeightRole.LM_HEAD and last)
                    or (group.role is WeightRole.NORM and last)
                )
            per_copy = group.params_per_layer * shard_fraction(group, arch, layout)
            weights += held * per_copy * model.quantization.scheme(group.role).weight_bytes
        windows = [arch.layer_windows[layer] for layer in layers]
        full_layers = sum(window is None for window in windows)
        window_sizes = {window for window in windows if window is not None}
        result.append(
            StageMemory(
                stage=index,
                weight_bytes=math.ceil(weights),
                kv_bytes_per_token=full_layers * per_layer,
                window_kv_bytes_per_token=(len(windows) - full_layers) * per_layer,
                window=max(window_sizes) if window_sizes else None,
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class MemoryPolicy:
    """How a framework sizes its KV cache: the fraction and what it is a fraction of, and the budgets it profiles."""

    meaning: KnobMeaning
    fraction: float
    max_num_tokens: int
    max_batch_size: int
    cuda_graphs: bool = True
    block_size: int = 16
    sampler_profiled_apart: bool = False
    """Whether the start-up profile runs the sampler after the forward pass rather than within it (vLLM V1)."""
    nccl_nvls: bool = False
    """Whether the framework leaves NCCL's NVLink SHARP on, whose buffers NVSwitch nodes then hold (vLLM)."""
    reserve_bytes: int = 0
    """Memory a user calibration keeps from the KV cache beyond this model (negative: the cache is larger)."""


@dataclass(frozen=True)
class KvCapacity:
    """The KV cache one GPU ends up with, and the components that determined it (bytes)."""

    total_bytes: int
    weight_bytes: int
    activation_bytes: int
    overhead_bytes: int
    kv_cache_bytes: int
    kv_capacity_tokens: int
    """Tokens of full-attention KV one attention-DP rank can hold (the binding stage)."""
    binding_stage: int
    binding: StageMemory
    """What the binding stage's GPUs hold (its weights and KV bytes per token)."""


def activation_peak_bytes(model: Model, layout: ParallelLayout, policy: MemoryPolicy) -> int:
    """Peak activation workspace of a forward pass over `max_num_tokens` tokens, plus fp32 logits for sampling.

    vLLM V1 profiles the forward pass and the sampler one after the other (`sampler_profiled_apart`), so its peak
    is the larger of the two; its sampler holds full-vocabulary fp32 logits for `max_num_seqs` requests on every
    rank, with the probabilities and the top-k/top-p sort's values and indices (four copies): Llama-3.1-8B's
    1.89 GiB at TP 1, 2 and 4 alike in vLLM 0.19's start-up logs (gpu_model_runner.py: `profile_run` runs
    `_dummy_run`, then `_dummy_sampler_run`). Elsewhere the logits are sampled within the forward pass."""
    arch = model.architecture
    per_token = 2 * arch.hidden_size + (arch.q_width + 2 * arch.kv_width) // layout.tp
    if arch.moe is not None and any(arch.layer_is_moe):
        per_token += 2 * arch.moe.expert_intermediate_size * arch.moe.top_k // layout.moe_tp
    if not all(arch.layer_is_moe):
        per_token += 2 * arch.intermediate_size // layout.tp
    forward = policy.max_num_tokens * per_token * ACTIVATION_BYTES
    if policy.sampler_profiled_apart:
        return max(forward, policy.max_batch_size * arch.vocab_size * 4 * 4)
    return forward + policy.max_batch_size * math.ceil(arch.vocab_size / layout.tp) * 4 * 2


def visible_memory_bytes(memory_bytes: int) -> int:
    """What CUDA reports as a GPU's total memory: its capacity less what the driver keeps."""
    return memory_bytes - DRIVER_RESERVED_BYTES


def kv_capacity(
    model: Model, layout: ParallelLayout, memory_bytes: int, policy: MemoryPolicy, nvswitch: bool = False
) -> KvCapacity:
    """The KV cache left on each GPU of `memory_bytes` (the total CUDA reports) by the framework's rule (`nvswitch`:
    the GPUs meet in NVSwitch chips); an InputError with the numbers when nothing fits."""
    activations = activation_peak_bytes(model, layout, policy)
    overhead = CUDA_CONTEXT_BYTES
    if layout.tp * layout.attention_dp > 1:
        nvls = nvswitch and policy.nccl_nvls
        overhead += NVSWITCH_COLLECTIVE_BYTES if nvls else COMMUNICATION_BUFFER_BYTES
    graphs = CUDA_GRAPH_BYTES if policy.cuda_graphs else 0
    best: KvCapacity | None = None
    for stage in stage_memory(model, layout):
        kv_bytes = _kv_budget(policy, memory_bytes, stage.weight_bytes, activations, overhead, graphs)
        kv_bytes -= policy.reserve_bytes
        per_token = stage.kv_bytes_per_token + stage.window_kv_bytes_per_token
        tokens = max(kv_bytes, 0) // per_token if per_token else 0
        candidate = KvCapacity(
            total_bytes=memory_bytes,
            weight_bytes=stage.weight_bytes,
            activation_bytes=activations,
            overhead_bytes=overhead + graphs + policy.reserve_bytes,
            kv_cache_bytes=kv_bytes,
            kv_capacity_tokens=int(tokens),
            binding_stage=stage.stage,
            binding=stage,
        )
        if best is None or candidate.kv_cache_bytes < best.kv_cache_bytes:
            best = candidate
    assert best is not None
    if best.kv_cache_bytes <= 0:
        raise InputError(
            f"{model.model_id} with layout {layout} does not fit: each GPU needs {best.weight_bytes / GIB:.1f} GiB "
            f"of weights and {activations / GIB:.1f} GiB of activations, and the framework's "
            f"{policy.meaning.value}={policy.fraction} of {memory_bytes / GIB:.1f} GiB leaves "
            f"{best.kv_cache_bytes / GIB:.1f} GiB for the KV cache",
            "use more GPUs per instance (tp/pp/ep), a smaller quantization than "
            f"{model.quantization.name.value} (--quant), or a larger memory fraction",
        )
    return best


def _kv_budget(
    policy: MemoryPolicy, memory_bytes: int, weights: int, activations: int, overhead: int, graphs: int
) -> int:
    """Bytes the framework gives the KV cache, by the semantics of its memory fraction."""
    if policy.meaning is KnobMeaning.GPU_MEMORY_FRACTION:  # vLLM: everything it allocates within f x total
        return int(policy.fraction * memory_bytes) - weights - activations - overhead
    if policy.meaning is KnobMeaning.STATIC_MEMORY_FRACTION:
        # SGLang: weights + KV pool within f x the memory free at start-up, after the CUDA context
        # (ModelRunner.init_memory_pool: rest_memory - total_gpu_memory * (1 - mem_fraction_static))
        return int(policy.fraction * (memory_bytes - CUDA_CONTEXT_BYTES)) - weights
    if policy.meaning is KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION:  # TRT-LLM: f x what is free after loading
        return int(policy.fraction * (memory_bytes - weights - activations - overhead - graphs))
    raise ValueError(f"{policy.meaning.value} is not a memory-fraction meaning")


def max_sequences(layout: ParallelLayout, capacity: KvCapacity, sequence_tokens: int, block_size: int = 16) -> int:
    """Sequences of `sequence_tokens` (prompt + output) the KV cache holds at once, over all attention-DP ranks."""
    stage = capacity.binding
    tokens = math.ceil(sequence_tokens / block_size) * block_size
    windowed = min(tokens, stage.window) if stage.window else 0
    per_sequence = tokens * stage.kv_bytes_per_token + windowed * stage.window_kv_bytes_per_token
    if per_sequence == 0:
        return 0
    return int(capacity.kv_cache_bytes // per_sequence) * layout.attention_dp

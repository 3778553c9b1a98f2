"""vLLM's run-time defaults: budgets by GPU size (V1), chunked prefill by context length (V0), capture sizes."""

from __future__ import annotations

from packaging.version import Version

from servecast.plugin import Knob, KnobMeaning, KnobSchedulingPolicy, KnobValue, PolicyContext, Resolve, memory_gib

V1 = Version("0.10.0")
"""The first modelled release that runs the V1 engine by default."""


def _count(value: KnobValue | None, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else fallback


class VllmPolicy(KnobSchedulingPolicy):
    """vLLM's scheduler: V0 (prompts first, chunking for long-context models) or V1 (one mixed token budget)."""

    @property
    def _v1(self) -> bool:
        return Version(self.version.version) >= V1

    def runtime_default(self, knob: Knob, context: PolicyContext, resolve: Resolve) -> KnobValue | None:
        # vLLM matches the driver's device name; a spec that does not state it is matched by its system name
        device = context.hardware.gpu.device_name or context.hardware.name
        big_gpu = memory_gib(context) >= 70 and "a100" not in device.lower()
        meaning = knob.meaning
        if meaning is KnobMeaning.CHUNKED_PREFILL:
            # V0: on for contexts beyond 32K unless prefix caching is on; V1: always on.
            return self._v1 or (context.max_model_len > 32768 and not resolve(KnobMeaning.PREFIX_CACHING))
        if meaning is KnobMeaning.MAX_NUM_TOKENS:
            if self._v1:
                return 8192 if big_gpu else 2048  # `vllm serve` (OpenAI API server) usage context
            return 512 if resolve(KnobMeaning.CHUNKED_PREFILL) else max(context.max_model_len, 2048)
        if meaning is KnobMeaning.MAX_BATCH_SIZE:
            tokens = _count(resolve(KnobMeaning.MAX_NUM_TOKENS), 8192)
            return min(1024 if big_gpu else 256, tokens)
        if meaning is KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE:
            return min(2 * _count(resolve(KnobMeaning.MAX_BATCH_SIZE), 256), 512)
        if meaning is KnobMeaning.PREFIX_CACHING:
            return True
        if meaning is KnobMeaning.KV_CACHE_BLOCK_SIZE:
            return 16
        return None

    @property
    def sampler_profiled_apart(self) -> bool:
        # V1's profile_run: the forward pass (_dummy_run), then the sampler (_dummy_sampler_run)
        return self._v1

    @property
    def nccl_nvls(self) -> bool:
        # vLLM leaves NCCL's defaults alone: 2.07-2.21 GiB of non-torch memory at TP 2-4 on HGX H100 (0.19 logs)
        return True

    def mixed_prefill_decode(self, context: PolicyContext, resolve: Resolve) -> bool:
        # V0 mixes only with chunked prefill; V1 always schedules prompt chunks next to decodes.
        return self._v1 or bool(resolve(KnobMeaning.CHUNKED_PREFILL))

    def capture_sizes(self, context: PolicyContext, resolve: Resolve) -> tuple[int, ...]:
        if not self._v1:  # V0: [1, 2, 4] + multiples of 8 up to max_num_seqs rounded up to a multiple of 8
            largest = -(-_count(resolve(KnobMeaning.MAX_BATCH_SIZE), 256) // 8) * 8
            return (1, 2, 4, *range(8, largest + 1, 8))
        largest = _count(resolve(KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE), 512)
        if Version(self.version.version) >= Version("0.30"):  # stride 16 from 256 (max_cudagraph_capture_size)
            return (1, 2, 4, *range(8, min(largest, 255) + 1, 8), *range(256, largest + 1, 16))
        return (1, 2, 4, *range(8, largest + 1, 8))

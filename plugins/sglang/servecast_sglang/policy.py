"""SGLang's run-time defaults: memory fraction and chunk size by GPU memory, decode CUDA-graph capture sizes."""

from __future__ import annotations

from packaging.version import Version

from servecast.plugin import (
    Knob,
    KnobMeaning,
    KnobSchedulingPolicy,
    KnobValue,
    PolicyContext,
    Resolve,
    ServerRole,
    memory_gib,
)

_PREFILL_GRAPH_RESERVE_MIB = 416
"""0.5: reserve for the prefill capture sizes (8 MiB each); servecast assumes the ~52 default sizes."""


def _count(value: KnobValue | None, fallback: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else fallback


class SglangPolicy(KnobSchedulingPolicy):
    """SGLang's scheduler: prefill-first iterations, mixed chunks only when asked, overlap scheduling from 0.4."""

    @property
    def _release(self) -> Version:
        return Version(self.version.version)

    def runtime_default(self, knob: Knob, context: PolicyContext, resolve: Resolve) -> KnobValue | None:
        gib = memory_gib(context)
        layout = context.layout
        meaning = knob.meaning
        if meaning is KnobMeaning.STATIC_MEMORY_FRACTION:
            return self._memory_fraction_static(context, resolve)
        if meaning is KnobMeaning.CHUNKED_PREFILL_SIZE:
            if self._release >= Version("0.5"):
                return 2048 if gib < 20 else 4096 if gib < 60 else 8192 if gib < 160 else 16384
            return 2048 if gib < 35 else 8192 if gib < 160 else 16384
        if meaning is KnobMeaning.MAX_BATCH_SIZE:
            # min(max_total_tokens // 2, request pool); the pool is at least 2048 and the KV capacity, which the
            # simulation enforces separately, binds long before.
            return 2048
        if meaning is KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE:
            if self._release >= Version("0.5"):
                if gib < 160:
                    return 256 if layout.tp < 4 else 512
                return 512
            return 160 if gib <= 90 else 256
        if meaning is KnobMeaning.KV_CACHE_BLOCK_SIZE:
            return 1
        return None

    def _memory_fraction_static(self, context: PolicyContext, resolve: Resolve) -> float:
        gib = memory_gib(context)
        layout = context.layout
        parallel = layout.tp * layout.attention_dp * layout.pp  # SGLang's tp_size spans the DP-attention ranks
        if self._release < Version("0.4"):
            tp = context.layout.tp
            return 0.79 if tp >= 16 else 0.83 if tp >= 8 else 0.85 if tp >= 4 else 0.87 if tp >= 2 else 0.88
        if self._release < Version("0.5"):
            reserved = 2.8 + parallel / 10 if gib < 35 else 9.5 + parallel / 2 if gib < 90 else 12 + parallel / 2
            reserved = reserved if gib < 160 else 32
            reserved += 4 if context.layout.attention_dp > 1 else 0
            return round((gib - reserved) / gib, 3)
        chunk = _count(resolve(KnobMeaning.CHUNKED_PREFILL_SIZE), 8192)
        graph_bs = _count(resolve(KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE), 256)
        reserved_mib = 512 + 1.5 * max(chunk, 2048) + parallel / 8 * 1024 + 2 * graph_bs + _PREFILL_GRAPH_RESERVE_MIB
        if context.layout.attention_dp > 1:
            reserved_mib += 3 * graph_bs * context.layout.attention_dp
        if gib > 60:
            reserved_mib = max(reserved_mib, 10 * 1024)
        return round((gib * 1024 - reserved_mib) / (gib * 1024), 3)

    def capture_sizes(self, context: PolicyContext, resolve: Resolve) -> tuple[int, ...]:
        if context.role is ServerRole.PREFILL:
            return ()  # a --disaggregation-mode prefill server captures no decode graphs
        largest = _count(resolve(KnobMeaning.CUDA_GRAPH_MAX_BATCH_SIZE), 160)
        if self._release < Version("0.4"):
            return (1, 2, 4, *range(8, 161, 8))
        if self._release < Version("0.5"):
            return (1, 2, 4, 8, *range(16, largest + 1, 8))
        sizes = (1, 2, 4, 8, 12, *range(16, 257, 8), *range(272, 497, 16), *range(512, largest + 1, 32))
        return tuple(sorted({size for size in sizes if size <= largest} | {largest}))

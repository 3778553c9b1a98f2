"""TensorRT-LLM's scheduling policy: in-flight batching with the documented defaults of each version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from packaging.version import Version

from servecast.plugin import (
    Knob,
    KnobMeaning,
    KnobSchedulingPolicy,
    KnobValue,
    PolicyContext,
    Resolve,
    SchedulerSettings,
)

BATCH_SIZE_TABLE = ((144, 128), (336, 256), (672, 512), (832, 768), (1280, 1024), (1664, 1536))
"""DynamicBatchConfig::kDefaultBatchSizeTable: (KV capacity in whole requests below which, batch to run)."""
FALLBACK_GRANULARITY = 512
FALLBACK_THRESHOLD = 128
"""DynamicBatchTuner's rule above the table: round down to a multiple of 512 when within 128 of it."""
ENGINE_FLOW_BEFORE = Version("1.0")
"""Before 1.0 every run went through the C++ batch manager, which applies DynamicBatchTuner. Whether the
PyTorch executor (the 1.x default) applies it is not verified, so 1.x versions run up to max_batch_size."""


def tuned_batch_size(capacity: int) -> int:
    """DynamicBatchTuner::getRuntimeBatchSize: the batch the C++ batch manager runs when the KV cache holds
    `capacity` requests of the recent mean prompt + output length."""
    for bound, batch in BATCH_SIZE_TABLE:
        if capacity < bound:
            return batch
    rounded = capacity // FALLBACK_GRANULARITY * FALLBACK_GRANULARITY
    return rounded if capacity < rounded + FALLBACK_THRESHOLD else capacity


class TrtllmPolicy(KnobSchedulingPolicy):
    """Context and generation requests in one iteration (in-flight batching), whole outputs reserved up front."""

    def runtime_default(self, knob: Knob, context: PolicyContext, resolve: Resolve) -> KnobValue | None:
        if knob.meaning is KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION:
            return 0.9  # the KvCacheConfig default the field description states
        if knob.meaning is KnobMeaning.MOE_ALL_TO_ALL:
            # the wide-EP MoE's MNNVL all-to-all, where an NVLink domain joins several trays and holds the group
            node, layout = context.hardware.node, context.layout
            multi_node_nvlink = node.domain_gpus > node.gpus_per_node
            return "1" if multi_node_nvlink and layout.tp * layout.attention_dp <= node.domain_gpus else "0"
        return None

    def settings(
        self, context: PolicyContext, overrides: Mapping[KnobMeaning, KnobValue] | None = None
    ) -> SchedulerSettings:
        settings = super().settings(context, overrides)
        if not self._tunes_batch_size():
            return settings
        note = "batch size tuned at run time from the KV capacity (DynamicBatchTuner's default table)"
        return replace(settings, runtime_batch_size=tuned_batch_size, notes=(*settings.notes, note))

    def _tunes_batch_size(self) -> bool:
        knob = next((k for k in self.version.knobs if k.name == "enable_batch_size_tuning"), None)
        return knob is not None and knob.default is True and Version(self.version.version) < ENGINE_FLOW_BEFORE

"""TensorRT-LLM's scheduling policy: in-flight batching with the documented defaults of each version."""

from __future__ import annotations

from servecast.domain import Knob, KnobMeaning, KnobValue
from servecast.serving.policy import KnobSchedulingPolicy, PolicyContext, Resolve


class TrtllmPolicy(KnobSchedulingPolicy):
    """Context and generation requests in one iteration (in-flight batching), whole outputs reserved up front."""

    def runtime_default(self, knob: Knob, context: PolicyContext, resolve: Resolve) -> KnobValue | None:
        if knob.meaning is KnobMeaning.KV_CACHE_FREE_MEMORY_FRACTION:
            return 0.9  # the KvCacheConfig default the field description states
        return None

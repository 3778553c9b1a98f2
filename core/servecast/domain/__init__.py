"""servecast's domain objects: frozen, strictly validated, with unit-suffixed field names."""

from servecast.domain.base import FrozenModel
from servecast.domain.framework import (
    FrameworkCapabilities,
    FrameworkSpec,
    FrameworkVersion,
    Knob,
    KnobMeaning,
    KnobValue,
)
from servecast.domain.hardware import GpuSpec, HardwareSpec, NodeSpec
from servecast.domain.provenance import Provenance, Source, SourceKind
from servecast.domain.vocabulary import ComputeDtype, KvCacheDtype, ParallelMode, Quantization, ServingMode

__all__ = [
    "ComputeDtype",
    "FrameworkCapabilities",
    "FrameworkSpec",
    "FrameworkVersion",
    "FrozenModel",
    "GpuSpec",
    "HardwareSpec",
    "Knob",
    "KnobMeaning",
    "KnobValue",
    "KvCacheDtype",
    "NodeSpec",
    "ParallelMode",
    "Provenance",
    "Quantization",
    "ServingMode",
    "Source",
    "SourceKind",
]

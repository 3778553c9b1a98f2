"""servecast's domain objects: frozen, strictly validated, with unit-suffixed field names."""

from servecast.domain.base import FrozenModel
from servecast.domain.candidate import Candidate
from servecast.domain.framework import (
    FrameworkCapabilities,
    FrameworkSpec,
    FrameworkVersion,
    Knob,
    KnobMeaning,
    KnobValue,
)
from servecast.domain.hardware import GpuSpec, HardwareSpec, NodeSpec
from servecast.domain.layout import ParallelLayout
from servecast.domain.provenance import Provenance, Source, SourceKind
from servecast.domain.target import Target
from servecast.domain.vocabulary import ComputeDtype, GpuVendor, KvCacheDtype, ParallelMode, Quantization, ServingMode
from servecast.domain.workload import LengthDistribution, Sla, Workload

__all__ = [
    "Candidate",
    "ComputeDtype",
    "FrameworkCapabilities",
    "FrameworkSpec",
    "FrameworkVersion",
    "FrozenModel",
    "GpuSpec",
    "GpuVendor",
    "HardwareSpec",
    "Knob",
    "KnobMeaning",
    "KnobValue",
    "KvCacheDtype",
    "LengthDistribution",
    "NodeSpec",
    "ParallelLayout",
    "ParallelMode",
    "Provenance",
    "Quantization",
    "ServingMode",
    "Sla",
    "Source",
    "SourceKind",
    "Target",
    "Workload",
]

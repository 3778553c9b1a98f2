"""The measuring side of `servecast collect`: what a backend reports about its device and how it times an op.

Backends are loaded by name on demand, so the core never imports PyTorch unless the PyTorch backend is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from servecast.collect.plan import RunSize, Sweep, Timing
from servecast.errors import InputError
from servecast.ops.dtypes import OpDtype
from servecast.ops.estimator import OpKind

Advance = Callable[[int], None]
"""Called with the number of shapes just measured, for progress."""


@dataclass(frozen=True)
class DeviceInfo:
    """What the measurements ran on, as the tables' sidecars record it."""

    name: str
    """The device name the driver reports (e.g. 'NVIDIA H200')."""
    software: str
    """Driver, runtime and library versions."""
    count: int
    """Devices visible; collectives are measured only when there is more than one."""
    method: str
    """How one repeat is timed and caches are flushed."""


@dataclass(frozen=True)
class OpSupport:
    """An op the backend measures: the kernel that runs it and the data types it is measured in."""

    kernel: str
    dtypes: tuple[OpDtype, ...]


class Backend(Protocol):
    """Times ops on one kind of device."""

    name: str
    default_size: RunSize
    """The run size when none is asked for: `full` on a GPU, `tiny` on a CPU (full grids would take days there)."""

    def device(self) -> DeviceInfo: ...

    def support(self) -> dict[OpKind, OpSupport | str]:
        """Per op kind, how it is measured, or why it is not (a sentence)."""
        ...

    def measure(self, sweep: Sweep, timing: Timing, advance: Advance) -> list[tuple[float, ...]]:
        """Every point of `sweep`, in order: the timed repeats in milliseconds (warm-up excluded)."""
        ...


class CollectError(InputError):
    """A measurement that cannot be taken: the message says which op and shape, and what to do."""


BACKENDS: dict[str, tuple[str, str]] = {
    "torch": ("servecast.collect.torch_backend", "TorchBackend"),
    "numpy-cpu": ("servecast.collect.numpy_backend", "NumpyCpuBackend"),
}
"""Backend name -> (module, class); modules are imported only when their backend is chosen."""


def load_backend(name: str) -> Backend:
    """The backend called `name`, ready to measure (a CollectError saying what to install otherwise)."""
    if name not in BACKENDS:
        raise CollectError(f"no collect backend {name!r}", f"choose one of {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name]
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise CollectError(
            f"the {name} backend needs {error.name}, which is not installed",
            "install the measurement extra: pip install 'servecast[collect]' (PyTorch with CUDA or ROCm)",
        ) from None
    backend: Backend = getattr(loaded, cls)()
    return backend

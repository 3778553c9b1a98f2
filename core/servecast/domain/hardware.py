"""What a GPU system is: the GPU's capacities and peak rates, the node and its links, each figure sourced."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel
from servecast.domain.calibration import Calibration
from servecast.domain.provenance import Provenance
from servecast.domain.vocabulary import ComputeDtype, GpuVendor

# Plausible ranges catch unit slips (TB/s typed as bytes/s, GB as bytes) at load time.
_PLAUSIBLE: dict[str, tuple[float, float, str]] = {
    "memory_bytes": (1e9, 2e12, "bytes (80 GB is 8.0e10)"),
    "mem_bw_bytes_per_s": (1e11, 5e13, "bytes per second (3.35 TB/s is 3.35e12)"),
    "dense_tensor_flops_per_s": (1e12, 1e17, "operations per second (989 TFLOPS is 9.89e14)"),
    "sm_count": (1, 1024, "streaming multiprocessors"),
    "l2_cache_bytes": (1e5, 1e9, "bytes (50 MB is 5.0e7)"),
    "gpus_per_node": (1, 1024, "GPUs"),
    "scale_up_domain_gpus": (1, 1024, "GPUs"),
    "intra_node_bw_bytes_per_s": (1e9, 1e13, "bytes per second per GPU and direction (450 GB/s is 4.5e11)"),
    "inter_node_bw_bytes_per_s": (1e8, 1e13, "bytes per second per GPU and direction (50 GB/s is 5.0e10)"),
    "intra_node_latency_s": (1e-7, 1e-3, "seconds (2 µs is 2e-6)"),
    "inter_node_latency_s": (1e-7, 1e-2, "seconds (5 µs is 5e-6)"),
}


def _check_plausible(field: str, value: float) -> None:
    low, high, unit = _PLAUSIBLE[field]
    if not low <= value <= high:
        raise ValueError(f"{field}={value!r} is implausible: expected {unit}, between {low:g} and {high:g}")


class GpuSpec(FrozenModel):
    """One GPU: memory capacity and bandwidth, dense tensor-core peaks per data type, on-chip resources."""

    memory_bytes: int = Field(gt=0)
    mem_bw_bytes_per_s: float = Field(gt=0, description="Peak HBM bandwidth.")
    dense_tensor_flops_per_s: dict[ComputeDtype, float] = Field(
        min_length=1, description="Peak dense (no sparsity) tensor-core rate per input data type."
    )
    sm_count: int = Field(gt=0)
    l2_cache_bytes: int = Field(gt=0)
    device_name: str | None = Field(
        default=None,
        min_length=1,
        description="The name the driver reports (nvidia-smi, torch.cuda.get_device_name), which some frameworks' "
        "start-up rules match (vLLM's larger budgets skip devices named 'A100'). None: not stated.",
    )

    @model_validator(mode="after")
    def _figures_are_plausible(self) -> Self:
        for field in ("memory_bytes", "mem_bw_bytes_per_s", "sm_count", "l2_cache_bytes"):
            _check_plausible(field, getattr(self, field))
        for dtype, rate in self.dense_tensor_flops_per_s.items():
            try:
                _check_plausible("dense_tensor_flops_per_s", rate)
            except ValueError as error:
                raise ValueError(f"{dtype.value}: {error}") from None
        return self

    def peak_flops_per_s(self, dtype: ComputeDtype) -> float:
        """Dense peak for `dtype`; a KeyError naming the data types this GPU has tensor cores for otherwise."""
        try:
            return self.dense_tensor_flops_per_s[dtype]
        except KeyError:
            have = ", ".join(sorted(d.value for d in self.dense_tensor_flops_per_s))
            raise KeyError(f"this GPU has no {dtype.value} tensor-core rate; it has: {have}") from None


class NodeSpec(FrozenModel):
    """A node of identical GPUs: how many, the scale-up domain they belong to (NVLink, xGMI), and the per-GPU
    bandwidth and latency inside that domain and over the scale-out network."""

    gpus_per_node: int = Field(gt=0, description="GPUs one host drives: one launch script, one process group.")
    scale_up_domain_gpus: int | None = Field(
        default=None,
        gt=0,
        description="GPUs that reach each other over NVLink/xGMI without the network: 72 on a GB200 NVL72 rack of "
        "4-GPU trays; None: the node (an HGX board's 8).",
    )
    intra_node_bw_bytes_per_s: float = Field(gt=0, description="Per GPU, one direction (NVLink).")
    intra_node_latency_s: float = Field(gt=0)
    inter_node_bw_bytes_per_s: float = Field(gt=0, description="Per GPU, one direction (the scale-out NIC).")
    inter_node_latency_s: float = Field(gt=0)
    nvswitch: bool = Field(
        default=False,
        description="Whether the node's GPUs meet in NVSwitch chips (HGX boards): NCCL then keeps NVLink SHARP "
        "multicast buffers for every communicator of several GPUs.",
    )

    @model_validator(mode="after")
    def _figures_are_plausible(self) -> Self:
        for field in type(self).model_fields:
            value = getattr(self, field)
            if field in _PLAUSIBLE and value is not None:
                _check_plausible(field, value)
        if self.domain_gpus % self.gpus_per_node:
            raise ValueError(
                f"scale_up_domain_gpus={self.domain_gpus} is not a whole number of {self.gpus_per_node}-GPU nodes"
            )
        return self

    @property
    def domain_gpus(self) -> int:
        """GPUs in one scale-up domain: collectives inside it run on `intra_node_bw_bytes_per_s`."""
        return self.scale_up_domain_gpus or self.gpus_per_node


class Pricing(FrozenModel):
    """What one GPU of the system costs to rent, on demand (a default the user may override per search)."""

    gpu_hour_usd: float = Field(gt=0, description="US dollars per GPU-hour.")


class HardwareSpec(FrozenModel):
    """A system servecast can target, with the provenance of every figure ('gpu.memory_bytes' → source)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Short id used on the command line, e.g. 'h100_sxm'.")
    display_name: str = Field(min_length=3)
    vendor: GpuVendor = Field(default=GpuVendor.NVIDIA, description="Who makes the GPU (NVIDIA: CUDA; AMD: ROCm).")
    gpu: GpuSpec
    node: NodeSpec
    provenance: dict[str, Provenance]
    calibration: Calibration | None = Field(
        default=None, description="Efficiency-curve parameters of the calibrated roofline; None: pure roofline only."
    )
    pricing: Pricing | None = Field(default=None, description="A public on-demand price; None: no default price.")

    @model_validator(mode="after")
    def _every_figure_is_sourced(self) -> Self:
        figures = set(self.figure_paths())
        missing = sorted(figures - self.provenance.keys())
        if missing:
            raise ValueError(f"hardware {self.name!r}: no source for {', '.join(missing)}")
        unknown = sorted(self.provenance.keys() - figures)
        if unknown:
            raise ValueError(f"hardware {self.name!r}: sources given for unknown figures {', '.join(unknown)}")
        return self

    def figure_paths(self) -> list[str]:
        """Dotted paths of every figure, e.g. 'gpu.dense_tensor_flops_per_s.bf16' ('node.nvswitch' where it is
        claimed: a node without NVSwitch needs no source; optional figures where they are given)."""
        paths = [
            f"node.{field}"
            for field in NodeSpec.model_fields
            if (field != "nvswitch" or self.node.nvswitch) and getattr(self.node, field) is not None
        ]
        for field in GpuSpec.model_fields:
            if field == "dense_tensor_flops_per_s":
                paths += [f"gpu.{field}.{dtype.value}" for dtype in self.gpu.dense_tensor_flops_per_s]
            elif getattr(self.gpu, field) is not None:
                paths.append(f"gpu.{field}")
        if self.pricing is not None:
            paths.append("pricing.gpu_hour_usd")
        return paths

"""The data types an op runs in: how many bytes a weight takes and which tensor-core rate its math gets."""

from __future__ import annotations

from enum import StrEnum

from servecast.domain.quantization import SCHEMES, QuantScheme
from servecast.domain.vocabulary import ComputeDtype, Quantization


class OpDtype(StrEnum):
    """An op's data type as estimators see it: one value per distinct kernel family, not per checkpoint format."""

    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    """FP8 weights and activations, per-tensor or per-channel scales."""
    FP8_BLOCK = "fp8_block"
    """FP8 with fine-grained block scales (DeepSeek-V3 style)."""
    INT8 = "int8"
    """INT8 weights and activations (W8A8)."""
    W8A16 = "w8a16"
    """INT8 weights dequantized to 16 bits inside the kernel."""
    W4A16 = "w4a16"
    """INT4 weights (AWQ, GPTQ) dequantized to 16 bits inside the kernel."""
    W4A8 = "w4a8"
    """INT4 weights with FP8 activations."""
    MXFP4 = "mxfp4"
    """OCP microscaling FP4 weights; Hopper dequantizes them to 16 bits."""
    NVFP4 = "nvfp4"
    """NVIDIA FP4 weights; no FP4 tensor cores on Hopper, so a weight-only path there; W4A4 at the FP4 rate on
    GPUs that have one (`servecast.estimate.roofline.native_fp4`)."""

    @property
    def scheme(self) -> QuantScheme:
        """Storage bytes per weight and the tensor-core dtype of the math."""
        return SCHEMES[_QUANTIZATION[self]]

    @property
    def compute_dtype(self) -> ComputeDtype:
        return self.scheme.compute_dtype

    @property
    def weight_bytes(self) -> float:
        return self.scheme.weight_bytes

    @property
    def activation_bytes(self) -> int:
        """Bytes per activation element the kernel reads (8-bit activations for W8A8 and FP8 schemes)."""
        return 1 if self.compute_dtype in {ComputeDtype.FP8, ComputeDtype.INT8} else 2

    @property
    def weight_only(self) -> bool:
        return self.scheme.weight_only


_QUANTIZATION: dict[OpDtype, Quantization] = {
    OpDtype.BF16: Quantization.BF16,
    OpDtype.FP16: Quantization.FP16,
    OpDtype.FP8: Quantization.FP8,
    OpDtype.FP8_BLOCK: Quantization.FP8_BLOCK,
    OpDtype.INT8: Quantization.INT8_W8A8,
    OpDtype.W8A16: Quantization.INT8_WEIGHT_ONLY,
    OpDtype.W4A16: Quantization.W4A16_AWQ,
    OpDtype.W4A8: Quantization.W4A8_AWQ,
    OpDtype.MXFP4: Quantization.MXFP4,
    OpDtype.NVFP4: Quantization.NVFP4,
}
_OF_QUANTIZATION = {quantization: dtype for dtype, quantization in _QUANTIZATION.items()} | {
    Quantization.W4A16_GPTQ: OpDtype.W4A16
}


def op_dtype(quantization: Quantization) -> OpDtype:
    """The op data type a weight quantization runs its matmuls in."""
    return _OF_QUANTIZATION[quantization]

"""What each quantization stores and computes in: bytes per weight and the tensor-core dtype of the matmuls, and the
bytes of one KV-cache element per cache dtype."""

from __future__ import annotations

from dataclasses import dataclass

from servecast.domain.vocabulary import ComputeDtype, KvCacheDtype, Quantization


@dataclass(frozen=True)
class QuantScheme:
    """How one quantization stores weights and computes with them."""

    quantization: Quantization
    weight_bits: float
    """Bits per weight including amortised scales/zero points."""
    compute_dtype: ComputeDtype
    """Tensor-core input dtype of the matmul on Hopper."""
    weight_only: bool
    """Activations stay in 16 bits; weights are dequantized inside the kernel."""
    native_dtype: ComputeDtype | None = None
    """The tensor-core dtype the scheme runs on natively where a GPU has it (NVFP4: FP4 on Blackwell), instead of
    `compute_dtype`'s dequantizing path; None where `compute_dtype` is the only path."""

    @property
    def weight_bytes(self) -> float:
        return self.weight_bits / 8


SCHEMES: dict[Quantization, QuantScheme] = {
    scheme.quantization: scheme
    for scheme in (
        QuantScheme(Quantization.BF16, 16, ComputeDtype.BF16, weight_only=False),
        QuantScheme(Quantization.FP16, 16, ComputeDtype.FP16, weight_only=False),
        QuantScheme(Quantization.FP8, 8, ComputeDtype.FP8, weight_only=False),
        # one fp32 scale per 128x128 weight block
        QuantScheme(Quantization.FP8_BLOCK, 8 + 32 / (128 * 128), ComputeDtype.FP8, weight_only=False),
        QuantScheme(Quantization.INT8_W8A8, 8, ComputeDtype.INT8, weight_only=False),
        QuantScheme(Quantization.INT8_WEIGHT_ONLY, 8, ComputeDtype.BF16, weight_only=True),
        # int4 with a 16-bit scale and zero point per group of 128
        QuantScheme(Quantization.W4A16_AWQ, 4 + 32 / 128, ComputeDtype.BF16, weight_only=True),
        QuantScheme(Quantization.W4A16_GPTQ, 4 + 32 / 128, ComputeDtype.BF16, weight_only=True),
        QuantScheme(Quantization.W4A8_AWQ, 4 + 32 / 128, ComputeDtype.FP8, weight_only=False),
        # e2m1 with one e8m0 scale per 32 weights; Hopper dequantizes to bf16
        QuantScheme(Quantization.MXFP4, 4 + 8 / 32, ComputeDtype.BF16, weight_only=True),
        # e2m1 with one e4m3 scale per 16 weights; FP4 tensor cores exist on Blackwell only
        QuantScheme(Quantization.NVFP4, 4 + 8 / 16, ComputeDtype.BF16, weight_only=True, native_dtype=ComputeDtype.FP4),
    )
}

KV_CACHE_BYTES: dict[KvCacheDtype, int] = {
    KvCacheDtype.BF16: 2,
    KvCacheDtype.FP16: 2,
    KvCacheDtype.FP8: 1,
    KvCacheDtype.INT8: 1,
}

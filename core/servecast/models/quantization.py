"""Quantization schemes: storage bytes per weight and the tensor-core dtype the matmuls run in, per weight role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servecast.domain.vocabulary import ComputeDtype, KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.models.weights import WeightRole


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
    hopper_native: bool = True
    """False when Hopper has no tensor-core path and runs a weight-only fallback (NVFP4)."""

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
        QuantScheme(Quantization.NVFP4, 4 + 8 / 16, ComputeDtype.BF16, weight_only=True, hopper_native=False),
    )
}

KV_CACHE_BYTES: dict[KvCacheDtype, int] = {
    KvCacheDtype.BF16: 2,
    KvCacheDtype.FP16: 2,
    KvCacheDtype.FP8: 1,
    KvCacheDtype.INT8: 1,
}

_QUANTIZED_ROLES = (WeightRole.ATTENTION, WeightRole.DENSE_MLP, WeightRole.SHARED_EXPERTS, WeightRole.ROUTED_EXPERTS)


@dataclass(frozen=True)
class QuantizationPlan:
    """The scheme of each weight role; embeddings, norms and routers stay in the checkpoint's 16-bit dtype."""

    name: Quantization
    """The headline scheme (what a user passes as --quant)."""
    roles: Mapping[WeightRole, QuantScheme]
    unquantized: QuantScheme

    def scheme(self, role: WeightRole) -> QuantScheme:
        return self.roles.get(role, self.unquantized)

    @classmethod
    def uniform(cls, quantization: Quantization, base: Quantization = Quantization.BF16) -> QuantizationPlan:
        """Every linear layer in `quantization`; embeddings, LM head and norms in `base`."""
        return cls(quantization, {role: SCHEMES[quantization] for role in _QUANTIZED_ROLES}, SCHEMES[base])

    def with_experts(self, quantization: Quantization) -> QuantizationPlan:
        """This plan with the routed experts in `quantization` (a separate MoE quantization)."""
        return QuantizationPlan(
            self.name, {**self.roles, WeightRole.ROUTED_EXPERTS: SCHEMES[quantization]}, self.unquantized
        )

    @classmethod
    def experts_only(cls, quantization: Quantization, base: Quantization = Quantization.BF16) -> QuantizationPlan:
        """Only routed experts quantized (gpt-oss's MXFP4 checkpoints)."""
        return cls(quantization, {WeightRole.ROUTED_EXPERTS: SCHEMES[quantization]}, SCHEMES[base])


def base_quantization(weights_dtype: str) -> Quantization:
    """The unquantized scheme of a checkpoint dtype ('bfloat16' → bf16, 'float16' → fp16)."""
    return Quantization.FP16 if weights_dtype in {"float16", "fp16", "half"} else Quantization.BF16


def plan_from_checkpoint(
    config: Mapping[str, Any], hf_quant_config: Mapping[str, Any] | None, weights_dtype: str
) -> QuantizationPlan:
    """The quantization a checkpoint ships with, from `quantization_config` or ModelOpt's `hf_quant_config.json`."""
    base = base_quantization(weights_dtype)
    if hf_quant_config:
        algo = str((hf_quant_config.get("quantization") or {}).get("quant_algo") or "").upper()
        return QuantizationPlan.uniform(_MODELOPT.get(algo, base), base) if algo else QuantizationPlan.uniform(base)
    quant = config.get("quantization_config")
    if not quant:
        return QuantizationPlan.uniform(base)
    method = str(quant.get("quant_method", "")).lower()
    if method == "fp8":
        scheme = Quantization.FP8_BLOCK if quant.get("weight_block_size") else Quantization.FP8
        return QuantizationPlan.uniform(scheme, base)
    if method == "mxfp4":
        return QuantizationPlan.experts_only(Quantization.MXFP4, base)
    if method in {"awq", "gptq"}:
        if quant.get("bits", 4) != 4:
            raise _unsupported(f"{method} with {quant.get('bits')} bits")
        return QuantizationPlan.uniform(Quantization.W4A16_AWQ if method == "awq" else Quantization.W4A16_GPTQ, base)
    if method == "modelopt":
        algo = str(quant.get("quant_algo", "")).upper()
        if algo in _MODELOPT:
            return QuantizationPlan.uniform(_MODELOPT[algo], base)
    raise _unsupported(f"quant_method {method!r}")


def kv_cache_dtype_from_checkpoint(hf_quant_config: Mapping[str, Any] | None, weights_dtype: str) -> KvCacheDtype:
    """The checkpoint's KV-cache dtype: FP8 when ModelOpt calibrated it, else the 16-bit weights dtype."""
    algo = str(((hf_quant_config or {}).get("quantization") or {}).get("kv_cache_quant_algo") or "").upper()
    if algo == "FP8":
        return KvCacheDtype.FP8
    return KvCacheDtype.FP16 if base_quantization(weights_dtype) is Quantization.FP16 else KvCacheDtype.BF16


_MODELOPT = {
    "FP8": Quantization.FP8,
    "FP8_PB_WO": Quantization.FP8_BLOCK,
    "NVFP4": Quantization.NVFP4,
    "W4A16_AWQ": Quantization.W4A16_AWQ,
    "W4A8_AWQ": Quantization.W4A8_AWQ,
    "INT8_SQ": Quantization.INT8_W8A8,
}


def _unsupported(what: str) -> InputError:
    supported = ", ".join(q.value for q in Quantization)
    return InputError(
        f"the checkpoint's quantization ({what}) is not modelled",
        f"override it with --quant (one of: {supported})",
    )

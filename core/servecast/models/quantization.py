"""A model's quantization plan: the scheme of each weight role, from the checkpoint's config or a --quant override."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servecast.domain.quantization import SCHEMES, QuantScheme
from servecast.domain.vocabulary import KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.models.weights import WeightRole

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

"""A model ready for servecast: architecture, quantization and KV-cache dtype, resolved from a user's reference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import ValidationError

from servecast.domain.base import validation_problems
from servecast.domain.vocabulary import KvCacheDtype, Quantization
from servecast.errors import InputError
from servecast.models.architecture import ModelArchitecture
from servecast.models.catalog import find_model
from servecast.models.family import ModelFamily
from servecast.models.quantization import (
    QuantizationPlan,
    base_quantization,
    kv_cache_dtype_from_checkpoint,
    plan_from_checkpoint,
)

if TYPE_CHECKING:  # the host builds on models (it registers the model families plugins give it)
    from servecast.host.registry import Registry


@dataclass(frozen=True)
class Model:
    """What the op graph and the memory model work from."""

    model_id: str
    origin: str
    architecture: ModelArchitecture
    quantization: QuantizationPlan
    kv_cache_dtype: KvCacheDtype


def load_model(
    reference: str,
    architectures: Registry[ModelFamily],
    quantization: Quantization | None = None,
    kv_cache_dtype: KvCacheDtype | None = None,
    moe_quantization: Quantization | None = None,
) -> Model:
    """Resolve `reference` and read it with the family that claims its architecture; overrides replace the
    checkpoint's quantization (every linear layer, or only the routed experts) and KV-cache dtype."""
    source = find_model(reference)
    names = source.config.get("architectures") or []
    name = str(names[0]) if names else ""
    if name not in architectures:
        supported = ", ".join(architectures.names()) or "none"
        raise InputError(
            f"model {source.model_id!r} has architecture {name or '(none listed)'!r}, which no model family handles",
            f"supported architectures: {supported}. A plugin teaches servecast a new one by implementing "
            "servecast_register_model_families (see docs/plugin-hooks.md)",
        )
    family = architectures.get(name)
    try:
        built = family.build(source.config)
    except ValidationError as error:
        raise InputError(
            f"config.json of {source.model_id} describes an impossible model: {validation_problems(error)}",
            "check the config.json (a hand-written one needs every value consistent with the others)",
        ) from None
    if not isinstance(built, ModelArchitecture):
        raise InputError(
            f"model family {family.name!r} returned a {type(built).__name__}, not a ModelArchitecture",
            "report this to the plugin that registers the family",
        )
    base = base_quantization(built.weights_dtype)
    plan = (
        QuantizationPlan.uniform(quantization, base)
        if quantization is not None
        else plan_from_checkpoint(source.config, source.hf_quant_config, built.weights_dtype)
    )
    if moe_quantization is not None:
        plan = plan.with_experts(moe_quantization)
    kv = kv_cache_dtype or kv_cache_dtype_from_checkpoint(source.hf_quant_config, built.weights_dtype)
    return Model(source.model_id, source.origin, built, plan, kv)

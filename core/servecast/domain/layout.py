"""How one model instance is split over GPUs."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, model_validator

from servecast.domain.base import FrozenModel
from servecast.domain.vocabulary import ParallelMode


class ParallelLayout(FrozenModel):
    """A parallel layout of one model instance, in the vocabulary shared by the frameworks' MoE layouts.

    Each pipeline stage spans ``tp * attention_dp`` GPUs: attention runs as ``attention_dp`` groups of ``tp``
    ranks, and the MoE layers of the same GPUs split their experts ``ep`` ways and each expert ``moe_tp`` ways
    (``moe_tp * ep == tp * attention_dp``). Dense models use ``attention_dp = ep = 1``.
    """

    tp: int = Field(default=1, ge=1, description="Tensor-parallel ranks of attention (and dense layers).")
    pp: int = Field(default=1, ge=1, description="Pipeline stages.")
    attention_dp: int = Field(default=1, ge=1, description="Attention data-parallel groups per stage.")
    ep: int = Field(default=1, ge=1, description="Expert-parallel ranks of the MoE layers.")
    moe_tp: int = Field(
        default=1, ge=1, description="Tensor-parallel ranks inside each expert; derived when not given."
    )
    redundant_experts: int = Field(
        default=0,
        ge=0,
        description="Extra copies of the busiest experts that expert-parallel load balancing (EPLB) places, so that "
        "experts plus copies split evenly over ep ranks (256 + 32 over EP 72).",
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_moe_tp(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("moe_tp") is None:
            data = {key: value for key, value in data.items() if key != "moe_tp"}
            try:
                stage = int(data.get("tp", 1)) * int(data.get("attention_dp", 1))
                ep = int(data.get("ep", 1))
            except (TypeError, ValueError):
                return data  # field validation reports the bad value
            if ep > 0 and stage % ep == 0:
                data["moe_tp"] = stage // ep
        return data

    @model_validator(mode="after")
    def _moe_split_covers_the_stage(self) -> Self:
        stage = self.tp * self.attention_dp
        if self.moe_tp * self.ep != stage:
            raise ValueError(
                f"moe_tp ({self.moe_tp}) x ep ({self.ep}) must equal tp ({self.tp}) x attention_dp "
                f"({self.attention_dp}) = {stage}, the GPUs of one pipeline stage; pick ep dividing {stage}"
            )
        if self.redundant_experts and self.ep == 1:
            raise ValueError(
                f"redundant_experts={self.redundant_experts} needs expert parallelism: copies of experts go to "
                "other expert-parallel ranks; give ep > 1 or leave redundant experts out"
            )
        return self

    @property
    def gpus(self) -> int:
        """GPUs one instance occupies."""
        return self.tp * self.attention_dp * self.pp

    @property
    def exchanges_tokens(self) -> bool:
        """Whether its MoE layers move tokens between attention-DP ranks (dp > 1 and ep > 1): by all-gather and
        reduce-scatter, or by all-to-all."""
        return self.attention_dp > 1 and self.ep > 1

    @property
    def modes(self) -> frozenset[ParallelMode]:
        """The parallel modes this layout uses (a framework must support all of them)."""
        used = {ParallelMode.TP} if self.tp > 1 else set()
        if self.pp > 1:
            used.add(ParallelMode.PP)
        if self.attention_dp > 1:
            used.add(ParallelMode.ATTENTION_DP)
        if self.ep > 1:
            used.add(ParallelMode.EP)
        if self.ep > 1 and self.moe_tp > 1:
            used.add(ParallelMode.MOE_TP)
        return frozenset(used)

    def __str__(self) -> str:
        parts = [f"tp{self.tp}"]
        parts += [f"pp{self.pp}"] if self.pp > 1 else []
        parts += [f"dp{self.attention_dp}"] if self.attention_dp > 1 else []
        parts += [f"ep{self.ep}"] if self.ep > 1 else []
        parts += [f"moetp{self.moe_tp}"] if self.ep > 1 and self.moe_tp > 1 else []
        parts += [f"r{self.redundant_experts}"] if self.redundant_experts else []
        return "-".join(parts)

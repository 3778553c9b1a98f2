"""Whether a parallel layout can split a model: heads, KV heads, FFN widths, experts and layers must divide."""

from __future__ import annotations

from servecast.domain.layout import ParallelLayout
from servecast.errors import InputError
from servecast.models.architecture import ModelArchitecture


def _divisors(value: int, limit: int = 64) -> str:
    return ", ".join(str(d) for d in range(1, min(value, limit) + 1) if value % d == 0)


def layout_problems(arch: ModelArchitecture, layout: ParallelLayout) -> list[str]:
    """Every reason `layout` cannot split `arch` (empty when it can)."""
    problems = []
    if arch.num_heads % layout.tp:
        choices = _divisors(arch.num_heads)
        problems.append(f"tp={layout.tp} does not divide the {arch.num_heads} attention heads (tp can be {choices})")
    if arch.mla is None and arch.num_kv_heads % layout.tp and layout.tp % arch.num_kv_heads:
        problems.append(
            f"tp={layout.tp} and the {arch.num_kv_heads} KV heads neither divide nor replicate evenly "
            "(tp must divide the KV heads or be a multiple of them)"
        )
    if not all(arch.layer_is_moe) and arch.intermediate_size % layout.tp:
        problems.append(f"tp={layout.tp} does not divide the MLP width {arch.intermediate_size}")
    moe = arch.moe
    if moe is not None and any(arch.layer_is_moe):
        slots = moe.num_experts + layout.redundant_experts
        if slots % layout.ep:
            copies = f" + {layout.redundant_experts} redundant" if layout.redundant_experts else ""
            needed = (-moe.num_experts) % layout.ep
            fix = (
                f"give {needed} redundant experts (or {needed} plus a multiple of {layout.ep})"
                if needed
                else ("leave the redundant experts out")
            )
            problems.append(
                f"ep={layout.ep} does not divide the {moe.num_experts}{copies} experts (ep can be {_divisors(slots)}; "
                f"to keep ep={layout.ep}, {fix})"
            )
        if moe.expert_intermediate_size % layout.moe_tp:
            problems.append(f"moe_tp={layout.moe_tp} does not divide the expert width {moe.expert_intermediate_size}")
    elif layout.ep > 1 or layout.attention_dp > 1:
        problems.append("ep and attention_dp apply to MoE models; this model is dense (use tp, pp or replicas)")
    if layout.pp > arch.num_layers:
        problems.append(f"pp={layout.pp} exceeds the {arch.num_layers} layers")
    return problems


def check_layout(model_id: str, arch: ModelArchitecture, layout: ParallelLayout) -> None:
    """Raise an InputError listing every reason `layout` cannot split the model."""
    problems = layout_problems(arch, layout)
    if problems:
        raise InputError(f"layout {layout} cannot split {model_id}: " + "; ".join(problems), "pick another layout")

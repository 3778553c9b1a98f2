"""The core's own plugin: registers the built-in model families like any other plugin would."""

from __future__ import annotations

from collections.abc import Sequence

from servecast import hookimpl
from servecast.models.families import BUILTIN_FAMILIES
from servecast.models.family import ModelFamily


@hookimpl
def servecast_register_model_families() -> Sequence[ModelFamily]:
    """Llama/Mistral, Qwen2, Qwen3, Mixtral, Qwen3-MoE, MiniMax-M2, gpt-oss, DeepSeek-V2/V3."""
    return list(BUILTIN_FAMILIES)

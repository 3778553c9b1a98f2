"""The model families servecast knows out of the box (plugins add more through the model-family hook)."""

from servecast.models.families.deepseek import DeepseekFamily
from servecast.models.families.dense import LLAMA, QWEN2, QWEN3, DenseDecoderFamily
from servecast.models.families.moe import GptOssFamily, MiniMaxM2Family, MixtralFamily, Qwen3MoeFamily

BUILTIN_FAMILIES = (
    LLAMA,
    QWEN2,
    QWEN3,
    MixtralFamily(),
    Qwen3MoeFamily(),
    MiniMaxM2Family(),
    GptOssFamily(),
    DeepseekFamily(),
)

__all__ = ["BUILTIN_FAMILIES", "DenseDecoderFamily"]

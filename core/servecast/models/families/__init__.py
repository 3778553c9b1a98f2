"""The model families servecast knows out of the box (plugins add more through the model-family hook)."""

from servecast.models.families.deepseek import DeepseekFamily
from servecast.models.families.dense import LLAMA, QWEN2, QWEN3, DenseDecoderFamily
from servecast.models.families.moe import GPT_OSS, MINIMAX_M2, MIXTRAL, QWEN3_MOE, MoeDecoderFamily

BUILTIN_FAMILIES = (LLAMA, QWEN2, QWEN3, MIXTRAL, QWEN3_MOE, MINIMAX_M2, GPT_OSS, DeepseekFamily())

__all__ = ["BUILTIN_FAMILIES", "DeepseekFamily", "DenseDecoderFamily", "MoeDecoderFamily"]

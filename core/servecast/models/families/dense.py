"""Dense decoders: Llama, Mistral, Qwen2 (qkv bias), Qwen3 (qk-norm); GQA, tied embeddings, sliding windows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from servecast.models.architecture import ModelArchitecture
from servecast.models.families.reader import ConfigReader


@dataclass(frozen=True)
class DenseDecoderFamily:
    """A family of dense GQA decoders differing only in small switches."""

    name: str
    architectures: tuple[str, ...]
    qkv_bias: bool = False
    qk_norm: bool = False

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        """The architecture described by a config.json of this family."""
        reader = ConfigReader(config, self.name)
        common = reader.common()
        layers = common["num_layers"]
        return ModelArchitecture(
            **common,
            intermediate_size=reader.integer("intermediate_size"),
            qkv_bias=self.qkv_bias or reader.flag("attention_bias", False),
            o_bias=reader.flag("attention_bias", False),
            qk_norm=self.qk_norm,
            layer_windows=reader.layer_windows(layers, reader.sliding_window()),
            layer_is_moe=(False,) * layers,
        )


LLAMA = DenseDecoderFamily("llama", ("LlamaForCausalLM", "MistralForCausalLM"))
QWEN2 = DenseDecoderFamily("qwen2", ("Qwen2ForCausalLM",), qkv_bias=True)
QWEN3 = DenseDecoderFamily("qwen3", ("Qwen3ForCausalLM",), qk_norm=True)

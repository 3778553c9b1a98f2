"""Reading a Hugging Face config.json with errors that name the model and the missing or malformed key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from servecast.errors import InputError


class ConfigReader:
    """Typed access to a config mapping; every problem becomes an InputError naming the key."""

    def __init__(self, config: Mapping[str, Any], family: str) -> None:
        self.config = config
        self.family = family

    def _fail(self, key: str, problem: str) -> InputError:
        name = self.config.get("_name_or_path") or self.config.get("model_type") or "the model"
        return InputError(
            f"config.json of {name}: {key!r} {problem} (read by the {self.family!r} model family)",
            "check the config.json; a hand-written config needs every key its architecture defines",
        )

    def integer(self, key: str, default: int | None = None, *aliases: str) -> int:
        """A positive integer under `key` (or the first alias present), else `default`."""
        for name in (key, *aliases):
            value = self.config.get(name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise self._fail(name, f"must be a non-negative integer, got {value!r}")
                return value
        if default is None:
            raise self._fail(key, "is missing")
        return default

    def optional_integer(self, key: str) -> int | None:
        """An integer, or None when the key is absent or null."""
        return None if self.config.get(key) is None else self.integer(key)

    def flag(self, key: str, default: bool) -> bool:
        value = self.config.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, f"must be true or false, got {value!r}")
        return value

    def sliding_window(self) -> int | None:
        """The window every layer uses when `layer_types` does not say otherwise (Qwen2 lists one it does not use)."""
        return self.optional_integer("sliding_window") if self.flag("use_sliding_window", True) else None

    def layer_windows(self, num_layers: int, default_window: int | None) -> tuple[int | None, ...]:
        """Per-layer sliding windows from `layer_types` when present, else `default_window` for every layer."""
        layer_types = self.config.get("layer_types")
        if layer_types is None:
            return (default_window,) * num_layers
        if not isinstance(layer_types, Sequence) or len(layer_types) != num_layers:
            raise self._fail("layer_types", f"must list one type per layer ({num_layers})")
        window = self.integer("sliding_window")
        windows: list[int | None] = []
        for kind in layer_types:
            if kind == "sliding_attention":
                windows.append(window)
            elif kind == "full_attention":
                windows.append(None)
            else:
                raise self._fail("layer_types", f"has an unknown layer type {kind!r}")
        return tuple(windows)

    def common(self) -> dict[str, Any]:
        """The fields every decoder shares."""
        hidden = self.integer("hidden_size")
        heads = self.integer("num_attention_heads")
        if hidden == 0 or heads == 0:
            raise self._fail("hidden_size" if hidden == 0 else "num_attention_heads", "must be positive")
        return {
            "hf_architecture": _first_architecture(self.config),
            "hidden_size": hidden,
            "num_layers": self.integer("num_hidden_layers"),
            "num_heads": heads,
            "num_kv_heads": self.integer("num_key_value_heads", heads),
            "head_dim": self.optional_integer("head_dim") or hidden // heads,
            "vocab_size": self.integer("vocab_size"),
            "tie_word_embeddings": self.flag("tie_word_embeddings", False),
            "max_position_embeddings": self.integer("max_position_embeddings"),
            "weights_dtype": str(self.config.get("torch_dtype") or self.config.get("dtype") or "bfloat16"),
            "family": self.family,
        }


def _first_architecture(config: Mapping[str, Any]) -> str:
    architectures = config.get("architectures") or []
    return str(architectures[0]) if architectures else "unknown"

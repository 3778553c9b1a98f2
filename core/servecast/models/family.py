"""The contract of a model family: which Hugging Face architectures it understands, and how it reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from servecast.models.architecture import ModelArchitecture


@runtime_checkable
class ModelFamily(Protocol):
    """Teaches servecast an architecture; registered through the model-family hook.

    `architectures` are the names a Hugging Face ``config.json`` lists under ``"architectures"``
    (e.g. ``"LlamaForCausalLM"``); each may be claimed by one family only.
    """

    @property
    def name(self) -> str: ...

    @property
    def architectures(self) -> tuple[str, ...]: ...

    def build(self, config: Mapping[str, Any]) -> ModelArchitecture:
        """The architecture described by a ``config.json`` mapping; InputError naming the key when malformed."""
        ...

"""The base class every servecast domain object derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """An immutable, strictly-validated value object: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

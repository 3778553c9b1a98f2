"""The base class every servecast domain object derives from."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from servecast.errors import InputError


class FrozenModel(BaseModel):
    """An immutable, strictly-validated value object: unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    @classmethod
    def parse_input(cls, values: dict[str, Any], what: str, hint: str) -> Self:
        """Validate user input, turning pydantic's report into an InputError naming each bad field and value."""
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in issue['loc']) or what}: {issue['msg'].removeprefix('Value error, ')}"
                + (f" (got {issue['input']!r})" if issue["loc"] else "")
                for issue in error.errors()
            )
            raise InputError(f"invalid {what}: {problems}", hint) from None

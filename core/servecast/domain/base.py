"""The base class every servecast domain object derives from."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from servecast.errors import InputError


class FrozenModel(BaseModel):
    """An immutable, strictly-validated value object: unknown fields are an error, never silently dropped, and
    numbers are finite."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)

    @classmethod
    def parse_input(cls, values: dict[str, Any], what: str, hint: str) -> Self:
        """Validate user input, turning pydantic's report into an InputError naming each bad field and value."""
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise InputError(f"invalid {what}: {validation_problems(error)}", hint) from None


_PLAIN_MESSAGES = {
    "greater_than": "must be above {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be below {lt}",
    "less_than_equal": "must be at most {le}",
    "finite_number": "must be a finite number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "string_too_short": "must not be empty",
    "enum": "must be one of {expected}",
    "literal_error": "must be one of {expected}",
    "missing": "is required",
    "extra_forbidden": "is not a known field (a typo?)",
}
"""Pydantic's error types in the words of servecast's other messages."""


def validation_problems(error: ValidationError, prefix: str = "") -> str:
    """Pydantic's report in people's words, one clause per problem: where (dotted, under `prefix`), what is wrong,
    and the value given; a problem of the whole object is its message alone."""
    clauses = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"])
        where = ".".join(part for part in (prefix, location) if part)
        template = _PLAIN_MESSAGES.get(problem["type"])
        message = (
            template.format(**problem.get("ctx", {}))
            if template
            else problem["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        )
        value = problem.get("input")
        shown = "" if not location or isinstance(value, Mapping) else f" (got {reprlib.repr(value)})"
        clauses.append(f"{where}: {message}{shown}" if where else message)
    return "; ".join(clauses)

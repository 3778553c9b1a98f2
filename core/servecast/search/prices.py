"""Prices per GPU-hour the user gives: `--gpu-price SYSTEM=USD` options and a `--gpu-prices` TOML file of
`system = usd` lines, checked against the installed systems."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Collection, Sequence
from pathlib import Path

from servecast.errors import InputError
from servecast.numbers import parse_number

FILE_EXAMPLE = "h100_sxm = 2.99"


def _price(text: object, where: str) -> float:
    """A positive, finite number of dollars; an InputError quoting `where` otherwise."""
    value = parse_number(text)
    if not math.isfinite(value) or value <= 0:
        raise InputError(
            f"{where}: the price {text!r} is no positive number", "give US dollars per GPU-hour, e.g. 2.99"
        )
    return value


def parse_gpu_prices(options: Sequence[str], file: Path | None) -> dict[str, float]:
    """The prices per GPU-hour of the file, then of the options (which win): system -> US dollars."""
    prices: dict[str, float] = {}
    if file is not None:
        try:
            with file.open("rb") as handle:
                table = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise InputError(
                f"--gpu-prices {str(file)!r} cannot be read: {error}",
                f"give a TOML file of `system = dollars per GPU-hour` lines, e.g. `{FILE_EXAMPLE}`",
            ) from error
        for system, value in table.items():
            prices[system] = _price(value, f"--gpu-prices {str(file)!r}, {system}")
    for option in options:
        system, separator, value = option.partition("=")
        if not separator or not system.strip():
            raise InputError(
                f"--gpu-price {option!r} is not SYSTEM=USD",
                "give the system and its dollars per GPU-hour: h100_sxm=2.99",
            )
        prices[system.strip()] = _price(value.strip(), f"--gpu-price {option!r}")
    return prices


def check_systems(prices: dict[str, float], known: Collection[str]) -> None:
    """An InputError naming every priced system that is not installed (a misspelt key would silently price nothing)."""
    unknown = sorted(system for system in prices if system not in known)
    if unknown:
        raise InputError(
            f"no system named {', '.join(repr(name) for name in unknown)} to price",
            f"price installed systems (`servecast hardware list`): {', '.join(sorted(known))}",
        )

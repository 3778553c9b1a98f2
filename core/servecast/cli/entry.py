"""The console script: process-wide defaults the command line wants, set before anything loads numpy."""

from __future__ import annotations

import os

SMALL_LINEAR_ALGEBRA = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""The command line's linear algebra is small (queue chains of a few hundred states), where BLAS threads only spin
and, on a busy machine, cost more than the solves: one thread each, unless the user set otherwise."""


def main() -> None:
    for variable in SMALL_LINEAR_ALGEBRA:
        os.environ.setdefault(variable, "1")
    from servecast.cli import cli

    cli()

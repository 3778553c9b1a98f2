"""Terminal tables for CLI listings (rich), written to stdout."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A simple table; numbers should already be formatted."""
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    _console().print(table)


def print_lines(lines: Sequence[str]) -> None:
    """Plain lines, with rich markup interpreted."""
    console = _console()
    for line in lines:
        console.print(line, highlight=False)


def _console() -> Console:
    """A console on stdout; when stdout is not a terminal, wide enough that tables do not wrap their cells."""
    console = Console()
    return console if console.is_terminal else Console(width=_PIPE_WIDTH)


_PIPE_WIDTH = 240

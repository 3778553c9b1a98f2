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
    Console(soft_wrap=False).print(table)


def print_lines(lines: Sequence[str]) -> None:
    """Plain lines, with rich markup interpreted."""
    console = Console(soft_wrap=True)
    for line in lines:
        console.print(line, highlight=False)

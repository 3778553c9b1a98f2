"""A progress bar on stderr for searches that take more than a moment (rich.progress is imported only then)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console

from servecast.search.evaluate import SearchProgress

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

MOMENT_S = 0.3
"""Searches reporting before this much time has passed show no bar (most searches of one framework)."""


class SearchProgressBar:
    """Stages done of total, the stage running and the configurations evaluated so far; shown only when stderr is
    a terminal and the search has run for `moment_s`, and removed when the search ends."""

    def __init__(self, console: Console, moment_s: float = MOMENT_S) -> None:
        self._console = console
        self._moment_s = moment_s
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> SearchProgressBar:
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def __call__(self, event: SearchProgress) -> None:
        if not self._console.is_terminal:
            return
        if self._bar is None:
            if time.monotonic() - self._started < self._moment_s:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("stages · {task.fields[evaluated]:,} configurations"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("searching", total=event.total, evaluated=0)
        assert self._task is not None
        description = f"searching {event.stage}" if event.stage else "selecting"
        self._bar.update(
            self._task, description=description, completed=event.done, total=event.total, evaluated=event.evaluated
        )
        self._bar.refresh()

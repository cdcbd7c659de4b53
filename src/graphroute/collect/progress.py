"""The collection's progress bar (rich): prompts done and money spent so far."""

from __future__ import annotations
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn


class Progress:
    """``advance()`` per finished prompt, ``spent(dollars)`` after each call; silent when disabled."""

    def __init__(self, total: int, *, enabled: bool = True) -> None:
        self.total, self.enabled = total, enabled
        self._bar = RichProgress(TextColumn("collect"), BarColumn(), MofNCompleteColumn(), TextColumn("${task.fields[cost]:.4f}"),
                                 TimeRemainingColumn(), transient=False) if enabled else None
        self._task: Any = None

    def __enter__(self) -> "Progress":
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task("collect", total=self.total, cost=0.0)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def spent(self, dollars: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, cost=dollars)

"""Progress of migrate, export and import against a total counted beforehand: click's bar on a
terminal, plain lines (every tenth of the way) when stderr is a file or a pipe, so logs of a
run in CI or under nohup stay readable."""

from __future__ import annotations

import sys
from typing import TextIO

import click

STEPS = 10


class Progress:
    """Call with the number of records done so far; use as a context manager."""

    def __init__(self, label: str, total: int, file: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.file = file or sys.stderr
        self._bar = None
        self._done = 0
        self._step = max(1, total // STEPS)
        self._next_line = self._step
        self._printed = -1

    def __enter__(self) -> Progress:
        if self.file.isatty():
            self._bar = click.progressbar(length=self.total, label=self.label, file=self.file,
                                          show_pos=True, update_min_steps=max(1, self.total // 1000))
            self._bar.__enter__()
        return self

    def __call__(self, done: int, _reported_total: int = 0) -> None:
        """`done` records so far (the signature of `scimflask.ops.migrate.Progress`, whose own
        total is ignored: this one was counted in the same unit as `done`)."""
        if self._bar is not None:
            self._bar.update(done - self._done)
        elif done >= self._next_line:
            self._line(done)
            self._next_line = done + self._step
        self._done = done

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
        elif exc_info[0] is None and self._printed != self._done:
            self._line(self._done)  # the last line always shows where it ended

    def _line(self, done: int) -> None:
        click.echo(f"{self.label}: {done}/{self.total} records", file=self.file)
        self._printed = done

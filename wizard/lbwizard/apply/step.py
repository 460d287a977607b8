"""A change that knows how to make itself and how to take itself back: what every apply is made of."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


def _nothing() -> None:
    return None


@dataclass
class Step:
    """One change: what it is (shown to the admin before confirm), how to make it, how to take it back.

    start and release are for work a step can begin before its turn (the hand-over loads Ansible): the
    transaction starts every step when it begins and releases every step when it ends, however it ends.
    A plan that is only shown (the wizard's summary) starts nothing.
    """

    description: str
    do: Callable[[], None]
    undo: Callable[[], None]
    start: Callable[[], None] = _nothing
    release: Callable[[], None] = _nothing


_progress: ContextVar[Callable[[str], None]] = ContextVar("lbwizard_progress", default=lambda line: None)


def report(line: str) -> None:
    """A line about a long step while it runs (the hand-over's tasks), to whoever shows the transaction."""
    _progress.get()(line)


@contextmanager
def reporting_to(progress: Callable[[str], None]) -> Iterator[None]:
    """Steps run inside this report() their lines to progress (the screen, or lbctl's output)."""
    token = _progress.set(progress)
    try:
        yield
    finally:
        _progress.reset(token)

"""Steps that know how to do and undo themselves, run as one transaction.

If any step fails, or the run is interrupted (Ctrl-C arrives as KeyboardInterrupt, SIGTERM is turned
into one by the caller), the steps already done are undone in reverse order and the error is raised
again. An undo that fails is reported, never hidden, and the remaining undos still run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass
class Step:
    """One change: what it is (shown to the admin before confirm), how to make it, how to take it back."""

    description: str
    do: Callable[[], None]
    undo: Callable[[], None]


class RollbackIncomplete(RuntimeError):
    """Some undo failed: the system is not fully back where it was. Lists what could not be undone."""


def run(steps: Iterable[Step], progress: Callable[[str], None] = lambda line: None) -> None:
    """Do each step; on any failure or interruption undo the done ones in reverse, then re-raise."""
    done: list[Step] = []
    try:
        for step in steps:
            progress(step.description)
            step.do()
            done.append(step)
    except BaseException as failure:
        failed_undos = []
        for step in reversed(done):
            try:
                step.undo()
            except Exception as exc:  # keep undoing the rest; report everything at the end
                failed_undos.append(f"{step.description}: {exc}")
        if failed_undos:
            raise RollbackIncomplete("could not undo: " + "; ".join(failed_undos)) from failure
        raise

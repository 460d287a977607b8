"""Steps that know how to do and undo themselves, run as one transaction.

If any step fails, or the run is interrupted (Ctrl-C arrives as KeyboardInterrupt, SIGTERM is turned
into one by the caller), the steps already done are undone in reverse order and the error is raised
again. An undo that fails is reported, never hidden, and the remaining undos still run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable

from .step import Step, reporting_to

# Test-only hooks (tests/netns): fail, or pause for a signal, after that many steps.
FAULT_HOOK = "LBWIZARD_TEST_FAULT_AFTER_STEP"
PAUSE_HOOK = "LBWIZARD_TEST_PAUSE_AFTER_STEP"


class RollbackIncomplete(RuntimeError):
    """Some undo failed: the system is not fully back where it was. Lists what could not be undone."""


class Cancelled(KeyboardInterrupt):
    """The admin cancelled while the steps ran (Ctrl-C on the progress screen)."""


def _test_hooks(done: int) -> None:
    if os.environ.get(FAULT_HOOK) == str(done):
        raise RuntimeError(f"injected fault after step {done} ({FAULT_HOOK})")
    if os.environ.get(PAUSE_HOOK) == str(done):
        print(f"paused after step {done}", file=sys.stderr, flush=True)
        time.sleep(60)


def run(
    steps: Iterable[Step],
    progress: Callable[[str], None] = lambda line: None,
    cancelled: Callable[[], bool] = lambda: False,
    capture: Callable[[], dict] | None = None,
    compare: Callable[[dict, dict], list[str]] | None = None,
    detail: Callable[[str], None] | None = None,
) -> None:
    """Do each step; on failure, interruption or cancellation undo the done ones in reverse, then re-raise.

    cancelled() is asked before every step and once after the last, so a cancel that arrives during
    the final step still undoes everything. With capture, the system is pictured before the first
    step and again after a rollback, and compare(before, after) lists what differs; anything it
    lists is reported as RollbackIncomplete. detail receives what a long step reports while it runs
    (the hand-over's tasks); without it, those lines go to progress too.
    """
    steps = list(steps)
    for step in steps:
        step.start()
    try:
        _run(steps, progress, cancelled, capture, compare, detail)
    finally:
        for step in steps:
            step.release()


def _run(
    steps: list[Step],
    progress: Callable[[str], None],
    cancelled: Callable[[], bool],
    capture: Callable[[], dict] | None,
    compare: Callable[[dict, dict], list[str]] | None,
    detail: Callable[[str], None] | None,
) -> None:
    done: list[Step] = []
    before = capture() if capture else None
    try:
        with reporting_to(detail or progress):
            for step in steps:
                if cancelled():
                    raise Cancelled
                progress(step.description)
                # listed before do(): a step that fails half way is undone too (its undo only reverts what
                # its do() recorded, so this is safe for a step that changed nothing)
                done.append(step)
                step.do()
                _test_hooks(len(done))
        if cancelled():
            raise Cancelled
    except BaseException as failure:
        failed_undos = []
        for step in reversed(done):
            try:
                step.undo()
            except Exception as exc:  # keep undoing the rest; report everything at the end
                failed_undos.append(f"{step.description}: {exc}")
        if capture and compare and before is not None:
            failed_undos += compare(before, capture())
        if failed_undos:
            raise RollbackIncomplete("could not undo: " + "; ".join(failed_undos)) from failure
        raise

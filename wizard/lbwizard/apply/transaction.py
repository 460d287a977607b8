"""Steps that know how to do and undo themselves, run as one transaction.

If any step fails, or the run is interrupted (Ctrl-C arrives as KeyboardInterrupt, SIGTERM is turned
into one by the caller), the steps already done are undone in reverse order and the error is raised
again. An undo that fails is reported, never hidden, and the remaining undos still run.

attempt() runs the same and returns how it ended as an Outcome, the one thing every caller (lbctl,
lbwizard, the wizard's and the management screens) renders: applied, failed and undone, failed with
the rollback incomplete, or interrupted and undone. None of them may say "nothing was changed" of a
rollback that was incomplete.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .step import Step, reporting_to

# Test-only hooks (tests/netns): fail, or pause for a signal, after that many steps.
FAULT_HOOK = "LBWIZARD_TEST_FAULT_AFTER_STEP"
PAUSE_HOOK = "LBWIZARD_TEST_PAUSE_AFTER_STEP"


class RollbackIncomplete(RuntimeError):
    """Some undo failed: the system is not fully back where it was. Lists what could not be undone
    (args: the message, then the list of what could not be undone)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


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
            raise RollbackIncomplete("could not undo: " + "; ".join(failed_undos), failed_undos) from failure
        raise


# exit codes of the commands, by outcome (manage/changes.py names the rest: bad input, busy, ...)
EXIT_OK, EXIT_FAILED, EXIT_ABORTED = 0, 1, 130
EXIT_UNDO_INCOMPLETE = 4  # failed, and not everything could be undone: the unit is neither as it was nor as asked


@dataclass(frozen=True)
class Outcome:
    """How one transaction ended. kind: ok | failed-and-undone | failed-and-undo-incomplete | interrupted
    (interrupted and undone; an interruption whose undo was incomplete is failed-and-undo-incomplete).

    reason: why it failed or stopped; not_undone: what could not be undone (failed-and-undo-incomplete).
    """

    kind: str
    reason: str = ""
    not_undone: tuple[str, ...] = ()

    OK = "ok"
    UNDONE = "failed-and-undone"
    UNDO_INCOMPLETE = "failed-and-undo-incomplete"
    INTERRUPTED = "interrupted"

    @property
    def ok(self) -> bool:
        return self.kind == Outcome.OK

    @property
    def exit_code(self) -> int:
        return {
            Outcome.OK: EXIT_OK,
            Outcome.UNDONE: EXIT_FAILED,
            Outcome.UNDO_INCOMPLETE: EXIT_UNDO_INCOMPLETE,
            Outcome.INTERRUPTED: EXIT_ABORTED,
        }[self.kind]

    @classmethod
    def of_exit_code(cls, code: int) -> Outcome:
        """The outcome a command's exit code says (for a caller that only has the code; the reason was
        reported as the change ran). Any other failure (busy, refused by the peer) is failed-and-undone:
        nothing of the change stays."""
        kinds = {EXIT_OK: cls.OK, EXIT_UNDO_INCOMPLETE: cls.UNDO_INCOMPLETE, EXIT_ABORTED: cls.INTERRUPTED}
        return cls(kinds.get(code, cls.UNDONE))

    def line(self) -> str:
        """One line for a command's output (lbctl and lbwizard print it on stderr when it is not ok)."""
        if self.kind == Outcome.OK:
            return "applied"
        if self.kind == Outcome.INTERRUPTED:
            return "interrupted; every change was undone"
        if self.kind == Outcome.UNDONE:
            return f"apply failed and every change was undone: {self.reason}"
        return f"apply failed ({self.reason}), and the rollback is INCOMPLETE: could not undo: {'; '.join(self.not_undone)}"

    def heading(self) -> str:
        """A screen's title for it."""
        return {
            Outcome.OK: "Done",
            Outcome.UNDONE: "Apply failed",
            Outcome.UNDO_INCOMPLETE: "Apply failed; the rollback is INCOMPLETE",
            Outcome.INTERRUPTED: "Cancelled",
        }[self.kind]

    def screen_text(self) -> str:
        """What a screen says of it, after the steps it listed (the reason among them, or here)."""
        reason = f": {self.reason}" if self.reason else " (see the steps above)"
        if self.kind == Outcome.OK:
            return "Applied and saved as a new version."
        if self.kind == Outcome.INTERRUPTED:
            return "Cancelled; every change was undone."
        if self.kind == Outcome.UNDONE:
            return f"Failed; every change was undone{reason}"
        left = f" Not undone: {'; '.join(self.not_undone)}." if self.not_undone else ""
        return (
            f"Failed{reason}, and the rollback is INCOMPLETE: this unit is neither as it was nor as asked.{left} "
            "`lbctl diagnose` says what is wrong; `lbwizard rollback` or `lbctl rollback` tries again."
        )


def attempt(
    steps: Iterable[Step],
    progress: Callable[[str], None] = lambda line: None,
    cancelled: Callable[[], bool] = lambda: False,
    capture: Callable[[], dict] | None = None,
    compare: Callable[[dict, dict], list[str]] | None = None,
    detail: Callable[[str], None] | None = None,
) -> Outcome:
    """run(), and how it ended as an Outcome instead of an exception."""
    try:
        run(steps, progress, cancelled, capture, compare, detail)
    except RollbackIncomplete as exc:
        cause = exc.__cause__
        reason = "interrupted" if isinstance(cause, KeyboardInterrupt) else str(cause)
        return Outcome(Outcome.UNDO_INCOMPLETE, reason, tuple(exc.args[1]) if len(exc.args) > 1 else (str(exc),))
    except KeyboardInterrupt:
        return Outcome(Outcome.INTERRUPTED, "interrupted")
    except Exception as exc:
        return Outcome(Outcome.UNDONE, str(exc))
    return Outcome(Outcome.OK)

"""The wizard app: the controller that moves between screens as the flow decides.

Screens report what the admin did (messages); this class asks the flow what comes next and runs the
apply transaction in a worker thread, so Ctrl-C stays responsive and can cancel it (undoing every step
already done). Ctrl-C and Ctrl-Q are priority bindings: Textual turns off ISIG, so they arrive as keys.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from textual import events, on, work
from textual.app import App
from textual.binding import Binding

from ..apply import state, transaction
from ..apply.plan import plan
from ..apply.step import Step
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..setup.flow import Flow, summary_lines
from ..setup.guidance import next_steps
from .console import use_ascii_scrollbars
from .progress import ProgressScreen
from .question import QuestionScreen
from .summary import SummaryScreen
from .welcome import WelcomeScreen

Planner = Callable[[ApplianceConfig, str | None], list[Step]]


class WizardApp(App[str]):
    """Returns 'applied', 'aborted' or 'failed' from run(); outcome says how a failed apply ended."""

    CSS_PATH = Path(__file__).with_name("wizard.tcss")
    TITLE = "lbwizard"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+c", "abort", "Abort (undo all)", priority=True),
        Binding("ctrl+q", "abort", "Abort", priority=True, show=False),
    ]

    def __init__(
        self,
        flow: Flow,
        paths: Paths,
        planner: Planner | None = None,
        capture: Callable[[ApplianceConfig], dict] | None = None,
        guard: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        """planner makes the steps; capture (live runs) pictures the system to check a rollback; guard is
        held from planning to the last step (the change lock)."""
        super().__init__()
        self.capture, self.guard = capture, guard
        self.flow, self.paths = flow, paths
        self.planner: Planner = planner or (
            lambda config, hashed: plan(config, paths, hashed, pair_identity=flow.identity_to_write())
        )
        self.cancel = threading.Event()
        self.applying = False
        self.result = "aborted"
        self.outcome: transaction.Outcome | None = None  # how the apply ended (None: not applied)
        self._held_keys: list[events.Key] | None = None
        if os.environ.get("TERM", "") in ("linux", "vt100", "vt220"):
            self.ansi_color = True  # the 16 colours of the console, not approximations of truecolor

    def on_mount(self) -> None:
        use_ascii_scrollbars()
        self.push_screen(WelcomeScreen())

    # -- type-ahead ----------------------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        """Hold keys typed after a screen's final Enter until the next screen can take them.

        Keys go to whatever has focus when they arrive; without this, answers typed ahead (a paste, a
        script on the serial console) would land on the screen being left and be lost. Ctrl-C and
        Ctrl-Q are never held.
        """
        if isinstance(event, events.Key) and not event.is_forwarded and event.key not in ("ctrl+c", "ctrl+q"):
            if self._held_keys is not None:
                self._held_keys.append(event)
                return
            ends_on_enter = getattr(self.screen, "ends_on_enter", lambda: False)
            if event.key == "enter" and ends_on_enter():
                self._held_keys = []
        await super().on_event(event)

    async def release_keys(self) -> None:
        """Replay held keys, in order, to the screen now showing (they may hold again at its end).

        Screens call this once they are current and focused (on_screen_resume).
        """
        held, self._held_keys = self._held_keys or [], None
        for key in held:
            await self.on_event(key)

    # -- moving between screens --------------------------------------------------------------------

    def _show_group(self, group: str | None) -> None:
        if group is None:
            self._show_summary()
            return
        self.switch_screen(QuestionScreen(self.flow, group, first=self.flow.previous_group(group) is None))

    def _show_summary(self) -> None:
        config = self.flow.build_config()
        problems = self.flow.problems()
        # A stand-in hash names the password step in the plan; the real one is made only on confirm.
        stand_in = "*" if self.flow.first_boot else None
        planned = [] if problems else [s.description for s in self.planner(config, stand_in)]
        self.switch_screen(SummaryScreen(summary_lines(config), planned, problems))

    @on(WelcomeScreen.Start)
    def start(self) -> None:
        self._show_group(self.flow.next_group(None))

    @on(QuestionScreen.Done)
    def answered(self, message: QuestionScreen.Done) -> None:
        problems = self.flow.submit(message.group, message.values)
        if problems:
            screen = self.screen
            if isinstance(screen, QuestionScreen):
                screen.show_problems(problems)
            self.call_after_refresh(self.release_keys)
            return
        self._show_group(self.flow.next_group(message.group))

    @on(QuestionScreen.Back)
    def back(self, message: QuestionScreen.Back) -> None:
        previous = self.flow.previous_group(message.group)
        if previous is not None:
            self._show_group(previous)

    @on(SummaryScreen.Back)
    def back_from_summary(self) -> None:
        groups = self.flow.groups()
        self._show_group(groups[-1] if groups else None)

    # -- applying ----------------------------------------------------------------------------------

    @on(SummaryScreen.Confirmed)
    def confirmed(self) -> None:
        self.applying = True
        self.switch_screen(ProgressScreen())
        self.call_after_refresh(self.run_apply)

    @work(thread=True, exclusive=True)
    def run_apply(self) -> None:
        screen = self.screen
        config = self.flow.build_config()

        def progress(line: str) -> None:
            if isinstance(screen, ProgressScreen):
                self.call_from_thread(screen.add_line, line)

        def detail(line: str) -> None:  # a long step's own progress: the line under the current step
            if isinstance(screen, ProgressScreen):
                self.call_from_thread(screen.show_detail, line)

        try:
            picture = (lambda: self.capture(config)) if self.capture else None
            with self.guard():
                steps = self.planner(config, self.flow.admin_password_hash())
                compare = state.settled_comparison(picture) if picture else None
                self.outcome = transaction.attempt(steps, progress, self.cancel.is_set, picture, compare, detail)
        except Exception as exc:  # before the first step (the lock busy, the saved config changed): nothing done
            self.outcome = transaction.Outcome(transaction.Outcome.UNDONE, str(exc))
        self.applying = False
        if self.outcome.kind == transaction.Outcome.INTERRUPTED:  # undone whole: leave, as Ctrl-C before confirm
            self.call_from_thread(self.exit, "aborted")
            return
        if not self.outcome.ok:  # undone, or not all of it: the screen says which
            self.result = "failed"
            self.call_from_thread(screen.show_outcome, self.outcome.heading(), self.outcome.screen_text(), [])
            return
        self.result = "applied"
        self.call_from_thread(
            screen.show_outcome,
            "Done",
            f"The load balancer is configured. Saved to {self.paths.appliance_yaml}.",
            next_steps(config),
        )

    def action_finish(self) -> None:
        if not self.applying:
            self.exit(self.result)

    def action_abort(self) -> None:
        """Ctrl-C: nothing is asked. Before confirm nothing was changed; during apply the steps are undone."""
        if self.applying:
            self.cancel.set()  # the worker undoes what it did and then exits the app
            return
        self.exit(self.result if self.result in ("applied", "failed") else "aborted")

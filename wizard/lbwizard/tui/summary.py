"""The confirm screen: the settings and the exact changes, then Enter to make them permanent."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

from ..config.verify import Problem


class SummaryScreen(Screen):
    """Shows what will be configured and the planned steps; Enter confirms, Escape goes back."""

    BINDINGS = [
        Binding("enter", "confirm", "Confirm and apply"),
        Binding("escape", "back", "Back"),
    ]

    class Confirmed(Message):
        """The admin pressed Enter on the summary."""

    class Back(Message):
        """The admin wants to change an answer."""

    def __init__(self, settings: list[str], plan: list[str], problems: list[Problem]) -> None:
        super().__init__()
        self.settings, self.plan, self.problems = settings, plan, problems

    def compose(self) -> ComposeResult:
        yield Static("Summary", markup=False, classes="title")
        with VerticalScroll():
            yield Static("\n".join(self.settings), markup=False, id="summary")
            yield Static("Changes:\n" + "\n".join(f"  {n}. {s}" for n, s in enumerate(self.plan, 1)), markup=False, id="steps")
        # Outside the scrolling part: what Enter does is always on screen, however long the plan.
        if self.problems:
            text = "\n".join(str(p) for p in self.problems)
            yield Static(f"Cannot apply yet; go back and fix:\n{text}", markup=False, classes="error", id="problems")
        else:
            yield Static("To confirm these settings and make the changes permanent, press Enter.", classes="status")
        with Horizontal(classes="buttons"):
            yield Button("Back", id="back")
            yield Button("Apply", id="apply", variant="primary", disabled=bool(self.problems))
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#back" if self.problems else "#apply", Button).focus()

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self.app.release_keys)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_confirm()
        else:
            self.action_back()

    def action_confirm(self) -> None:
        if not self.problems:
            self.post_message(self.Confirmed())

    def action_back(self) -> None:
        self.post_message(self.Back())

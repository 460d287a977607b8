"""The apply screen: one line per step as the transaction runs; then what to do next."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static


class ProgressScreen(Screen):
    """Lists the steps as they are applied and, at the end, the outcome and the next steps."""

    BINDINGS = [Binding("enter", "app.finish", "Leave", show=False)]

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("Applying", markup=False, classes="title", id="heading")
        with VerticalScroll():
            yield Static("", markup=False, id="log")
            yield Static("", markup=False, classes="hint", id="detail")
            yield Static("", markup=False, classes="status", id="outcome")
            yield Static("", markup=False, id="next")
        yield Static("", markup=False, classes="status", id="leave")  # never scrolled away
        yield Footer()

    def add_line(self, line: str) -> None:
        """A step begins: listed, and kept in view (the newest step is the one a person watches)."""
        self.lines.append(line)
        self.query_one("#log", Static).update("\n".join(f"- {line}" for line in self.lines))
        self.query_one("#detail", Static).update("")
        self.query_one(VerticalScroll).scroll_end(animate=False)

    def show_detail(self, line: str) -> None:
        """What the current step is doing (the hand-over's task and its seconds), so it never looks hung."""
        self.query_one("#detail", Static).update(f"    {line}")
        self.query_one(VerticalScroll).scroll_end(animate=False)

    def show_outcome(self, heading: str, outcome: str, next_steps: list[str]) -> None:
        """The end state: success with next steps, or failure with what was undone."""
        self.query_one("#heading", Static).update(heading)
        self.query_one("#detail", Static).update("")
        if next_steps:  # success: the step list has served its purpose; make room for what comes next
            self.query_one("#log", Static).update(f"{len(self.lines)} changes applied.")
        self.query_one("#outcome", Static).update(outcome)
        if next_steps:
            text = "Next steps:\n" + "\n".join(f"{n}. {s}" for n, s in enumerate(next_steps, 1))
            self.query_one("#next", Static).update(text)
        self.query_one("#leave", Static).update("Press Enter to leave the wizard.")

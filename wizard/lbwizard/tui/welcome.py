"""The first screen: what the wizard will do, and that Ctrl-C undoes everything."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Static

WELCOME = (
    "This wizard sets up this load balancer in a few questions, as in the quick start guide: "
    "a single unit or one half of an HA pair, one-arm or two-arm, addresses, gateway and DNS, "
    "then the first virtual service and its first real server.\n\n"
    "Values shown as [defaults] are used when you leave an answer empty. Nothing changes until you "
    "confirm on the last screen; the changes are then made in one transaction.\n\n"
    "You can leave at any time with Ctrl-C, and all changes will be undone."
)


class WelcomeScreen(Screen):
    """Explains the wizard; Enter starts it."""

    BINDINGS = [Binding("enter", "start", "Start", show=True)]

    class Start(Message):
        """The admin wants to begin."""

    def compose(self) -> ComposeResult:
        yield Static("Load balancer setup wizard", classes="title")
        yield Static(WELCOME, markup=False, classes="intro")
        with Horizontal(classes="buttons"):
            yield Button("Start", id="start", variant="primary")
        yield Footer()

    def ends_on_enter(self) -> bool:
        """Enter always leaves the welcome screen: the app holds the keys typed after it."""
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_start()

    def action_start(self) -> None:
        self.post_message(self.Start())

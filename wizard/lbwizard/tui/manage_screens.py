"""Building blocks of the management screens: a form, a run of one change, a page of text, and the
screens over the saved config (a list of its items whose keys make changes).

The form returns raw text per field (the caller converts and verify() judges, as lbctl does); the run
screen shows each step of the transaction as it happens and then either the outcome or the problems,
each naming its field; the text page can refresh itself (status) or on request (diagnostics).
"""

from __future__ import annotations

from collections.abc import Callable

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Static

from ..apply.transaction import Outcome
from ..config import provenance
from ..manage.operations import Operations
from .validation import ReadsAs

# (model path, label, current value, how its text is read: a setting's own kind, so it is judged as typed)
Field = tuple[str, str, str] | tuple[str, str, str, Callable[[str], object] | None]
Change = Callable[[Callable[[str], None]], tuple[int, list[tuple[str, str]]]]


class FormScreen(ModalScreen[dict[str, str] | None]):
    """One line per field; Enter on the last field (or Save) returns the texts, Escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[Field], hint: str = "") -> None:
        super().__init__()
        self.heading, self.fields, self.hint = title, fields, hint

    def compose(self) -> ComposeResult:
        yield Static(self.heading, markup=False, classes="title")
        if self.hint:
            yield Static(self.hint, markup=False, classes="hint")
        with VerticalScroll():
            for path, label, value, *read in self.fields:
                yield Static(label, markup=False, classes="prompt")
                validators = [ReadsAs(read[0])] if read and read[0] else []
                key = path.replace(".", "-")
                yield Input(value=value, id=f"field-{key}", name=path, validators=validators, validate_on=["changed"])
                yield Static("", markup=False, classes="error", id=f"error-{key}")
        with Horizontal(classes="buttons"):
            yield Button("Cancel", id="cancel")
            yield Button("Save", id="save", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        """The field's own problem under it as it is typed (the kind's words); the save still goes through
        verify, which judges the settings together."""
        result = event.validation_result
        message = "" if result is None or result.is_valid else "; ".join(result.failure_descriptions)
        self.query_one(f"#error-{str(event.input.name).replace('.', '-')}", Static).update(message)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_save() if event.button.id == "save" else self.action_cancel()

    def action_save(self) -> None:
        self.dismiss({str(i.name): i.value for i in self.query(Input)})

    def action_cancel(self) -> None:
        self.dismiss(None)


class RunScreen(Screen[bool]):
    """Runs one change in a worker thread, listing its steps; dismisses True when it was applied."""

    BINDINGS = [Binding("escape", "close", "Back"), Binding("enter", "close", "Back", show=False)]

    def __init__(self, title: str, change: Change) -> None:
        super().__init__()
        self.heading, self.change, self.finished, self.applied = title, change, False, False

    def compose(self) -> ComposeResult:
        yield Static(self.heading, markup=False, classes="title")
        with VerticalScroll():
            yield Static("", markup=False, id="steps")
        yield Static("Working; every step is undone if one fails.", markup=False, id="outcome")
        yield Footer()

    def on_mount(self) -> None:
        self.run_change()

    @work(thread=True, exclusive=True)
    def run_change(self) -> None:
        lines: list[str] = []

        def echo(line: str) -> None:
            lines.append(f"- {line}")
            self.app.call_from_thread(self.query_one("#steps", Static).update, "\n".join(lines))

        result, problems = self.change(echo)
        if problems:
            text = "Not applied; nothing was changed. Fix:\n" + "\n".join(f"{field}: {message}" for field, message in problems)
        elif result == 0:
            text = "Applied and saved as a new version. Press Enter to go back."
        else:  # undone, or not all of it (exit 4): the one rendering of a transaction's outcome
            text = f"{Outcome.of_exit_code(result).screen_text()} Press Enter to go back."
        self.app.call_from_thread(self._finish, text, result == 0 and not problems)

    def _finish(self, text: str, applied: bool) -> None:
        outcome = self.query_one("#outcome", Static)
        outcome.update(text)
        outcome.set_class(not applied, "error")
        self.finished, self.applied = True, applied

    def action_close(self) -> None:
        if self.finished:
            self.dismiss(self.applied)


class TextScreen(Screen):
    """A page of text from producer(); refreshed every `every` seconds, or with r."""

    BINDINGS = [Binding("escape", "back", "Back"), Binding("r", "refresh_text", "Refresh")]

    def __init__(self, title: str, producer: Callable[[], str], every: float | None = None) -> None:
        super().__init__()
        self.heading, self.producer, self.every = title, producer, every

    def compose(self) -> ComposeResult:
        yield Static(self.heading, markup=False, classes="title")
        with VerticalScroll():
            yield Static("Reading ...", markup=False, id="text")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh_text()
        if self.every:
            self.set_interval(self.every, self.action_refresh_text)

    @work(thread=True, exclusive=True)
    def action_refresh_text(self) -> None:
        try:
            text = self.producer()
        except Exception as exc:  # shown, not raised: a page of status must not end the app
            text = f"Cannot read it: {exc}"
        self.app.call_from_thread(self.query_one("#text", Static).update, text)

    def action_back(self) -> None:
        self.dismiss()


class OperationsScreen(Screen):
    """A screen over the saved config: shown afresh whenever it comes back into view."""

    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, operations: Operations) -> None:
        super().__init__()
        self.operations = operations

    def on_screen_resume(self) -> None:
        """Textual resumes a screen when it is first shown too, so this is the one place that reads the config."""
        self.reload()

    def reload(self) -> None:
        raise NotImplementedError

    def action_back(self) -> None:
        self.dismiss()


class ListScreen(OperationsScreen):
    """A table of the saved config's items; subclasses say what a row is and what the keys do."""

    BINDINGS = [*OperationsScreen.BINDINGS, Binding("a", "add", "Add"), Binding("x", "remove", "Remove")]
    heading = ""

    def compose(self) -> ComposeResult:
        yield Static(self.heading, classes="title")
        yield DataTable(cursor_type="row", zebra_stripes=False, id="table")
        yield Static("", markup=False, id="empty", classes="hint")
        yield Footer()

    def reload(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns(*self.columns())
        rows = self.rows()
        for key, row in rows:
            table.add_row(*row, key=key)
        self.query_one("#empty", Static).update("" if rows else "Nothing yet: press a to add one.")
        table.focus()

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _change(self, title: str, make, echo):
        """The change, recorded in history as made on this screen (provenance)."""
        with provenance.saying(command=f"lbwizard management screens: {title}"):
            return self.operations.change(make, echo)

    def run(self, title: str, make, problems: list[tuple[str, str]] | None = None) -> None:
        """Commit one edit on its own screen; form values of the wrong type stop it before anything runs."""
        if problems:
            self.app.push_screen(RunScreen(title, lambda echo: (2, problems)))
        else:
            self.app.push_screen(RunScreen(title, lambda echo: self._change(title, make, echo)))

    def columns(self) -> list[str]:
        raise NotImplementedError

    def rows(self) -> list[tuple[str, list[str]]]:
        raise NotImplementedError

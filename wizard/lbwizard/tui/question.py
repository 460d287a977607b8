"""One group of questions on one screen: a prompt, an input with its [default], an error line each.

The screen only lays out fields and reports what was typed (Done or Back); the flow judges the
answers. Each Input checks its own syntax as the admin types, through the flow's parser.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Footer, Input, Static

from ..config.verify import Problem
from ..setup.flow import GROUP_TITLES, QUESTION_BY_ID, Flow, Question, display_answer


class AnswerValidator(Validator):
    """Runs the flow's parser for one question (an empty answer means its default)."""

    def __init__(self, flow: Flow, question: Question) -> None:
        super().__init__()
        self.flow, self.question = flow, question

    def validate(self, value: str) -> ValidationResult:
        if self.question.secret and not value:
            return self.success()  # nothing typed yet is not an error worth shouting about
        try:
            self.flow.parse(self.question.id, typed(self.question, value))
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


def typed(question: Question, value: str) -> str:
    """What was typed, without the spaces around it (a secret is taken whole): the flow judges the rest."""
    return value if question.secret else value.strip()


class AnswerInput(Input):
    """An Input whose password mask is '*': the Linux console font may lack Textual's bullet."""

    @property
    def _value(self) -> Text:
        if self.password:
            return Text("*" * len(self.value), no_wrap=True, overflow="ignore", end="")
        return super()._value


def _prompt(flow: Flow, question: Question) -> str:
    options = f" ({'/'.join(question.choices)})" if question.choices else ""
    options = " (y/n)" if question.kind == "yes_no" else options
    default = "" if question.secret else f" [{flow.default(question.id)}]"
    return f"{question.prompt}{options}{default}:"


class QuestionScreen(Screen):
    """The questions of one group, e.g. eth0's address and netmask."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        # Checked as the key arrives, before keys typed after it are routed: see action_next_field.
        Binding("enter", "next_field", "Next", priority=True, show=False),
    ]

    class Done(Message):
        """The admin pressed Next with these raw answers."""

        def __init__(self, group: str, values: dict[str, str]) -> None:
            super().__init__()
            self.group, self.values = group, values

    class Back(Message):
        """The admin wants the previous group."""

        def __init__(self, group: str) -> None:
            super().__init__()
            self.group = group

    def __init__(self, flow: Flow, group: str, first: bool = False) -> None:
        super().__init__()
        self.flow, self.group, self.first = flow, group, first
        self.asked = flow.questions(group)

    def compose(self) -> ComposeResult:
        yield Static(GROUP_TITLES[self.group], markup=False, classes="title")
        for question in self.asked:
            with Vertical(classes="question"):
                yield Static(_prompt(self.flow, question), markup=False, classes="prompt")
                if question.hint:
                    yield Static(question.hint, markup=False, classes="hint")
                yield AnswerInput(
                    value=self._previous_answer(question),
                    password=question.secret,
                    validators=[AnswerValidator(self.flow, question)],
                    validate_on=["changed"],
                    id=question.id,
                    compact=True,
                )
                yield Static("", markup=False, classes="error", id=f"{question.id}-error")
        with Horizontal(classes="buttons"):
            if not self.first:
                yield Button("Back", id="back")
            yield Button("Next", id="next", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        # No blinking cursor: on a 115200 baud serial line every blink is a redraw.
        for field in self.query(Input):
            field.cursor_blink = False

    def on_screen_resume(self) -> None:
        """Now current and focused: keys typed ahead for this screen may come in."""
        self.call_after_refresh(self.app.release_keys)

    def _previous_answer(self, question: Question) -> str:
        if question.secret or question.id not in self.flow.answers:
            return ""
        return display_answer(question.id, self.flow.answers[question.id])

    @on(Input.Changed)
    def show_syntax_error(self, event: Input.Changed) -> None:
        message = ""
        if event.validation_result and not event.validation_result.is_valid:
            message = event.validation_result.failure_descriptions[0]
        self.query_one(f"#{event.input.id}-error", Static).update(message)

    def action_next_field(self) -> None:
        """Enter in a field that is not the last moves the focus at once.

        Textual routes each key to whatever has focus when the key arrives; moving focus only after the
        Input has handled its Enter would send an answer typed ahead (a paste, a script on the serial
        line) into the field just left. Enter in the last field, or on a button, takes the usual path.
        """
        inputs = list(self.query(Input))
        focused = self.focused
        if not isinstance(focused, Input) or focused not in inputs or focused is inputs[-1]:
            raise SkipAction
        self.set_focus(inputs[inputs.index(focused) + 1])

    def ends_on_enter(self) -> bool:
        """Enter now leaves this screen (the last field has focus): the app holds the keys after it."""
        inputs = list(self.query(Input))
        return bool(inputs) and self.focused is inputs[-1]

    @on(Input.Submitted)
    def done_after_last_field(self, event: Input.Submitted) -> None:
        self.action_next()

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        values = {i.id: typed(QUESTION_BY_ID[i.id], i.value) for i in self.query(Input) if i.id}
        self.post_message(self.Done(self.group, values))

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if not self.first:
            self.post_message(self.Back(self.group))

    def show_problems(self, problems: list[Problem]) -> None:
        """Put each problem under its field and move the cursor to the first one."""
        for question in self.asked:
            mine = [p.message for p in problems if p.field == question.id]
            self.query_one(f"#{question.id}-error", Static).update("\n".join(mine))
        wrong = [p.field for p in problems if p.field in {q.id for q in self.asked}]
        if wrong:
            self.query_one(f"#{wrong[0]}", Input).focus()

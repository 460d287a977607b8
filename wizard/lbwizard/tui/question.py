"""One group of questions on one screen: a prompt, an input with its [default], an error line each.

The screen only lays out fields and reports what was typed (Done or Back); the flow judges the
answers. Each Input checks its own syntax as the admin types, through the flow's parser.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.validation import ValidationResult, Validator
from textual.widgets import Button, Footer, Input, Static

from ..flow import GROUP_TITLES, Flow, Question, display_answer
from ..verify import Problem


class AnswerValidator(Validator):
    """Runs the flow's parser for one question (an empty answer means its default)."""

    def __init__(self, flow: Flow, question: Question) -> None:
        super().__init__()
        self.flow, self.question = flow, question

    def validate(self, value: str) -> ValidationResult:
        if self.question.secret and not value:
            return self.success()  # nothing typed yet is not an error worth shouting about
        try:
            self.flow.parse(self.question.id, value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


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
        Binding("ctrl+c", "app.abort", "Abort (undo all)", priority=True),
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

    @on(Input.Submitted)
    def next_field_or_done(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        position = inputs.index(event.input)
        if position + 1 < len(inputs):
            inputs[position + 1].focus()
        else:
            self.action_next()

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        values = {i.id: i.value for i in self.query(Input) if i.id}
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

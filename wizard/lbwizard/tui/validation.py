"""Textual validators made from the settings' own kinds, so a form says what is wrong as it is typed,
with the words lbctl and the answers file use for the same value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.validation import ValidationResult, Validator


class ReadsAs(Validator):
    """Valid when read() takes the text; empty is valid (the setting's default, or cleared)."""

    def __init__(self, read: Callable[[str], Any]) -> None:
        super().__init__()
        self.read = read

    def validate(self, value: str) -> ValidationResult:
        if value == "":
            return self.success()
        try:
            self.read(value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()

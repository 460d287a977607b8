"""lbctl's options and the management forms' fields, made from the settings' declarations (model.py).

A setting declared with a flag is an option of `lbctl vs add|set` or `lbctl rs add|set`, and a field of the
matching form on the console; both read what was typed with the setting's own kind, and "none" clears a
setting declared clearable (`--persistence none`, `--fwmark none`). Nothing here is written twice: a new
setting with a flag is an option and a field at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .declare import specs
from .kinds import Kind, KindError
from .model import RealServer, VirtualService

NONE_WORD = "none"


@dataclass(frozen=True)
class Option:
    """One setting as lbctl and the forms take it: its flag, its path in the model, kind and help."""

    flag: str  # --persistence-timeout
    path: str  # persistence.timeout
    kind: Kind
    help: str
    clear: bool  # "none" (or an emptied form field) clears it

    @property
    def label(self) -> str:
        """The form's name for it: the option without its dashes."""
        return self.flag.removeprefix("--")

    def read(self, text: str) -> Any:
        """What was typed, as the setting holds it; KindError saying what is wrong."""
        if self.clear and text.lower() == NONE_WORD:
            return None
        return self.kind.parse(text)

    def help_text(self) -> str:
        return f"{self.help} ({self.kind.metavar or 'VALUE'})" if self.kind.metavar else self.help


def options_of(cls: type, prefix: str = "") -> list[Option]:
    """The flagged settings of a model class and of its nested parts (persistence, health check), in order."""
    found: list[Option] = []
    for spec in specs(cls):
        if spec.shape == "one" and spec.target is not None:
            found += options_of(spec.target, f"{prefix}{spec.name}.")
        elif spec.flag and spec.kind is not None:
            found.append(Option(spec.flag, f"{prefix}{spec.name}", spec.kind, spec.help, spec.clear))
    return found


SERVICE_OPTIONS = options_of(VirtualService)
SERVER_OPTIONS = [option for option in options_of(RealServer) if option.path != "name"]
SERVER_NAME = next(option for option in options_of(RealServer) if option.path == "name")


def read_options(
    table: list[Option], values: dict[str, str], clear: bool = False, by: str = "flag"
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Typed text (lbctl's arguments, a form's fields, by model path) as model options, each by its kind.

    An empty field is left out, or with clear (an edit form, where the admin emptied it) set to None where
    the setting may be cleared; a value not of its kind is a problem naming the option (by="flag") or the
    form field (by="path")."""
    options: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for option in table:
        if option.path not in values:
            continue
        text = values[option.path]
        if text == "" and clear and option.clear:
            options[option.path] = None
            continue
        if text == "" and not clear:
            continue
        try:
            options[option.path] = option.read(text)
        except KindError as exc:
            problems.append((option.flag if by == "flag" else option.path, str(exc)))
    return options, problems

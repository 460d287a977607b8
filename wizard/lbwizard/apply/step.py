"""A change that knows how to make itself and how to take itself back: what every apply is made of."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Step:
    """One change: what it is (shown to the admin before confirm), how to make it, how to take it back."""

    description: str
    do: Callable[[], None]
    undo: Callable[[], None]

"""What talking to an engine can end in, besides an answer."""

from __future__ import annotations


class EngineError(RuntimeError):
    """An engine refused a runtime command; the message is its own answer."""


class NotAsked(Exception):
    """A dry run: nothing was asked of the running engines or the network. `what` says what would have been."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

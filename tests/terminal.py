"""A program on a pseudo-terminal, read the way a person reads it: as an 80x24 screen, not a byte stream.

Textual draws with cursor movements, so a sentence on screen is rarely contiguous in the output; pyte
replays the output into a screen and tests wait for text to appear there: for all of what a check
needs at once, within a bound. The QEMU serial-console tests drive the appliance the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pexpect
import pyte


class Terminal:
    """A spawned child and the screen its output draws."""

    def __init__(self, child: pexpect.spawn, rows: int = 24, cols: int = 80) -> None:
        self.child = child
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def wait_for(self, *texts: str, timeout: float = 30) -> str:
        """Read output until every one of texts is on the screen at once; the screen's text, or
        AssertionError with it.

        Name everything the check needs here, not one text and then an assert on the screen returned: a
        screen arrives in several reads, and one text may be drawn while the next is not yet (CI once
        matched "Press Enter to leave" while the next steps above it were still being drawn).
        """
        return self.wait_until(lambda screen: all(text in screen for text in texts), " and ".join(map(repr, texts)), timeout)

    def wait_until(self, condition: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        """Read output until condition(screen text) holds; the screen's text, or AssertionError naming what."""
        deadline = time.monotonic() + timeout
        while not condition(self.text()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{what} not on screen after {timeout} s:\n{self.text()}")
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=min(remaining, 0.5)))
            except pexpect.TIMEOUT:
                continue
        return self.text()

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def wait_exit(self, timeout: float = 30) -> int:
        """Drain output until the child exits; its exit status."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        return self.child.exitstatus

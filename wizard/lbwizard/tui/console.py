"""Terminal preparation for the VGA console and serial lines, before Textual starts.

A serial tty reports a size of 0x0 until someone sets it; Textual would then draw nothing useful. We
give such a line the 80x24 the wizard is designed for. agetty -n leaves ICRNL off, so Enter would
arrive as a bare CR; we turn it back on. Both are no-ops on a normal terminal.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
from typing import ClassVar

DEFAULT_ROWS, DEFAULT_COLUMNS = 24, 80


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, columns) as the kernel knows them; (0, 0) on an unsized serial line."""
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def ensure_size(fd: int, rows: int = DEFAULT_ROWS, cols: int = DEFAULT_COLUMNS) -> bool:
    """Give a terminal of unknown size a usable one; returns True when it changed something."""
    current_rows, current_cols = terminal_size(fd)
    if current_rows and current_cols:
        return False
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return True


def ensure_icrnl(fd: int) -> None:
    """Enter must read as newline even when the getty left ICRNL off."""
    attrs = termios.tcgetattr(fd)
    if not attrs[0] & termios.ICRNL:
        attrs[0] |= termios.ICRNL
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


def use_ascii_scrollbars() -> None:
    """Scrollbars drawn with spaces on a coloured track instead of eighth-block glyphs.

    The Linux console's font lacks the block elements Textual uses for smooth scrollbars (they show
    as diamonds), so a long summary would draw garbage down the right edge on the VGA console.
    """
    from textual.scrollbar import ScrollBar, ScrollBarRender

    class AsciiScrollBarRender(ScrollBarRender):
        VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
        HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8

    ScrollBar.renderer = AsciiScrollBarRender


def prepare_terminal() -> None:
    """Size and line discipline fixes for the console the wizard runs on."""
    if not sys.stdin.isatty():
        return
    fd = sys.stdin.fileno()
    if ensure_size(fd):
        os.environ.setdefault("LINES", str(DEFAULT_ROWS))
        os.environ.setdefault("COLUMNS", str(DEFAULT_COLUMNS))
    ensure_icrnl(fd)

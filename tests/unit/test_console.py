"""A serial line of unknown size gets 80x24 before Textual starts; a sized terminal is left alone."""

from __future__ import annotations

import os
import termios

from lbwizard.tui.console import ensure_icrnl, ensure_size, terminal_size


def test_unsized_line_gets_80x24():
    leader, follower = os.openpty()
    try:
        assert terminal_size(follower) == (0, 0)  # what a fresh serial tty reports
        assert ensure_size(follower) is True
        assert terminal_size(follower) == (24, 80)
        assert ensure_size(follower) is False  # already sized: untouched
    finally:
        os.close(leader), os.close(follower)


def test_icrnl_is_turned_back_on():
    leader, follower = os.openpty()
    try:
        attrs = termios.tcgetattr(follower)
        attrs[0] &= ~termios.ICRNL
        termios.tcsetattr(follower, termios.TCSANOW, attrs)
        ensure_icrnl(follower)
        assert termios.tcgetattr(follower)[0] & termios.ICRNL
    finally:
        os.close(leader), os.close(follower)

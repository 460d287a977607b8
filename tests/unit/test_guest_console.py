"""The guest lab's console waits (image/lab.py) against a real process standing in for QEMU's serial
console: an emulator stall is named at once, anything else waits its full timeout as before."""

from __future__ import annotations

import time

import pexpect
import pytest

from image.lab import Guest, GuestKernelStalled

STALL = "[   88.274090] rcu: rcu_preempt kthread timer wakeup didn't happen for 15757 jiffies! g-1159 f0x0"


def console(tmp_path, line: str) -> Guest:
    """A process printing one line, then silent: QEMU's serial console after it."""
    return Guest(pexpect.spawn("sh", ["-c", f'echo "{line}"; sleep 30']), tmp_path / "console.log")


def test_a_lost_guest_timer_fails_the_wait_at_once_naming_the_emulator(tmp_path):
    guest = console(tmp_path, STALL)
    started = time.monotonic()
    try:
        with pytest.raises(GuestKernelStalled, match="emulator defect") as raised:
            guest.wait_output("login: ", timeout=20)
    finally:
        guest.child.terminate(force=True)
    assert time.monotonic() - started < 10
    assert "timer wakeup didn't happen" in str(raised.value)


def test_other_output_waits_its_timeout_and_is_not_called_a_stall(tmp_path):
    guest = console(tmp_path, "[    2.1] rcu: Hierarchical SRCU implementation.")
    try:
        with pytest.raises(AssertionError, match="after 1 s") as raised:
            guest.wait_output("login: ", timeout=1)
    finally:
        guest.child.terminate(force=True)
    assert not isinstance(raised.value, GuestKernelStalled)

"""What the e2e scenarios do again and again with a guest: wait for a condition, for the VIP to serve,
for an answers disk to configure the unit, and apply a config carried on that disk."""

from __future__ import annotations

import copy
import time

from lbwizard.config.model import ApplianceConfig
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem

VIP_URL = "http://10.0.0.21/"
BOOT = 180  # TCG: a first boot reaches its banner in about 30 s here; generous for a loaded CI machine
APPLY_FROM_ANSWERS_DISK = (
    "mount -o ro LABEL=LBANSWERS /mnt && lbwizard apply --config /mnt/{name}; done=$?; umount /mnt; (exit $done)"
)


def wait_until(condition, timeout: float, what: str, poll: float = 0.5) -> float:
    """Until condition() is true; the seconds it took, or AssertionError naming what did not happen."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        time.sleep(poll)
    return time.monotonic() - start


def wait_served(lab, url: str = VIP_URL, expected: str = "rs1\n", timeout: float = 120) -> None:
    """Until the client gets the real server's page through the VIP."""
    deadline = time.monotonic() + timeout
    while (body := lab.fetch("client", url)) != expected:
        assert time.monotonic() < deadline, f"client got {body!r} from {url}, not {expected!r}"
        time.sleep(1)


def wait_configured(guest, timeout: float = BOOT + 240) -> None:
    """Until lbwizard-answers says the answers disk configured the unit (first boot, TCG)."""
    guest.wait_output(rb"configured from the answers disk", timeout=timeout)


def apply_from_answers_disk(guest, name: str = "scenario.yaml") -> None:
    """`lbwizard apply --config` of a file the host put on the answers disk, as root in the guest."""
    status, output = guest.shell(APPLY_FROM_ANSWERS_DISK.format(name=name), timeout=600)
    assert status == 0, output


def answered_config(answers: dict) -> ApplianceConfig:
    """The config an answers file makes (the host computes the same one the guest's wizard does)."""
    return Flow(LiveSystem()).run_answers(copy.deepcopy(answers))

"""The e2e tier: the built image booted under QEMU (TCG) in the namespace lab of image/lab.py.

A scenario that needs a fresh unit gets `guest_lab` (its own lab, its own boot). Scenarios that only
need a configured unit share one boot per module (`shared_lab`): the unit is set up once from an
answers disk and each scenario then applies its own whole config with `lbwizard apply --config`,
as an administrator reconfiguring a running unit would.

The guests run one at a time (the HA pair's two together): two single guests side by side were
no faster in make test (e2e 1,425 s vs about 1,500 s serially; the two-arm module took 1,413 s instead
of about 960) and the response-time scenario failed beside another guest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from image.lab import IMAGE, GuestLab


@contextmanager
def lab_for_test() -> Iterator[GuestLab]:
    if os.geteuid() != 0:
        pytest.skip("needs root for namespaces and taps")
    if not IMAGE.exists() or not shutil.which("qemu-system-x86_64"):
        pytest.fail(f"{IMAGE} or QEMU is missing: `make test` builds the image and installs QEMU first")
    lab = GuestLab()
    try:
        yield lab.build()
    finally:
        lab.close()


@pytest.fixture
def guest_lab() -> Iterator[GuestLab]:
    with lab_for_test() as lab:
        yield lab


@pytest.fixture(scope="module")
def shared_lab() -> Iterator[GuestLab]:
    """One lab (and so one guest) for every scenario of a module; the module's own fixture boots it."""
    with lab_for_test() as lab:
        yield lab

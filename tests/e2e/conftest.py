"""The e2e tier: the built image booted under QEMU (TCG) in the namespace lab of image/lab.py.

A scenario that needs a fresh unit gets `guest_lab` (its own lab, its own boot). Scenarios that only
need a configured unit share one boot per module (`shared_lab`): the unit is set up once from an
answers disk and each scenario then applies its own whole config with `lbwizard apply --config`,
as an administrator reconfiguring a running unit would.

`make test` runs the single-guest modules two at a time (`pytest -n 2 --dist loadfile`: a module and
its one boot stay in one worker): a guest spends most of a scenario waiting on check intervals,
timeouts and ARP, so two share the two cores (measured: two first boots side by side in 1.27x less time
than one after the other). The two-arm module, the longest by far, is marked `long`, so it starts first
and the others share the second worker. The HA pair's two guests run after them, alone.
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

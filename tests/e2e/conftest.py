"""The e2e tier: the built image booted under QEMU (TCG) in the namespace lab of image/lab.py."""

from __future__ import annotations

import os
import shutil

import pytest

from image.lab import IMAGE, GuestLab


@pytest.fixture
def guest_lab():
    if os.geteuid() != 0:
        pytest.skip("needs root for namespaces and taps")
    if not IMAGE.exists() or not shutil.which("qemu-system-x86_64"):
        pytest.fail(f"{IMAGE} or QEMU is missing: `make test` builds the image and installs QEMU first")
    lab = GuestLab()
    try:
        yield lab.build()
    finally:
        lab.close()

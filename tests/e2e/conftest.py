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
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from image.lab import IMAGE, GuestLab, qemu_command, spawn
from tests.e2e.steps import BOOT

ISO = IMAGE.with_suffix(".iso")


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


@dataclass(frozen=True)
class InstalledDisk:
    """A disk the hybrid ISO's installer wrote, and what the installer said on its serial console."""

    path: Path
    console: str

    def copy(self, where: Path) -> Path:
        """A copy-on-write overlay of it: each machine that boots it starts from the installer's disk."""
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(self.path), "-F", "qcow2", str(where)], check=True)
        return where


@pytest.fixture(scope="session")
def installed_from_iso(tmp_path_factory) -> InstalledDisk:
    """A blank 4 GB disk onto which the ISO's installer (BIOS, its serial menu) wrote the appliance after a
    typed "yes". Installed once for the tier: the installer's scenario boots it to the wizard, the two-arm
    unit's reimage restores a backup onto it, each on an overlay of its own."""
    if os.geteuid() != 0:
        pytest.skip("e2e boots run as root, like the rest of the tier")
    if not ISO.exists():
        pytest.fail(f"{ISO} is missing: `make test` builds it first")
    work = tmp_path_factory.mktemp("installed")
    disk = work / "installed.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "4G"], check=True)
    drives = ["-drive", f"file={ISO},media=cdrom,readonly=on", "-drive", f"file={disk},if=virtio,format=qcow2", "-boot", "d"]
    installer = spawn([*qemu_command(1024), "-nic", "none", *drives], work / "installer.log")
    try:
        installer.wait_output(rb"Install the load balancer appliance \(serial", timeout=120)
        installer.send("s")
        installer.wait_output(rb"1\) vda  4096 MB", timeout=BOOT)
        installer.wait_output(rb"Install onto which disk\?", timeout=30)
        installer.send("1\r")
        installer.wait_output(rb"EVERYTHING on /dev/vda .* will be erased", timeout=30)
        installer.send("yes\r")
        installer.wait_output(rb"Installed onto /dev/vda", timeout=600)
    finally:
        installer.stop()
    return InstalledDisk(disk, bytes(installer.raw).decode(errors="replace"))

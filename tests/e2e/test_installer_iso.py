"""The hybrid installer ISO: boots with BIOS and UEFI to its menu, writes the appliance onto the disk the
administrator picks only after an explicit "yes", and the disk it wrote boots to the wizard."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from image.lab import OVMF_VARS, qemu_command, spawn
from tests.e2e.conftest import ISO
from tests.e2e.steps import BOOT


@pytest.fixture
def machine(tmp_path):
    """An empty 4 GB disk, and QEMU guests that are stopped (by PID) whatever the test does."""
    if os.geteuid() != 0:
        pytest.skip("e2e boots run as root, like the rest of the tier")
    if not ISO.exists():
        pytest.fail(f"{ISO} is missing: `make test` builds it first")
    disk = tmp_path / "target.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "4G"], check=True)
    guests = []

    def start(*drives: str, uefi: bool = False):
        uefi_vars = None
        if uefi:
            uefi_vars = tmp_path / "vars.fd"
            shutil.copy(OVMF_VARS, uefi_vars)
        command = [*qemu_command(1024, uefi_vars), "-nic", "none", *drives]
        guest = spawn(command, tmp_path / f"console{len(guests)}.log")
        guests.append(guest)
        return guest

    try:
        yield disk, start
    finally:
        for guest in guests:
            guest.stop()


def cdrom(iso: Path = ISO) -> str:
    return f"file={iso},media=cdrom,readonly=on"


def allocated_bytes(disk: Path) -> int:
    info = subprocess.run(["qemu-img", "map", "--output=json", str(disk)], capture_output=True, text=True, check=True)
    return sum(extent["length"] for extent in json.loads(info.stdout) if extent["data"])


def test_install_onto_an_empty_disk_that_then_boots_to_the_wizard(machine, installed_from_iso):
    """The install itself is the tier's installed_from_iso (the two-arm unit's reimage restores onto the
    same installed disk): a listed disk, the warning, the typed yes, then the disk boots to the wizard."""
    _, start = machine
    for said in ("1) vda  4096 MB", "EVERYTHING on /dev/vda", "Installed onto /dev/vda"):
        assert said in installed_from_iso.console
    disk = installed_from_iso.copy(installed_from_iso.path.with_name("to-the-wizard.qcow2"))
    installed = start("-drive", f"file={disk},if=virtio,format=qcow2")
    installed.wait_screen("Press Enter to configure this load balancer", timeout=BOOT)


def test_uefi_boots_the_iso_to_its_menu_and_nothing_is_written_without_yes(machine):
    disk, start = machine
    installer = start("-drive", cdrom(), "-drive", f"file={disk},if=virtio,format=qcow2", uefi=True)
    installer.wait_output(rb"Install the load balancer appliance \(serial", timeout=BOOT)
    installer.send("s")
    installer.wait_output(rb"Install onto which disk\?", timeout=BOOT)
    installer.send("1\r")
    installer.wait_output(rb"Type yes to install onto /dev/vda", timeout=30)
    installer.send("y\r")
    refused = installer.wait_output(rb"Nothing was written", timeout=30)
    installer.wait_output(rb"Install onto which disk\?", timeout=30, since=refused.end())  # asked again
    installer.stop()
    assert allocated_bytes(disk) == 0

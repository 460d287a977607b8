"""Issue 6, scenario 5: an HA pair of two guests from the same image, configured by answers disks.

The external VIP and the internal floating gateway live on the master only; a pulled external cable
moves both to the backup, and when the master is powered off (QEMU killed) the backup serves too.
VRRPv3 with the model's default 0.2 s adverts, under TCG.
"""

from __future__ import annotations

import time

import yaml

from image.lab import answers_disk
from tests.conftest import HA_MASTER_TWO_ARM
from tests.e2e.steps import BOOT, wait_configured, wait_served, wait_until

VIP_URL = "http://10.0.0.20/"
BACKUP = HA_MASTER_TWO_ARM | {
    "ha_role": "backup",
    "eth0_address": "10.0.0.22",
    "eth1_address": "192.168.2.22",
    "peer_address": "10.0.0.21",
}
FLOATING = ("10.0.0.20/24", "192.168.2.20/24")


def holds_floating(guest) -> tuple[bool, bool]:
    addresses = guest.shell("ip -4 -o addr show")[1]
    return tuple(f"inet {address}" in addresses for address in FLOATING)


def test_ha_pair_fails_over_on_a_pulled_cable_and_on_power_off(guest_lab):
    guest_lab.run("rs1", "ip", "route", "replace", "default", "via", "192.168.2.20")  # the floating gateway
    pair = []
    for number, answers in enumerate((HA_MASTER_TWO_ARM, BACKUP)):
        disk = answers_disk(guest_lab.workdir / f"answers{number}.img", yaml.safe_dump(answers))
        pair.append(guest_lab.boot(drives=[disk]))
    master, backup = pair
    for guest in pair:
        wait_configured(guest, timeout=BOOT + 400)  # two guests share the CPUs
        guest.login(HA_MASTER_TWO_ARM["admin_password"])
    wait_served(guest_lab, VIP_URL)
    only_master = lambda: holds_floating(master) == (True, True) and holds_floating(backup) == (False, False)
    wait_until(only_master, 60, "VIPs on the master only")

    external_tap = guest_lab.tap(0, 0)
    guest_lab.run("sw", "ip", "link", "set", external_tap, "down")  # the master's external cable
    wait_until(lambda: holds_floating(backup) == (True, True), 60, "both floating addresses on the backup")
    wait_served(guest_lab, VIP_URL, timeout=60)
    guest_lab.run("sw", "ip", "link", "set", external_tap, "up")
    wait_until(only_master, 60, "the master taking the VIPs back, and the backup letting go")
    wait_served(guest_lab, VIP_URL, timeout=60)

    neighbour = guest_lab.run("client", "ip", "neigh", "show", "10.0.0.20").stdout
    assert "52:54:00:00:00:01" in neighbour, neighbour  # the client sends to the master's eth0
    master.stop()  # power off
    down = time.monotonic()
    wait_served(guest_lab, VIP_URL, timeout=60)
    gap = time.monotonic() - down
    assert holds_floating(backup) == (True, True)
    print(f"client served again {gap:.1f} s after the master was powered off (TCG)")

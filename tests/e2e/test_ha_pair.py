"""Issue 6, scenario 5: an HA pair of two guests from the same image, configured by answers disks.

The external VIP and the internal floating gateway live on the master only; a pulled external cable
moves both to the backup, and when the master is powered off (QEMU killed) the backup serves too.
VRRPv3 with the model's default 0.2 s adverts, under TCG.

IPVS connection sync (keepalived's lvs_sync_daemon): a second service on both units, a line echo on
port 7, carries one long-lived TCP connection; the backup learns it from the master's sync messages,
and after the master is powered off the client sends another line on the same socket and gets it back.
"""

from __future__ import annotations

import re
import select
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from image.lab import answers_disk
from lbwizard.config import model
from lbwizard.config.model import RealServer, VirtualService
from lbwizard.config.verify import verify
from tests.conftest import HA_BACKUP_TWO_ARM, HA_MASTER_TWO_ARM
from tests.e2e.https_api import a_change_through_the_masters_api_reaches_the_peer
from tests.e2e.steps import (
    BOOT,
    answered_config,
    apply_from_answers_disk,
    lbctl_json,
    wait_configured,
    wait_served,
    wait_until,
)

VIP_URL = "http://10.0.0.20/"
PAIR_SECRET = "both answers disks carry this"
MASTER = HA_MASTER_TWO_ARM | {"pair_secret": PAIR_SECRET, "metrics": True}
BACKUP = HA_BACKUP_TWO_ARM | {"pair_secret": PAIR_SECRET, "metrics": True}
FLOATING = ("10.0.0.20/24", "192.168.2.20/24")
ECHO_PORT = 7
# the real server's line echo, and a client that keeps one connection and sends a line per stdin line
ECHO_SERVER = r"""
import socketserver, sys
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), Echo).serve_forever()
"""
LINE_CLIENT = r"""
import socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
print(sock.getsockname()[1], flush=True)
replies = sock.makefile("rb")
for line in sys.stdin:
    try:
        sock.sendall(line.encode())
        print(replies.readline().decode().strip() or "closed", flush=True)
    except OSError as exc:
        print(f"error: {exc}", flush=True)
"""


def holds_floating(guest) -> tuple[bool, bool]:
    addresses = guest.shell("ip -4 -o addr show")[1]
    return tuple(f"inet {address}" in addresses for address in FLOATING)


def with_echo_service(answers: dict) -> str:
    """The unit's config as its answers make it, plus ECHO: the floating VIP's port 7 to rs1 (NAT)."""
    config = answered_config(answers)
    echo = [RealServer("RIP1", "192.168.2.50", ECHO_PORT)]
    config.virtual_services.append(VirtualService("ECHO", answers["floating_external"], ECHO_PORT, real_servers=echo))
    assert verify(config) == []
    return model.dumps(config)


def start(lab, name: str, code: str, *args: str) -> subprocess.Popen:
    """A Python program in a namespace, its stdin and stdout piped here; the lab stops it by PID."""
    command = ["ip", "netns", "exec", lab.ns(name), sys.executable, "-u", "-c", code, *args]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lab.processes.append(proc)
    return proc


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no answer from the client within {timeout} s"
    return proc.stdout.readline().strip()


def echoed(client: subprocess.Popen, text: str, timeout: float = 60) -> str:
    client.stdin.write(text + "\n")
    client.stdin.flush()
    return read_line(client, timeout)


def synced(guest, client_port: str) -> bool:
    """The echo connection is in this unit's IPVS table (on the backup: learnt from the sync messages)."""
    table = guest.shell("ipvsadm -Lnc")[1]
    return any(f"10.0.0.31:{client_port} " in line and "ESTABLISHED" in line for line in table.splitlines())


def only_master(master, backup) -> bool:
    return holds_floating(master) == (True, True) and holds_floating(backup) == (False, False)


def servers(guest) -> list[tuple[str, str]]:
    """VIP1's real servers as the unit's lbctl shows them: (address, requested state)."""
    return [(s["address"], s["state"]) for s in lbctl_json(guest, "vs show VIP1")["real_servers"]]


def vrrp_states(lab, address: str) -> dict[str, str]:
    """Each VRRP instance's state as a unit's node exporter serves it (lbwizard_vrrp_state), scraped from
    the client (a management network)."""
    body = lab.fetch("client", f"http://{address}:9100/metrics", timeout=10) or ""
    found = re.findall(r'^lbwizard_vrrp_state\{instance="(\w+)",state="(\w+)"\} 1$', body, re.MULTILINE)
    return dict(found)


PAIR_STATE = (
    "grep shared_version /etc/lbwizard/appliance.yaml; cat /etc/lbwizard/pair/peer.json; "
    "journalctl -o short-precise --no-pager -u lbwizard-pair-sync -u lbwizard-apply | tail -25"
)


def changed(guest, command: str) -> str:
    """command's output, once it succeeded; if not, with the unit's pair state and its sync's journal."""
    status, output = guest.shell(command, timeout=900)
    assert status == 0, output + "\n" + guest.shell(PAIR_STATE, timeout=60)[1]
    return output


def one_system(guest_lab, master, backup):
    """Issue 16 with both guests paired by their answers disks' pair_secret: a change on the master is on
    the backup (its lbctl and its IPVS table); both units show both; a change on each unit at once leaves
    them equal; a change made while the backup is off reaches it in its boot apply, before keepalived
    starts. Returns the backup as booted again."""
    guest_lab.add_real_server("rs2", "192.168.2.51", gateway="192.168.2.20")
    started = time.monotonic()
    said = changed(master, "lbctl rs add VIP1 192.168.2.51")
    pair_change = time.monotonic() - started
    assert "peer 10.0.0.22:" in said, said  # the backup's own steps, shown on the master
    assert ("192.168.2.51", "online") in servers(backup), said
    assert "192.168.2.51:80" in backup.shell("ipvsadm -Ln")[1]
    view = lbctl_json(master, "status")["pair"]
    assert view["in_sync"] is True and [u["vrrp"] for u in view["units"]] == ["MASTER", "BACKUP"], view
    for unit, address, state in ((master, "10.0.0.21", "MASTER"), (backup, "10.0.0.22", "BACKUP")):
        seen = vrrp_states(guest_lab, address)  # as the admin's monitoring sees it
        explain = "ls -l /run/lbwizard/metrics; cat /etc/default/prometheus-node-exporter; ss -ltnH | grep 9100"
        assert seen == {"VI_EXTERNAL": state, "VI_INTERNAL": state}, (seen, unit.shell(explain)[1])

    with ThreadPoolExecutor(2) as pool:  # a change on each unit at once: one wins, never a merge
        done = list(pool.map(lambda unit: unit[0].shell(f"lbctl rs add VIP1 {unit[1]}", timeout=900), [
            (master, "192.168.2.61"), (backup, "192.168.2.62")]))  # fmt: skip
    # whichever took the pair first wins (usually the master's, which refuses the backup's at once); the
    # other is made after it (0), refused by the peer (3), or finds its own unit busy with the winner (75)
    codes = [status for status, _ in done]
    assert 0 in codes and set(codes) <= {0, 3, 75}, done
    assert servers(master) == servers(backup)
    made = {address for code, address in zip(codes, ("192.168.2.61", "192.168.2.62"), strict=True) if code == 0}
    assert made == {a for a, _ in servers(master)} & {"192.168.2.61", "192.168.2.62"}, (done, servers(master))

    backup.stop()  # powered off: the master's change is made there alone, and the backup is behind
    started = time.monotonic()
    said = changed(master, "lbctl rs drain VIP1 RIP1")
    alone = time.monotonic() - started
    assert "could not be reached" in said and "behind by 1" in said, said
    assert lbctl_json(master, "status")["pair"]["peer_behind"] == 1
    backup = guest_lab.power_on(backup)
    backup.wait_output(rb"login: ", timeout=BOOT + 120)
    backup.login(MASTER["admin_password"])
    journal = backup.shell("journalctl -b -u lbwizard-apply --no-pager")[1]
    assert "took shared version" in journal, journal
    started = {
        unit: int(backup.shell(f"systemctl show -P {what} {unit}")[1].strip().splitlines()[-1])
        for unit, what in (
            ("lbwizard-apply", "ExecMainExitTimestampMonotonic"),
            ("keepalived", "ExecMainStartTimestampMonotonic"),
        )
    }
    assert 0 < started["lbwizard-apply"] <= started["keepalived"], started  # caught up before VRRP could run
    assert ("192.168.2.50", "drain") in servers(backup)
    assert servers(backup) == servers(master)
    wait_until(lambda: only_master(master, backup), 120, "the master holding the VIPs, the backup back as backup")
    print(f"TCG: lbctl rs add on the pair {pair_change:.1f} s; lbctl rs drain with the peer off {alone:.1f} s (ssh gave up)")
    return backup


def test_ha_pair_fails_over_on_a_pulled_cable_and_on_power_off(guest_lab):
    guest_lab.run("rs1", "ip", "route", "replace", "default", "via", "192.168.2.20")  # the floating gateway
    start(guest_lab, "rs1", ECHO_SERVER, "192.168.2.50", str(ECHO_PORT))
    listening = lambda: f":{ECHO_PORT} " in guest_lab.run("rs1", "ss", "-ltnH").stdout
    wait_until(listening, 10, "the echo server listening", poll=0.05)
    pair = []
    for number, answers in enumerate((MASTER, BACKUP)):
        scenario = {"scenario.yaml": with_echo_service(answers)}
        disk = answers_disk(guest_lab.workdir / f"answers{number}.img", yaml.safe_dump(answers), scenario)
        pair.append(guest_lab.boot(drives=[disk], cpus=1))
    master, backup = pair

    def set_up(guest) -> float:
        """First boot from the answers disk, login, then the echo service: the seconds its apply took."""
        wait_configured(guest, timeout=BOOT + 400)  # two guests share the CPUs
        guest.login(MASTER["admin_password"])
        started = time.monotonic()
        apply_from_answers_disk(guest)
        return time.monotonic() - started

    with ThreadPoolExecutor(2) as pool:  # both units at once, each console read while it prints
        applied = max(pool.map(set_up, pair))
    wait_served(guest_lab, VIP_URL)
    wait_until(lambda: only_master(master, backup), 60, "VIPs on the master only")

    external_tap = guest_lab.tap(0, 0)
    guest_lab.run("sw", "ip", "link", "set", external_tap, "down")  # the master's external cable
    wait_until(lambda: holds_floating(backup) == (True, True), 60, "both floating addresses on the backup")
    wait_served(guest_lab, VIP_URL, timeout=60)
    guest_lab.run("sw", "ip", "link", "set", external_tap, "up")
    wait_until(lambda: only_master(master, backup), 60, "the master taking the VIPs back, and the backup letting go")
    wait_served(guest_lab, VIP_URL, timeout=60)

    backup = one_system(guest_lab, master, backup)
    a_change_through_the_masters_api_reaches_the_peer(guest_lab, master, backup, servers)  # issue 36

    client = start(guest_lab, "client", LINE_CLIENT, "10.0.0.20", str(ECHO_PORT))
    client_port = read_line(client, 30)
    assert echoed(client, "before the failover") == "before the failover"
    learnt = wait_until(lambda: synced(backup, client_port), 30, "the echo connection synced to the backup")

    neighbour = guest_lab.run("client", "ip", "neigh", "show", "10.0.0.20").stdout
    assert "52:54:00:00:00:01" in neighbour, neighbour  # the client sends to the master's eth0
    master.stop()  # power off
    down = time.monotonic()
    wait_served(guest_lab, VIP_URL, expected="rs2\n", timeout=60)  # RIP1 drained on both: the new server
    gap = time.monotonic() - down
    assert holds_floating(backup) == (True, True)
    assert echoed(client, "after the failover") == "after the failover"  # the same TCP connection
    print(f"client served again {gap:.1f} s after the master was powered off (TCG)")
    print(f"the echo service applied on both units in {applied:.1f} s (each beside the other's first boot)")
    print(f"the echo connection was in the backup's IPVS table {learnt:.1f} s after it opened; it survived the failover")

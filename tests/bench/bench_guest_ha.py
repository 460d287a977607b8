"""Issue 6's HA figures in the guest (TCG): the gap a probing client sees through the VIP when the
master's external cable is pulled (and plugged back: the master takes the VIPs back), and when the
master is powered off. The client starts an HTTP GET every 50 ms, each with a 0.5 s timeout, in
parallel, so the resolution stays 50 ms while probes time out; the gap is the longest time between
two answers around the event. Printed with the advert settings the pair runs with (from the model,
and as keepalived.conf has them).

Issue 16's pair change under TCG, in the same run (both units paired by their answers disks): `lbctl rs
add` on the master with the backup's sshd stopped (refused at once: the change is this unit's alone,
plus one refused connection), then, sshd back and the backup level, the same change of the pair."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from image.lab import GuestLab, answers_disk
from lbwizard.render.rolevars import PRIORITY
from tests.conftest import HA_MASTER_TWO_ARM
from tests.e2e.steps import answered_config, wait_configured, wait_served, wait_until
from tests.e2e.test_ha_pair import BACKUP, MASTER, VIP_URL, holds_floating

INTERVAL, TIMEOUT = 0.05, 0.5
SETTLE = 2.0  # seconds of answers recorded before and after each event, so the gap has both ends
# In the client's namespace: a GET of the VIP every INTERVAL (each in its own thread) until stdin
# closes, then one line per probe: start end ok (CLOCK_MONOTONIC, the same clock as this process's).
PROBER = r"""
import socket, sys, threading, time
host, interval, timeout = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
results, stop = [], threading.Event()
def probe():
    start, ok = time.monotonic(), False
    try:
        with socket.create_connection((host, 80), timeout=timeout) as sock:
            sock.settimeout(max(0.01, start + timeout - time.monotonic()))
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            ok = data.startswith(b"HTTP/1.0 200")
    except OSError:
        pass
    results.append((start, time.monotonic(), ok))
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
threads, due = [], time.monotonic()
while not stop.is_set():
    threads.append(threading.Thread(target=probe))
    threads[-1].start()
    due += interval
    stop.wait(max(0.0, due - time.monotonic()))
for thread in threads:
    thread.join()
for start, end, ok in sorted(results):
    print(f"{start:.4f} {end:.4f} {int(ok)}")
"""


class Probe:
    """The prober running in the client's namespace for one event."""

    def __init__(self, lab: GuestLab) -> None:
        command = ["ip", "netns", "exec", lab.ns("client"), sys.executable, "-c", PROBER, VIP_URL.split("/")[2]]
        command += [str(INTERVAL), str(TIMEOUT)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lab.processes.append(self.proc)
        time.sleep(SETTLE)  # answers before the event

    def gap(self, event: float) -> tuple[float, int, int]:
        """After SETTLE more seconds: the longest time without an answer that ends after the event,
        the probes that failed, and all probes."""
        time.sleep(SETTLE)
        output, _ = self.proc.communicate(timeout=60)
        probes = [(float(s), float(e), ok == "1") for s, e, ok in (line.split() for line in output.splitlines())]
        answers = sorted(end for _start, end, ok in probes if ok)
        gaps = [later - earlier for earlier, later in itertools.pairwise(answers) if later > event]
        return max(gaps, default=float("nan")), sum(not ok for *_, ok in probes), len(probes)


def report(what: str, figures: tuple[float, int, int]) -> None:
    gap, failed, total = figures
    print(f"{what:<44} gap {gap:5.2f} s   ({failed} of {total} probes failed)")


def timed(guest, command: str) -> float:
    started = time.monotonic()
    status, output = guest.shell(command, timeout=900)
    assert status == 0, output
    return time.monotonic() - started


def pair_change(master, backup) -> None:
    """lbctl rs add on the master alone (the backup's sshd stopped) against the same on the pair."""
    master.shell("systemctl stop lbwizard-pair-sync.timer", timeout=60)  # its sync would hold the lock beside ours
    backup.shell("systemctl stop ssh.socket ssh.service", timeout=60)
    alone = [timed(master, f"lbctl rs add VIP1 192.168.2.{60 + n}") for n in range(2)]
    backup.shell("systemctl start ssh.service", timeout=60)
    timed(master, "lbctl pair sync")
    paired = [timed(master, f"lbctl rs add VIP1 192.168.2.{70 + n}") for n in range(2)]
    one, both = min(alone), min(paired)
    print(f"TCG lbctl rs add, this unit alone: {one:.1f} s (runs {', '.join(f'{s:.1f}' for s in alone)})")
    print(f"TCG lbctl rs add, the pair (both at once): {both:.1f} s (runs {', '.join(f'{s:.1f}' for s in paired)})")
    print(f"TCG ratio pair / one unit: {both / one:.2f} (goal < 2)")


def main() -> None:
    ha = answered_config(HA_MASTER_TWO_ARM).ha
    lab = GuestLab().build()
    try:
        lab.run("rs1", "ip", "route", "replace", "default", "via", "192.168.2.20")
        pair = []
        for number, answers in enumerate((MASTER, BACKUP)):
            pair.append(lab.boot(drives=[answers_disk(lab.workdir / f"answers{number}.img", yaml.safe_dump(answers))], cpus=1))
        master, backup = pair
        for guest in pair:
            wait_configured(guest, timeout=900)
            guest.login(HA_MASTER_TWO_ARM["admin_password"])
        wait_served(lab, VIP_URL)
        only_master = lambda: holds_floating(master) == (True, True) and holds_floating(backup) == (False, False)
        wait_until(only_master, 60, "VIPs on the master only")
        rendered = master.shell("grep -hE '^ *(vrrp_version|advert_int|priority) ' /etc/keepalived/keepalived.conf | sort -u")[1]
        skew = (256 - PRIORITY["backup"]) * ha.advert_interval / 256  # VRRPv3's skew time, the backup's
        print(f"VRRPv3, advert_int {ha.advert_interval} s (the model's default), unicast; the backup declares the")
        print(f"master down after 3 x advert + skew = {3 * ha.advert_interval + skew:.3f} s without adverts")
        print("keepalived.conf on the master: " + " | ".join(" ".join(line.split()) for line in rendered.splitlines()))
        print(f"probes: HTTP GET of {VIP_URL} every {INTERVAL * 1000:.0f} ms, {TIMEOUT} s timeout, from the client namespace")

        pair_change(master, backup)

        tap = lab.tap(0, 0)
        probe = Probe(lab)
        lab.run("sw", "ip", "link", "set", tap, "down")
        pulled = time.monotonic()
        wait_until(lambda: holds_floating(backup) == (True, True), 60, "the backup holding the VIPs", poll=0.1)
        wait_served(lab, VIP_URL, timeout=60)
        report("master's external cable pulled", probe.gap(pulled))

        probe = Probe(lab)
        lab.run("sw", "ip", "link", "set", tap, "up")
        plugged = time.monotonic()
        wait_until(only_master, 60, "the master taking the VIPs back", poll=0.1)
        wait_served(lab, VIP_URL, timeout=60)
        report("cable back (the master takes the VIPs back)", probe.gap(plugged))

        probe = Probe(lab)
        master.stop()
        off = time.monotonic()
        wait_until(lambda: holds_floating(backup) == (True, True), 60, "the backup holding the VIPs", poll=0.1)
        wait_served(lab, VIP_URL, timeout=60)
        report("master powered off", probe.gap(off))
    finally:
        lab.close()


if __name__ == "__main__":
    main()

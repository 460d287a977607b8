"""VRRP failover of an HA pair in namespaces, as a client on the external side sees it.

Two units applied by lbwizard on shared bridges (the netns test's Pair), keepalived VRRP-only from the
keepalived role's rendered file, and a client namespace that sends an ICMP echo to the VIP every 10 ms.

a. Takeover gap: the master's keepalived is SIGKILLed and its links go down (a power cut); the gap is
   the time from the kill to the first echo answered by the backup. Measured with the model's defaults
   (VRRPv3, adverts every 0.2 s) and, in the same run, keepalived's own (VRRPv2, 1 s adverts) for the
   ratio.
b. False failovers while both units' CPUs are saturated by busy loops, with the model's defaults:
   keepalived state transitions in the window (goal 0), the longest wait between two adverts at the
   backup (against the silence after which it takes over), and the longest silence the client saw.

Usage: bench_vrrp.py [--repeats N] [--load-seconds S]  (defaults 3 and 60). Needs root and keepalived.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from image.lab import stop_processes
from lbwizard.config.model import ApplianceConfig, HighAvailability
from lbwizard.render.rolevars import PRIORITY
from tests.netns.lab import sh
from tests.netns.test_vrrp_netns import GATEWAY, UNITS, VIP, Pair
from tests.roles.render import render

PROBE_INTERVAL = 0.01
# An ICMP echo to argv[1] every argv[2] seconds; prints "sent received number" for each answer (times on
# CLOCK_MONOTONIC, which all namespaces share; numbers count every echo sent, so gaps are losses).
# Raw socket: needs root, and nothing but Python.
PROBE = r"""
import os, select, socket, struct, sys, time
target, interval = sys.argv[1], float(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF

def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF

seq, next_send = 0, time.monotonic()
while True:
    now = time.monotonic()
    if now >= next_send:
        seq += 1
        payload = struct.pack("!dQ", now, seq)
        header = struct.pack("!BBHHH", 8, 0, 0, ident, seq & 0xFFFF)
        sock.sendto(struct.pack("!BBHHH", 8, 0, checksum(header + payload), ident, seq & 0xFFFF) + payload, (target, 0))
        next_send = max(next_send + interval, now)
    if select.select([sock], [], [], max(0.0, next_send - time.monotonic()))[0]:
        data = sock.recv(2048)
        start = (data[0] & 0x0F) * 4
        kind, _, _, answer_id, _ = struct.unpack("!BBHHH", data[start : start + 8])
        if kind == 0 and answer_id == ident:
            sent, number = struct.unpack("!dQ", data[start + 8 : start + 24])
            print(f"{sent:.6f} {time.monotonic():.6f} {number}", flush=True)
"""
# The longest wait between two VRRP adverts from argv[1] (per virtual router) over argv[2] seconds, by the
# kernel's receive time stamps, so that a starved reader still measures what keepalived's socket saw.
ADVERT_GAPS = r"""
import json, socket, struct, sys, time
source, seconds = sys.argv[1], float(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112)
SO_TIMESTAMPNS = 35  # Linux; the socket module does not name it
sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
sock.settimeout(1)
last, longest, end = {}, {}, time.monotonic() + seconds
while time.monotonic() < end:
    try:
        data, ancillary, _, sender = sock.recvmsg(2048, 64)
    except TimeoutError:
        continue
    if sender[0] != source:
        continue
    stamp = next(struct.unpack("qq", d[:16]) for level, kind, d in ancillary if kind == SO_TIMESTAMPNS)
    now, vrid = stamp[0] + stamp[1] / 1e9, data[(data[0] & 0x0F) * 4 + 1]
    if vrid in last:
        longest[vrid] = max(longest.get(vrid, 0), now - last[vrid])
    last[vrid] = now
print(json.dumps(longest))
"""
# what the backup waits before it takes over (RFC 5798): 3 adverts and a skew that shrinks with its priority
ADVERT = HighAvailability().advert_interval
MASTER_DOWN = 3 * ADVERT + (256 - PRIORITY["backup"]) / 256 * ADVERT
TRANSITION = re.compile(r"\((VI_\w+)\) Entering (\w+) STATE")


class ProbedPair(Pair):
    """The netns test's pair, plus a client on the external bridge probing the VIP."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.keepalived_defaults = False  # True: VRRPv2 and 1 s adverts, keepalived's own defaults
        self.processes: list[subprocess.Popen] = []
        self.answers: list[tuple[float, float, int]] = []  # (sent, received, number) of every answered probe

    def build(self) -> ProbedPair:
        super().build()
        client, switch = self.ns("client"), self.ns("sw")
        sh("ip", "netns", "add", client)
        sh("ip", "link", "add", "eth0", "netns", client, "type", "veth", "peer", "name", "cport", "netns", switch)
        self.run("sw", "ip", "link", "set", "cport", "master", "ext")
        self.run("sw", "ip", "link", "set", "cport", "up")
        self.run("client", "ip", "addr", "add", "10.0.0.31/24", "dev", "eth0")
        self.run("client", "ip", "link", "set", "eth0", "up")
        self.run("client", "ip", "link", "set", "lo", "up")
        return self

    def config(self, unit: str) -> ApplianceConfig:
        config = super().config(unit)
        if self.keepalived_defaults:
            config.ha.advert_interval = 1
        return config

    def start(self, unit: str) -> None:
        """The test's start, with the role's file edited to VRRPv2 when keepalived's defaults are asked for
        (the template always writes `vrrp_version 3`; keepalived's default is 2)."""
        text = render("keepalived", self.config(unit), keepalived_lvs_sync=False)  # no IPVS here
        if self.keepalived_defaults:
            text = text.replace("    vrrp_version 3\n", "")
        conf = self.tmp / f"{unit}-keepalived.conf"
        conf.write_text(text)
        run = len(list(self.tmp.glob(f"{unit}-*.p.pid"))) + 1
        pids = [f"-{flag}{self.tmp / f'{unit}-{run}.{flag}.pid'}" for flag in ("p", "r", "c")]
        with open(self.log(unit), "a") as log:
            self.daemons[unit] = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(unit), "keepalived", "-P", "-n", "-l", "-D", "-f", str(conf), *pids],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # killed as a group, parent and VRRP child together
            )

    def log(self, unit: str) -> Path:
        return self.tmp / f"{unit}-keepalived.log"

    def restart(self) -> None:
        """Both units stopped cleanly (two VRRP versions do not talk), then started again, backup first."""
        for daemon in self.daemons.values():
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=10)
        for unit in ("b", "a"):
            self.start(unit)

    def start_probe(self) -> None:
        command = ["ip", "netns", "exec", self.ns("client"), sys.executable, "-c", PROBE, VIP, str(PROBE_INTERVAL)]
        probe = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.processes.append(probe)

        def read() -> None:
            for line in probe.stdout:
                sent, received, number = line.split()
                self.answers.append((float(sent), float(received), int(number)))

        threading.Thread(target=read, daemon=True).start()

    def answered_after(self, moment: float, timeout: float = 20) -> tuple[float, float, int]:
        """The first answered probe sent after `moment` (monotonic), waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            later = [answer for answer in self.answers[-2000:] if answer[0] > moment]
            if later:
                return later[0]
            time.sleep(PROBE_INTERVAL)
        raise RuntimeError(f"nobody answered the VIP for {timeout} s")

    def power_cut(self, unit: str) -> float:
        """SIGKILL keepalived and take the unit's links down; the monotonic time of the kill."""
        killed = time.monotonic()
        self.crash(unit)
        self.run(unit, "sh", "-c", "ip link set eth0 down; ip link set eth1 down")
        return killed

    def power_on(self, unit: str) -> None:
        """Links up without the floating addresses a crash left behind (a rebooted machine has none), then keepalived."""
        self.run(unit, "ip", "addr", "del", f"{VIP}/24", "dev", "eth0", check=False)
        self.run(unit, "ip", "addr", "del", f"{GATEWAY}/24", "dev", "eth1", check=False)
        self.run(unit, "sh", "-c", "ip link set eth0 up; ip link set eth1 up")
        self.start(unit)

    def close(self) -> None:
        stop_processes(self.processes)
        try:
            super().close()
        finally:
            sh("ip", "netns", "del", self.ns("client"), check=False)


def takeover_gaps(pair: ProbedPair, repeats: int) -> list[float]:
    """Seconds from SIGKILL of the master to the backup answering the client, `repeats` times."""
    gaps = []
    for _ in range(repeats):
        pair.wait_for_holder("a", timeout=30)
        pair.answered_after(time.monotonic())  # the client reaches the master before the cut
        killed = pair.power_cut("a")
        down = time.monotonic()  # from here on only the backup can answer
        gaps.append(pair.answered_after(down)[1] - killed)
        pair.power_on("a")
    return gaps


def transitions(log: Path, offset: int) -> list[str]:
    with open(log) as text:
        text.seek(offset)
        return [" ".join(match.groups()) for match in TRANSITION.finditer(text.read())]


def scheduling(pid: int) -> str:
    """The scheduling class and nice value of keepalived's processes (is it real-time?)."""
    out = sh("ps", "-o", "cls=,rtprio=,ni=,comm=", "--ppid", str(pid), "-p", str(pid)).stdout
    return "; ".join(" ".join(line.split()) for line in out.splitlines())


def saturated(pair: ProbedPair, seconds: float, burners: int) -> None:
    """Both units running, `burners` busy loops (half in each unit's namespace) for `seconds`."""
    pair.wait_for_holder("a", timeout=30)
    pair.answered_after(time.monotonic())
    offsets = {unit: pair.log(unit).stat().st_size for unit in ("a", "b")}
    command = [sys.executable, "-c", ADVERT_GAPS, UNITS["a"][1], str(seconds)]
    sniffer = subprocess.Popen(["ip", "netns", "exec", pair.ns("b"), *command], stdout=subprocess.PIPE, text=True)
    pair.processes.append(sniffer)
    loops = [
        subprocess.Popen(["ip", "netns", "exec", pair.ns("ab"[n % 2]), sys.executable, "-c", "while True: pass"])
        for n in range(burners)
    ]
    try:
        start = time.monotonic()
        time.sleep(seconds)  # the window itself is the measurement
        end = time.monotonic()
        load = Path("/proc/loadavg").read_text().split()[0]
    finally:
        stop_processes(loops)
    gaps = json.loads(sniffer.communicate(timeout=30)[0])
    window = [answer for answer in pair.answers if start <= answer[0] <= end]
    silence = max((later[1] - earlier[1] for earlier, later in itertools.pairwise(window)), default=float("nan"))
    sent = window[-1][2] - window[0][2] + 1 if window else 0
    changes = {unit: transitions(pair.log(unit), offsets[unit]) for unit in offsets}
    holder = pair.holders()[VIP]
    count = sum(len(lines) for lines in changes.values())
    print(
        f"CPU saturated ({burners} busy loops on {os.cpu_count()} CPUs, loadavg {load} at the end), {seconds:.0f} s, "
        f"VRRPv3 {ADVERT} s adverts: {count} VRRP state transitions (goal 0){': ' + str(changes) if count else ''}; "
        f"VIP on {sorted(holder)} after; client (on the same CPUs): {len(window)} of {sent} echoes answered, "
        f"longest silence {silence * 1000:.0f} ms"
    )
    print(
        f"  longest wait between two of the master's adverts at the backup: {max(gaps.values()) * 1000:.0f} ms "
        f"(VRIDs {', '.join(f'{vrid}: {gap * 1000:.0f} ms' for vrid, gap in sorted(gaps.items()))}); the backup "
        f"takes over after 3 adverts + skew = {MASTER_DOWN * 1000:.0f} ms of silence"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="takeovers per advert setting")
    parser.add_argument("--load-seconds", type=float, default=60, help="length of the CPU-saturated window")
    parser.add_argument("--burners", type=int, default=4, help="busy loops during the window")
    args = parser.parse_args()
    print(f"loadavg at start: {Path('/proc/loadavg').read_text().strip()}")
    pair = ProbedPair(Path(tempfile.mkdtemp(prefix="lbwizard-bench-vrrp-")))
    try:
        pair.build()
        pair.start_probe()
        results = {}
        for defaults in (False, True):
            pair.keepalived_defaults = defaults
            pair.restart()
            results[defaults] = takeover_gaps(pair, args.repeats)
        for defaults, label in (
            (False, f"model default, VRRPv3, advert {ADVERT} s"),
            (True, "keepalived default, VRRPv2, advert 1 s"),
        ):
            gaps = results[defaults]
            print(
                f"takeover after SIGKILL of the master, {label}: min {min(gaps):.2f} s, median "
                f"{statistics.median(gaps):.2f} s, max {max(gaps):.2f} s ({len(gaps)} runs; client ICMP probe every 10 ms)"
            )
        ratio = statistics.median(results[False]) / statistics.median(results[True])
        print(f"ratio model / keepalived default (medians): {ratio:.2f}")
        pair.keepalived_defaults = False
        pair.restart()
        pair.wait_for_holder("a", timeout=30)
        print(f"keepalived scheduling (class, rt prio, nice): {scheduling(pair.daemons['a'].pid)}")
        saturated(pair, args.load_seconds, args.burners)
    finally:
        pair.close()
        subprocess.run(["rm", "-rf", str(pair.tmp)], check=False)


if __name__ == "__main__":
    main()

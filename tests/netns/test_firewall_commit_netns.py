"""The firewall changes each table in one commit: packets sent at the unit while its rules are re-applied
200 times, alternating between two rule sets, meet the old rules or the new ones, never a chain half
filled.

python-iptables' easy API committed after every call, so a re-apply flushed LBW-INPUT and refilled it
rule by rule: until the final DROP was back, anything fell through to INPUT's ACCEPT policy. Here the
client namespace sends TCP connection attempts and UDP datagrams from three addresses (and the real
server's namespace from the internal side) to six ports, each open to some sources in one rule set,
in the other, in both or in neither; listeners in the unit's namespace log every connection and
datagram that reached them. Nothing that both rule sets drop may be among them, what both accept is
always answered, and an SSH session (a real sshd in the namespace, opened before the re-applies, from
an address only the first rule set lets start a new one) echoes every line throughout.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from lbwizard.config import model
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import lbwizard
from tests.netns.test_apply_netns import write_config

REAPPLIES = 200
UNIT, INTERNAL = "10.0.0.21", "192.168.2.21"
CLIENTS = ("10.0.0.31", "10.0.0.32", "10.0.0.33")
SERVER = "192.168.2.50"
TCP_PORTS, UDP_PORTS = (7001, 7002, 7003), (7101, 7102, 7103)
# (protocol, port, source) the admin opens; "any" for every source
FIRST = [("tcp", 7001, "10.0.0.32"), ("udp", 7101, "10.0.0.31"), ("tcp", 7003, "any"), ("udp", 7103, SERVER)]
SECOND = [("tcp", 7002, "10.0.0.31"), ("udp", 7102, "any"), ("tcp", 7003, "any"), ("udp", 7101, "10.0.0.33")]

LISTENERS = r"""
import selectors, socket, sys
log, tcp_ports, udp_ports = open(sys.argv[1], "a", buffering=1), sys.argv[2].split(","), sys.argv[3].split(",")
selector = selectors.DefaultSelector()
for port in tcp_ports:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", int(port)))
    server.listen(512)
    selector.register(server, selectors.EVENT_READ, ("tcp", port))
for port in udp_ports:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("0.0.0.0", int(port)))
    selector.register(server, selectors.EVENT_READ, ("udp", port))
print("listening", flush=True)
while True:
    for key, _ in selector.select():
        protocol, port = key.data
        if protocol == "tcp":
            conn, (source, _) = key.fileobj.accept()
            conn.close()
        else:
            _, (source, _) = key.fileobj.recvfrom(2048)
        log.write(f"{protocol} {source} {port}\n")
"""

PROBES = r"""
import json, os, select, socket, sys, time
target, stop, sources = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
tcp_ports, udp_ports = [int(p) for p in sys.argv[4].split(",")], [int(p) for p in sys.argv[5].split(",")]
sent, connected, pending = {}, {}, []
udp = {source: socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for source in sources}
for source, sock in udp.items():
    sock.bind((source, 0))
def count(table, key):
    table[key] = table.get(key, 0) + 1
while not os.path.exists(stop):
    for source in sources:
        for port in tcp_ports:
            sock = socket.socket()
            sock.setblocking(False)
            sock.bind((source, 0))
            sock.connect_ex((target, port))
            pending.append((time.monotonic(), f"tcp {source} {port}", sock))
            count(sent, f"tcp {source} {port}")
        for port in udp_ports:
            udp[source].sendto(b"probe", (target, port))
            count(sent, f"udp {source} {port}")
    deadline = time.monotonic() + 0.02
    while time.monotonic() < deadline:
        _, ready, _ = select.select([], [s for _, _, s in pending], [], max(0.0, deadline - time.monotonic()))
        for item in [p for p in pending if p[2] in ready]:
            if item[2].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                count(connected, item[1])
            item[2].close()
            pending.remove(item)
    for item in [p for p in pending if time.monotonic() - p[0] > 3]:  # a dropped SYN, retried for 3 s
        item[2].close()
        pending.remove(item)
print(json.dumps({"sent": sent, "connected": connected, "unanswered_at_end": len(pending)}))
"""

LOOP = r"""
import json, sys, time
from lbwizard.apply import firewall
from lbwizard.config import model
first, second = (model.loads(open(path).read()) for path in sys.argv[1:3])
times = []
for n in range(int(sys.argv[3])):
    steps = firewall.plan(second if n % 2 == 0 else first)
    start = time.perf_counter()
    for step in steps:
        step.do()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def opens(rules: list[tuple[str, int, str]], protocol: str, source: str, port: int) -> bool:
    return any((p, n) == (protocol, port) and s in ("any", source) for p, n, s in rules)


def config_file(tmp_path: Path, name: str, rules, management: list[str]) -> Path:
    data = yaml.safe_load(Path(write_config(tmp_path, TWO_ARM_NAT)).read_text())
    data["access"]["management_networks"] = management
    data["access"]["input_rules"] = [
        {"protocol": p, "port": str(n), "source": s if s == "any" else f"{s}/32", "comment": ""} for p, n, s in rules
    ]
    path = tmp_path / name
    path.write_text(model.dumps(model.from_dict(data)))
    return path


class SshSession:
    """ssh from the client (10.0.0.31) to a real sshd on the unit, running cat: each line must come back."""

    def __init__(self, lab, tmp_path: Path) -> None:
        key = tmp_path / "admin-key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        hostkey = tmp_path / "hostkey"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)], check=True)
        (tmp_path / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        options = {
            "ListenAddress": UNIT,
            "HostKey": str(hostkey),
            "AuthorizedKeysFile": str(tmp_path / "authorized_keys"),
            "PidFile": "none",
            "UsePAM": "no",
            "PasswordAuthentication": "no",
            "PermitRootLogin": "prohibit-password",
            "StrictModes": "no",  # pytest's tmp directories
        }
        sshd = ["/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", *[f"-o{k}={v}" for k, v in options.items()]]
        self.log = open(tmp_path / "sshd.log", "w")  # noqa: SIM115 - closed in finish()
        lab.processes.append(
            subprocess.Popen(["ip", "netns", "exec", lab.ns("lb"), *sshd], stdout=self.log, stderr=subprocess.STDOUT)
        )
        deadline = time.monotonic() + 10
        while f"{UNIT}:22 " not in lab.run("lb", "ss", "-ltnH").stdout:
            assert time.monotonic() < deadline, (tmp_path / "sshd.log").read_text()
            time.sleep(0.05)
        options = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"]
        ssh = ["ssh", "-i", str(key), *options, "-b", CLIENTS[0], f"root@{UNIT}", "cat"]
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", lab.ns("client"), *ssh], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        lab.processes.append(self.process)
        self.lines, self.slowest, self.broken = 0, 0.0, ""
        self.echo(timeout=20)  # logged in: the session is established before the re-applies begin
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.keep_echoing)
        self.thread.start()

    def echo(self, timeout: float) -> None:
        line = f"line {self.lines}\n".encode()
        started = time.monotonic()
        self.process.stdin.write(line)
        self.process.stdin.flush()
        got = b""
        while not got.endswith(b"\n"):
            ready, _, _ = select.select([self.process.stdout], [], [], timeout - (time.monotonic() - started))
            if not ready:
                raise AssertionError(f"no echo of {line!r} within {timeout} s")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"the SSH session ended: {self.process.stderr.read().decode()}")
            got += chunk
        assert got == line, (got, line)
        self.lines += 1
        self.slowest = max(self.slowest, time.monotonic() - started)

    def keep_echoing(self) -> None:
        try:
            while not self.stop.is_set():
                self.echo(timeout=3)
                time.sleep(0.02)
        except Exception as exc:  # reported by finish()
            self.broken = str(exc)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.process.stdin.close()
        self.log.close()


@pytest.mark.long
@pytest.mark.skipif(not Path("/usr/sbin/sshd").exists() or not shutil.which("ssh"), reason="needs sshd and ssh")
def test_packets_meet_the_old_or_the_new_rules_during_200_reapplies(lab, tmp_path):
    first = config_file(tmp_path, "first.yaml", FIRST, [])  # SSH from the unit's own subnets
    second = config_file(tmp_path, "second.yaml", SECOND, ["10.0.0.32/32"])  # a new SSH session from .31 refused
    applied = lbwizard(lab, "apply", "--config", str(first), "--root", str(tmp_path / "root"), "--no-handover")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    for address in CLIENTS[1:]:
        lab.run("client", "ip", "addr", "add", f"{address}/24", "dev", "ext")
    events = tmp_path / "received"
    command = [sys.executable, "-c", LISTENERS, str(events), ",".join(map(str, TCP_PORTS)), ",".join(map(str, UDP_PORTS))]
    listeners = subprocess.Popen(["ip", "netns", "exec", lab.ns("lb"), *command], stdout=subprocess.PIPE, text=True)
    lab.processes.append(listeners)
    assert listeners.stdout.readline().strip() == "listening"
    session = SshSession(lab, tmp_path)
    stop = tmp_path / "stop"
    ports = (",".join(map(str, TCP_PORTS)), ",".join(map(str, UDP_PORTS)))
    senders = [
        subprocess.Popen(
            ["ip", "netns", "exec", lab.ns(where), sys.executable, "-c", PROBES, target, str(stop), sources, *ports],
            stdout=subprocess.PIPE,
            text=True,
        )
        for where, target, sources in (("client", UNIT, ",".join(CLIENTS)), ("rs1", INTERNAL, SERVER))
    ]
    lab.processes.extend(senders)
    time.sleep(1)  # the probes run before the first re-apply, and after the last
    loop = lab.run("lb", sys.executable, "-c", LOOP, str(first), str(second), str(REAPPLIES), check=False)
    time.sleep(1)
    stop.touch()
    probes = [json.loads(sender.communicate(timeout=30)[0]) for sender in senders]
    session.finish()
    time.sleep(0.5)  # the last datagrams reach the listeners' log
    assert loop.returncode == 0, loop.stderr
    times = json.loads(loop.stdout)
    print(
        f"{REAPPLIES} firewall re-applies: median {statistics.median(times) * 1000:.1f} ms, "
        f"p95 {sorted(times)[int(len(times) * 0.95)] * 1000:.1f} ms, max {max(times) * 1000:.1f} ms; "
        f"SSH: {session.lines} lines echoed, slowest {session.slowest * 1000:.0f} ms"
    )
    received = [line.split() for line in events.read_text().splitlines()]
    leaked = sorted(
        {
            " ".join(event)
            for event in received
            if not (opens(FIRST, event[0], event[1], int(event[2])) or opens(SECOND, event[0], event[1], int(event[2])))
        }
    )
    sent = {key: n for probe in probes for key, n in probe["sent"].items()}
    dropped_by_both = [k for k in sent if not any(opens(rules, *k.split()[:2], int(k.split()[2])) for rules in (FIRST, SECOND))]
    assert len(dropped_by_both) == 11 and sum(sent[k] for k in dropped_by_both) > 1000  # the test sent what it should catch
    assert leaked == [], f"accepted although both rule sets drop them: {leaked}"
    connected = {key: n for probe in probes for key, n in probe["connected"].items()}
    for source in (*CLIENTS,):  # tcp 7003 is open to everyone in both: every attempt connects
        key = f"tcp {source} 7003"
        assert connected.get(key, 0) >= sent[key] - 5, (key, connected.get(key), sent[key])
    assert session.broken == "", f"the established SSH session broke: {session.broken}"
    assert session.lines > 50


HALF_WAY = r"""
import sys
from lbwizard.apply import firewall
from lbwizard.config import model
specs = [c for c in firewall.chains(model.loads(open(sys.argv[1]).read())) if c.table == "filter" and not c.ipv6]
broken = [firewall.ChainRules(c.table, c.chain, c.parent, [*c.rules[:3], {"target": "NO-SUCH-TARGET"}]) for c in specs]
try:
    firewall.table_step(broken).do()  # not undone: what the failed batch left is what the test looks at
except Exception as exc:
    print(f"refused: {exc}")
"""


def test_a_table_change_that_fails_half_way_commits_nothing(lab, tmp_path):
    """The third rule of a batch refused: the filter table is as it was, not flushed and partly refilled."""
    first = config_file(tmp_path, "first.yaml", FIRST, [])
    applied = lbwizard(lab, "apply", "--config", str(first), "--root", str(tmp_path / "root"), "--no-handover")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    before = lab.dump()
    result = lab.run("lb", sys.executable, "-c", HALF_WAY, str(first), check=False)
    assert result.returncode == 0 and result.stdout.startswith("refused: "), result.stdout + result.stderr
    assert lab.dump() == before

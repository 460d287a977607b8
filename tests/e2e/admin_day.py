"""An administrator's day on the unit (issue 35): lbctl commands one after another on the serial console, and
after each one the whole picture, read on the unit, says the same thing three times: the kernel's IPVS table
and HAProxy's servers (its runtime API) hold exactly what `lbctl vs list` / `vs show` configure, `lbctl status`
reports exactly that, and a client from several source addresses is served by the servers that should serve
it and by no other. A command that fails leaves the whole picture as it was.

The day (administrators_day), on a unit set up from the quick start's two-arm NAT answers:

- back to the unit's first configuration (lbctl rollback 1: VIP1, rs1), whatever ran on it before;
- a layer-4 service with no server (WEB2, 8080): not in IPVS, and lbctl says why; its two servers added;
  a server with a weight out of range refused (exit 2), nothing changed;
- each server drained, taken offline and brought online; the last one in service taken offline too (WEB2
  leaves IPVS again, lbctl says why), then both online; the scheduler, then source-IP persistence changed;
- a layer-7 service (WEB7, 8090, HAProxy) with no server, then two; one drained, online and offline through
  HAProxy's runtime API; a TLS service (SECURE, 8443) with the unit's own certificate, which the client sees;
- a TLS service naming a file that is no certificate: HAProxy refuses it (haproxy -c), the change fails and
  every step is undone (exit 1), the whole picture as before, firewall and daemons' files included;
- a server and a service removed; `lbctl rollback N` to the version with everything: that version's
  picture again; `lbwizard rollback`: the picture before the rollback; a reboot: the same picture again.

The picture is read in the guest by PICTURE_SCRIPT in one go (its slow reads, lbctl, side by side) and
compared here; every comparison is a list of problems, so a failure says each way the unit disagrees.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.e2e.steps import BOOT, CERTIFICATE_FINGERPRINT

PICTURE_SCRIPT = r'''"""What this unit holds and says at one moment, as one line of JSON (tests/e2e/admin_day.py reads it): the
kernel's IPVS table, HAProxy's servers from its runtime API, lbctl's services and status, the daemons' files,
the firewall and the number of saved versions. The slow reads (lbctl) run side by side."""

import hashlib
import json
import os
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

FILES = ("/etc/keepalived/keepalived.conf", "/etc/haproxy/haproxy.cfg", "/etc/lbwizard/appliance.yaml")


def run(*command):
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else f"exit {done.returncode}: {done.stdout}{done.stderr}"


def haproxy_servers():
    try:
        with socket.socket(socket.AF_UNIX) as api:
            api.settimeout(10)
            api.connect("/run/haproxy/admin.sock")
            api.sendall(b"show servers state\n")
            return api.makefile().read()
    except OSError as exc:
        return f"no answer: {exc}"


def digests():
    found = {}
    for path in FILES:
        try:
            with open(path, "rb") as file:
                found[path] = hashlib.sha256(file.read()).hexdigest()
        except OSError:
            found[path] = None
    return found


READS = {
    "ipvs": lambda: run("ipvsadm", "-Sn"),
    "haproxy": haproxy_servers,
    "services": lambda: run("lbctl", "vs", "list", "--json"),
    "status": lambda: run("lbctl", "status", "--json"),
    "firewall": lambda: {"ipv4": run("iptables-save"), "ipv6": run("ip6tables-save")},
    "files": digests,
    "versions": lambda: len([n for n in os.listdir("/etc/lbwizard/history") if n.endswith(".yaml")]),
}
with ThreadPoolExecutor(len(READS)) as pool:
    answers = {name: pool.submit(read) for name, read in READS.items()}
    print("@picture " + json.dumps({name: answer.result() for name, answer in answers.items()}))
'''
PICTURE_PATH = "/root/lb-picture.py"  # on the unit's disk, so it is there after a reboot too

SOURCES = ("10.0.0.31", "10.0.0.32", "10.0.0.33")  # the client namespace's addresses
LAB_SERVERS = {"192.168.2.50": "rs1", "192.168.2.51": "rs2"}
DAY_PORTS = (8080, 8090, 8443)  # the day's services' servers answer "NAME:PORT" there; port 80 answers "NAME"
SERVER_ANSWER = re.compile(r"(rs\d+)(?::(\d+))?\n")
METHODS = {"nat": "-m", "dr": "-g", "tun": "-i"}  # ipvsadm -S's forwarding flags
STATUS_ACTUAL = {"online": "up", "drain": "draining", "offline": "offline"}
# HAProxy 2.6's srv_admin_state bits: the maintenance mask (forced, inherited, resolution) and the drain bits;
# 0x04 alone is a server `disabled` in the file and then put in service at runtime (FIELD-NOTES)
HAPROXY_MAINTENANCE, HAPROXY_DRAIN = 0x23, 0x18
LEFT_OUT = {"no server": "it has no real server yet", "all offline": "every real server is offline"}


@dataclass(frozen=True)
class Picture:
    """What the unit holds and says at one moment, reduced to what a configuration decides (no counters,
    timestamps or health-check details)."""

    ipvs: dict[str, dict]  # "tcp 10.0.0.21:8080" -> {scheduler, persistent, servers: {endpoint: "-m 1"}}
    haproxy: dict[str, dict[str, list]]  # backend -> server -> [endpoint, state]
    services: list[dict]  # lbctl vs list --json: the configuration as lbctl shows it
    status: dict[str, dict]  # lbctl status --json: service -> {engine, servers: {name: [requested, actual, weight]}}
    files: dict[str, str | None]  # keepalived.conf, haproxy.cfg, appliance.yaml: SHA-256
    firewall: tuple[tuple[str, ...], ...]  # (family, table, its lines): iptables-save's, without counters
    versions: int  # saved versions in /etc/lbwizard/history

    def without_history(self) -> Picture:
        """The same picture with the count of saved versions left out (a rollback adds one)."""
        return Picture(self.ipvs, self.haproxy, self.services, self.status, self.files, self.firewall, 0)


def read_picture(guest) -> Picture:
    """The unit's picture now (PICTURE_SCRIPT, over the serial console)."""
    status, output = guest.shell(f"python3 {PICTURE_PATH}", timeout=300)
    line = next((line for line in output.splitlines() if line.startswith("@picture ")), None)
    assert status == 0 and line, output
    raw = json.loads(line.removeprefix("@picture "))
    return Picture(
        ipvs=ipvs_table(raw["ipvs"]),
        haproxy=haproxy_servers(raw["haproxy"]),
        services=lbctl_answer(raw["services"], "lbctl vs list --json"),
        status=status_summary(lbctl_answer(raw["status"], "lbctl status --json")),
        files=raw["files"],
        firewall=firewall_tables(raw["firewall"]),
        versions=raw["versions"],
    )


def firewall_tables(saved: dict[str, str]) -> tuple[tuple[str, ...], ...]:
    """iptables-save's and ip6tables-save's tables, each its lines without counters or dates, in one order
    (iptables-save lists the tables in the order the kernel loaded them, which a reboot changes)."""
    tables = []
    for family, text in sorted(saved.items()):
        assert not text.startswith("exit "), f"{family}: {text}"
        for table in ("\n" + text).split("\n*")[1:]:  # each table starts with a line "*NAME"
            lines = [re.sub(r" \[\d+:\d+\]$", "", line) for line in table.splitlines() if line and not line.startswith("#")]
            tables.append((family, *lines))
    return tuple(sorted(tables))


def lbctl_answer(text: str, command: str):
    assert not text.startswith("exit "), f"{command} failed: {text}"
    return json.loads(text)


def ipvs_table(saved: str) -> dict[str, dict]:
    """ipvsadm -Sn's lines as services and their destinations."""
    assert not saved.startswith("exit "), saved
    table: dict[str, dict] = {}
    for line in saved.splitlines():
        words = line.split()
        options, rest = {}, iter(words[1:])
        for word in rest:  # the forwarding flags stand alone; every other option has a value
            options[word] = None if word in METHODS.values() else next(rest)
        kind = next(kind for flag, kind in (("-t", "tcp"), ("-u", "udp"), ("-f", "fwmark")) if flag in options)
        key = f"{kind} {options['-' + kind[0]]}"
        if words[0] == "-A":
            persistent = int(options["-p"]) if "-p" in options else None
            table[key] = {"scheduler": options["-s"], "persistent": persistent, "servers": {}}
        else:
            method = next(flag for flag in METHODS.values() if flag in options)
            table[key]["servers"][options["-r"]] = f"{method} {options['-w']}"
    return table


def haproxy_servers(answer: str) -> dict[str, dict[str, list]]:
    """`show servers state`: each backend's servers, their endpoints and their states as lbctl names them."""
    assert not answer.startswith("no answer"), answer
    servers: dict[str, dict[str, list]] = {}
    for line in answer.splitlines():
        fields = line.split()
        if len(fields) < 19 or line.startswith("#"):
            continue
        backend, name, address, admin, weight, port = fields[1], fields[3], fields[4], int(fields[6]), int(fields[7]), fields[18]
        if admin & HAPROXY_MAINTENANCE:
            state = "offline"
        elif admin & HAPROXY_DRAIN or weight == 0:
            state = "drain"
        else:
            state = f"online {weight}"
        servers.setdefault(backend, {})[name] = [f"{address}:{port}", state]
    return servers


def status_summary(status: dict) -> dict[str, dict]:
    return {
        service["name"]: {
            "engine": service["engine"],
            "servers": {s["name"]: [s["requested"], s["actual"], s["weight"]] for s in service["servers"]},
        }
        for service in status["services"]
    }


def in_service(service: dict) -> list[dict]:
    return [server for server in service["real_servers"] if server["state"] != "offline"]


def endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def ipvs_weight(server: dict) -> int:
    return 0 if server["state"] == "drain" else server["weight"]


def expected_ipvs(services: list[dict]) -> dict[str, dict]:
    """The IPVS table lbctl's services make: every layer-4 service with a server in service (keepalived leaves
    the others out), its online servers with their weights, its drained ones with 0, no offline one."""
    table = {}
    for service in services:
        if service["layer"] != 4 or not in_service(service):
            continue
        assert not service["fwmark"] and not service["extra_ports"], f"the day has no marked service: {service['name']}"
        persistence, method = service["persistence"], METHODS[service["forwarding"]]
        table[f"{service['protocol']} {endpoint(service['address'], service['port'])}"] = {
            "scheduler": service["scheduler"],
            "persistent": persistence["timeout"] if persistence else None,
            "servers": {endpoint(s["address"], s["port"]): f"{method} {ipvs_weight(s)}" for s in in_service(service)},
        }
    return table


def expected_haproxy(services: list[dict]) -> dict[str, dict[str, list]]:
    """HAProxy's servers as lbctl's layer-7 services configure them (a backend with no server lists none)."""
    backends = {}
    for service in services:
        if service["layer"] == 7 and service["real_servers"]:
            backends[f"{service['name']}_servers"] = {
                s["name"]: [f"{s['address']}:{s['port']}", s["state"] if s["state"] != "online" else f"online {s['weight']}"]
                for s in service["real_servers"]
            }
    return backends


def status_problems(picture: Picture) -> list[str]:
    """Where lbctl status disagrees with lbctl's own services or with the engines."""
    problems = []
    if list(picture.status) != [s["name"] for s in picture.services]:
        problems.append(f"lbctl status lists {list(picture.status)}, lbctl vs list {[s['name'] for s in picture.services]}")
    for service in picture.services:
        said = picture.status.get(service["name"], {"engine": "", "servers": {}})
        if service["layer"] == 4:
            if in_service(service):
                wanted_engine = "IPVS: loaded"
            else:
                wanted_engine = f"IPVS: not loaded: {LEFT_OUT['all offline' if service['real_servers'] else 'no server']}"
            if not said["engine"].startswith(wanted_engine):
                problems.append(f"{service['name']}: lbctl status says [{said['engine']}], not [{wanted_engine} ...]")
        elif "not running" in said["engine"]:
            problems.append(f"{service['name']}: lbctl status says [{said['engine']}]")
        ipvs = picture.ipvs.get(f"{service['protocol']} {endpoint(service['address'], service['port'])}", {"servers": {}})
        for server in service["real_servers"]:
            requested, actual, weight = said["servers"].get(server["name"], [None, None, None])
            wanted = [server["state"], STATUS_ACTUAL[server["state"]]]
            if [requested, actual] != wanted:
                problems.append(f"{service['name']}/{server['name']}: lbctl status says {requested}/{actual}, not {wanted}")
            in_ipvs = ipvs["servers"].get(endpoint(server["address"], server["port"]))
            if service["layer"] == 4 and (None if in_ipvs is None else int(in_ipvs.split()[1])) != weight:
                problems.append(f"{service['name']}/{server['name']}: lbctl status says weight {weight}, IPVS {in_ipvs}")
    return problems


def engine_problems(picture: Picture) -> list[str]:
    """Every way the engines and lbctl status differ from what lbctl's services say; [] when they agree."""
    problems = []
    wanted_ipvs, wanted_haproxy = expected_ipvs(picture.services), expected_haproxy(picture.services)
    for key in sorted(set(wanted_ipvs) | set(picture.ipvs)):
        if wanted_ipvs.get(key) != picture.ipvs.get(key):
            problems.append(f"IPVS {key}: holds {picture.ipvs.get(key)}, lbctl says {wanted_ipvs.get(key)}")
    for backend in sorted(set(wanted_haproxy) | set(picture.haproxy)):
        if wanted_haproxy.get(backend) != picture.haproxy.get(backend):
            problems.append(f"HAProxy {backend}: holds {picture.haproxy.get(backend)}, lbctl says {wanted_haproxy.get(backend)}")
    return problems + status_problems(picture)


def answered_by(body: str | None) -> str | None:
    """The server endpoint an answer names ("rs2:8080" -> 192.168.2.51:8080; "rs1" is port 80), or None for
    no answer or one of the unit's own (HAProxy's 503 when it has no server)."""
    found = SERVER_ANSWER.fullmatch(body or "")
    if not found:
        return None
    address = next(a for a, name in LAB_SERVERS.items() if name == found.group(1))
    return f"{address}:{found.group(2) or 80}"


@dataclass
class Clients:
    """The client namespace's requests to the unit's services, from each of SOURCES."""

    lab: object
    schemes: dict[int, str] = field(default_factory=dict)  # every port a service of the day had, and its scheme

    def fetch(self, url: str, source: str, timeout: float) -> str | None:
        result = self.lab.run(
            "client", "curl", "-sSk", "--max-time", str(timeout), "--interface", source, url, check=False, timeout=timeout + 20
        )
        return result.stdout if result.returncode == 0 else None

    def problems(self, services: list[dict]) -> list[str]:
        """Where the clients are not served as lbctl's services say: every request to a service with a server
        in service answered by one of its in-service servers (all of them over the sources, unless the service
        is persistent: then one per source), and no server's answer from a service with none, or one removed."""
        problems = []
        for service in services:
            scheme = "https" if service["tls"] else "http"
            self.schemes[service["port"]] = scheme
            url = f"{scheme}://{service['address']}:{service['port']}/"
            wanted = {endpoint(s["address"], s["port"]) for s in service["real_servers"] if s["state"] == "online"}
            got = {
                source: [answered_by(self.fetch(url, source, 3 if wanted else 1)) for _ in range(4 if wanted else 1)]
                for source in SOURCES
            }
            problems += self.judged(service["name"], url, wanted, got, persistent=bool(service["persistence"]))
        configured = {service["port"] for service in services}
        for port, scheme in sorted(self.schemes.items()):
            if port not in configured:  # a service of the day that is gone: nobody serves there
                url = f"{scheme}://10.0.0.21:{port}/"
                got = {source: [answered_by(self.fetch(url, source, 1))] for source in SOURCES}
                problems += self.judged(f"(removed, port {port})", url, set(), got, persistent=False)
        return problems

    @staticmethod
    def judged(name: str, url: str, wanted: set[str], got: dict[str, list], persistent: bool) -> list[str]:
        seen = {answer for answers in got.values() for answer in answers}
        if not wanted:
            return [f"{name}: {url} served by {sorted(seen - {None})}, should be by no server"] if seen - {None} else []
        if not seen <= wanted:
            return [f"{name}: {url} answered by {got}, should be by {sorted(wanted)} only (None: no answer)"]
        if persistent and any(len(set(answers)) != 1 for answers in got.values()):
            return [f"{name}: {url} is persistent, but a source was served by more than one server: {got}"]
        if not persistent and seen != wanted:
            return [f"{name}: {url} answered by {got}, should be by each of {sorted(wanted)}"]
        return []


def settle(what: str, problems: Callable[[], list[str]], timeout: float) -> tuple[int, list[str]]:
    """Until problems() finds none, within timeout seconds: how many looks it took, and what the looks before
    the last one found; or AssertionError with the last problems found."""
    started, looks, seen = time.monotonic(), 1, []
    while found := problems():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not within {timeout} s:\n" + "\n".join(found))
        looks, seen = looks + 1, found
        time.sleep(1)
    return looks, seen


def picture_differences(before: Picture, after: Picture) -> list[str]:
    """What differs between two pictures, part by part."""
    return [
        f"{part}: {getattr(before, part)!r}\n   now {getattr(after, part)!r}"
        for part in Picture.__dataclass_fields__
        if getattr(before, part) != getattr(after, part)
    ]


@dataclass
class AdminDay:
    """One administrator's day on a unit: each command, then the whole picture checked (engines, lbctl
    status, clients); the picture of each saved version is kept, for rollbacks."""

    lab: object
    guest: object
    clients: Clients = field(init=False)
    pictures: dict[int, Picture] = field(default_factory=dict)  # version -> its picture
    latest: Picture | None = None
    timings: list[tuple[str, float, float]] = field(default_factory=list)  # command, its seconds, checks' seconds

    def __post_init__(self) -> None:
        self.clients = Clients(self.lab)

    def check(self, what: str) -> Picture:
        """The engines and lbctl status agree with lbctl's services, and the clients are served as they say,
        each within a bound (what a look found before the last one is printed: the engines are meant to hold a
        change once lbctl has said it is made, so a second look is worth knowing about)."""
        for part, problems, bound in (
            ("the engines and lbctl status", self.engine_problems, 30),
            ("the clients", self.client_problems, 60),
        ):
            looks, seen = settle(f"after {what}: {part} as lbctl's services say", problems, bound)
            if looks > 1:  # wlc sends new clients to the server the previous looks left fewer connections on
                print(f"after {what}: {part} agreed at look {looks}; the one before found:", *seen, sep="\n  ")
        return self.latest

    def engine_problems(self) -> list[str]:
        self.latest = read_picture(self.guest)
        return engine_problems(self.latest)

    def client_problems(self) -> list[str]:
        return self.clients.problems(self.latest.services)

    def change(self, command: str, says: str = "saved as version") -> int | None:
        """A change that must succeed and say this; then the whole picture is checked. The version it saved
        (its picture is kept), if it says one."""
        started = time.monotonic()
        status, output = self.guest.shell(command, timeout=900)
        took = time.monotonic() - started
        assert status == 0 and says in output, f"{command}: exit {status}\n{output}"
        picture = self.check(command)
        self.timings.append((command, took, time.monotonic() - started - took))
        saved = re.search(r"saved as version (\d+)\.", output)
        if saved:
            self.pictures[int(saved.group(1))] = picture
        return int(saved.group(1)) if saved else None

    def refused(self, command: str, exit_status: int, says: str) -> str:
        """A change that must fail with this exit status and these words, leaving the whole picture (engines,
        lbctl, the daemons' files, the firewall, the saved versions) as it was; its output."""
        before = self.latest
        started = time.monotonic()
        status, output = self.guest.shell(command, timeout=900)
        took = time.monotonic() - started
        assert status == exit_status and says in output, f"{command}: exit {status}, wanted {exit_status} and {says!r}\n{output}"
        undone = picture_differences(before, read_picture(self.guest))  # at once: lbctl has said all was undone
        assert not undone, f"{command} failed, and left the picture changed:\n" + "\n".join(undone)
        self.check(command)
        self.timings.append((command, took, time.monotonic() - started - took))
        return output

    def left_out(self, service: str, why: str) -> None:
        """lbctl vs show says why the service is not in IPVS (lbctl status's engine line was checked already)."""
        status, output = self.guest.shell(f"lbctl vs show {service}", timeout=120)
        assert status == 0 and f"# not in IPVS: {LEFT_OUT[why]}" in output, output

    def same_as(self, wanted: Picture, what: str, with_history: bool = False) -> None:
        """Within a bound, the unit's picture is the wanted one (but for the saved versions' count, unless
        with_history: a rollback saves a version)."""

        def differences() -> list[str]:
            now = read_picture(self.guest)
            if not with_history:
                return picture_differences(wanted.without_history(), now.without_history())
            return picture_differences(wanted, now)

        settle(what, differences, 120)

    def report(self) -> str:
        lines = [f"{took:5.1f} s + checks {checks:4.1f} s  {command}" for command, took, checks in self.timings]
        total = sum(took + checks for _, took, checks in self.timings)
        return "\n".join([*lines, f"{len(self.timings)} commands: {total:.0f} s"])


def administrators_day(lab, guest, password: str) -> AdminDay:
    """The day's commands on a logged-in unit whose first version is the two-arm example (the module's docstring
    lists them), each followed by AdminDay's checks; the unit's answers disk carries PICTURE_SCRIPT. The day,
    with its timings."""
    for address, name in LAB_SERVERS.items():
        for port in DAY_PORTS:
            lab.start_http(name, address, port, f"{name}:{port}")
    status, output = guest.shell(f"mount -o ro LABEL=LBANSWERS /mnt && cp /mnt/lb-picture.py {PICTURE_PATH}; umount /mnt")
    assert status == 0, output
    day = AdminDay(lab, guest)
    status, output = guest.shell("lbctl rollback 1", timeout=900)  # whatever ran on the unit before
    assert status == 0 or "version 1 is what is applied now" in output, output
    day.check("back to the unit's first configuration")
    rs1, rs2 = LAB_SERVERS

    day.change("lbctl vs add WEB2 --address 10.0.0.21 --port 8080")  # layer 4, its servers come next
    day.left_out("WEB2", "no server")
    day.change(f"lbctl rs add WEB2 {rs1}:8080")
    day.change(f"lbctl rs add WEB2 {rs2}:8080")
    day.refused("lbctl rs add WEB2 192.168.2.52:8080 --weight 65536", 2, "--weight: ")
    for server in (rs1, rs2):  # drain, offline and online each
        day.change(f"lbctl rs drain WEB2 {server}:8080")
        day.change(f"lbctl rs offline WEB2 {server}:8080")
        if server == rs1:
            day.change(f"lbctl rs online WEB2 {server}:8080")
    day.change(f"lbctl rs offline WEB2 {rs1}:8080")  # the last server in service: WEB2 leaves IPVS
    day.left_out("WEB2", "all offline")
    day.change(f"lbctl rs online WEB2 {rs2}:8080")
    day.change(f"lbctl rs online WEB2 {rs1}:8080")
    day.change("lbctl vs set WEB2 --scheduler rr")
    day.change("lbctl vs set WEB2 --persistence source-ip --persistence-timeout 300")

    day.change("lbctl vs add WEB7 --address 10.0.0.21 --port 8090 --layer 7")  # HAProxy, no server yet
    day.change(f"lbctl rs add WEB7 {rs1}:8090")
    day.change(f"lbctl rs add WEB7 {rs2}:8090")
    for action in ("drain", "online", "offline"):  # HAProxy's runtime API, kept in the file
        day.change(f"lbctl rs {action} WEB7 {rs2}:8090")
    day.change("lbctl vs add SECURE --address 10.0.0.21 --port 8443 --layer 7 --tls yes")  # the unit's own certificate
    everything = day.change(f"lbctl rs add SECURE {rs1}:8443")
    status, own = guest.shell("openssl x509 -in /etc/haproxy/certs/appliance.pem -outform DER | sha256sum")
    shown = lab.run("client", sys.executable, "-c", CERTIFICATE_FINGERPRINT, "10.0.0.21", "8443", timeout=60)
    assert status == 0 and own.split()[0] == shown.stdout.strip(), (own, shown.stdout)

    # a file that is no certificate: haproxy -c refuses the hand-over, the change fails and is undone whole
    assert guest.shell("echo 'not a certificate' > /etc/haproxy/certs/typo.pem")[0] == 0
    day.clients.schemes[8444] = "https"  # never served, before or after
    typo = "lbctl vs add TYPO --address 10.0.0.21 --port 8444 --layer 7 --tls yes --tls-certificate /etc/haproxy/certs/typo.pem"
    said = day.refused(typo, 1, "every change was undone")
    assert "unable to load certificate" in said, said
    assert guest.shell("rm /etc/haproxy/certs/typo.pem")[0] == 0

    day.change(f"lbctl rs remove WEB2 {rs1}:8080")
    before_rollback = day.change("lbctl vs remove SECURE")
    day.change(f"lbctl rollback {everything}")
    day.same_as(day.pictures[everything], f"the picture of version {everything} after lbctl rollback {everything}")
    day.change("lbwizard rollback", says="Rolled back to the state before the last apply.")
    day.same_as(day.pictures[before_rollback], f"the picture of version {before_rollback} after lbwizard rollback")

    before_reboot, mark, started = day.latest, len(guest.raw), time.monotonic()
    guest.send("systemctl reboot\r")
    guest.wait_output(rb"login: ", timeout=BOOT, since=mark)
    guest.login(password)
    logged_in = time.monotonic()
    day.same_as(before_reboot, "the same picture after a reboot", with_history=True)
    day.check("the reboot")
    day.timings.append(("systemctl reboot (to the login)", logged_in - started, time.monotonic() - logged_in))
    return day

"""What gets past both walls, read by the daemons themselves: values that are odd but legal (a host name with
'-', an IPv6 address, a long path, a key comment with quotes) are rendered, accepted by each daemon's own
check, and the daemon sees exactly the directives the admin asked for, none more: chronyd -p's parsed
config, rsyslogd -N1's objects, HAProxy's own list of its proxies and servers, keepalived's VRRP dump, and
sshd logging in with root's keys as written. Daemons run in namespaces of their own (unshare), each
stopped by its PID."""

from __future__ import annotations

import copy
import csv
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from lbwizard.config import sshkeys
from lbwizard.config.model import HealthCheck, Persistence
from lbwizard.config.paths import Paths
from lbwizard.pair import keys as pair_keys
from lbwizard.render import quoting
from lbwizard.render.rolevars import role_vars
from tests.roles.render import FILTERS, keepalived_check, render
from tests.roles.test_handover import example

LONG_HOST = ".".join(["a-b" + "c" * 59] * 3) + ".example-1.net"  # 3 labels of 62 and a domain: 207 characters
LONG_PATH = "/" + "health-check_v2.d/" * 13  # 235 characters, every one legal in a URL path
TIMESTAMP = re.compile(r"^\w{3} \w{3} +\d+ [\d:]+ \d+: ")  # keepalived -l's


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, **kwargs)


@pytest.mark.skipif(not shutil.which("chronyd"), reason="make test installs chrony")
@pytest.mark.parametrize("servers", [["ntp-1.example-site.net", "2001:db8::123", "10.0.0.31"], [LONG_HOST]])
def test_chronyd_reads_exactly_the_servers_and_one_makestep(tmp_path, servers):
    config = example()
    config.time.ntp_servers = servers
    conf = tmp_path / "chrony.conf"
    conf.write_text(render("chrony", config))
    parsed = run(["chronyd", "-p", "-f", str(conf)])
    assert parsed.returncode == 0, parsed.stderr
    lines = parsed.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("server ")] == servers
    assert [line for line in lines if line.startswith("makestep")] == ["makestep 1 3"]
    assert {line.split()[0] for line in lines} == {"server", "driftfile", "makestep", "rtcsync", "port", "cmdport"}


@pytest.mark.skipif(not shutil.which("rsyslogd"), reason="make test installs rsyslog")
@pytest.mark.parametrize(
    ("server", "host"),
    [("logs-1.example-site.net:1514", "logs-1.example-site.net"), ("[2001:db8::5]:601", "2001:db8::5"), (LONG_HOST, LONG_HOST)],
)
def test_rsyslogd_reads_one_module_and_one_forward_to_the_server(tmp_path, server, host):
    config = example()
    config.logging.syslog_server, config.logging.syslog_protocol = server, "tcp"
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(render("rsyslog", config))
    debug = run(["rsyslogd", "-N1", "-d", "-f", str(conf)])
    assert debug.returncode == 0, debug.stdout[-2000:]
    said = [re.sub(r"^[0-9.]+:main thread +: ", "", line) for line in debug.stdout.splitlines()]
    objects = [line.rsplit(" ", 1)[1] for line in said if line.startswith("rsconf.c: cnf:global:obj: obj: ")]
    assert objects == ["'global'", "'module'"]
    assert [line for line in said if line.startswith("rainerscript.c: type:")] == ["rainerscript.c: type:  'omfwd'"]
    assert [line for line in said if line.startswith("rainerscript.c: target:")] == [f"rainerscript.c: target:  '{host}'"]


INJECTED_MAKESTEP = "fe80::1%x\nmakestep 1 -1\nserver 10.0.0.31"  # issue 34's value
INJECTED_PROGRAM = '10.0.0.31" port="514")\nmodule(load="omprog")\n*.* action(type="omprog" binary="/bin/sh -c id'


@pytest.mark.skipif(not (shutil.which("chronyd") and shutil.which("rsyslogd")), reason="make test installs both")
def test_the_checks_above_see_an_injected_directive_which_the_filters_refuse(tmp_path, monkeypatch):
    """The daemons' own view would show issue 34's injections (a makestep, a second action) if the template
    wrote them: rendered with the filters made to pass everything, chronyd reads two makesteps and rsyslogd a
    second module. With the filters, the render fails naming the value."""
    config = example()  # the values as a vars file that bypassed verify() hands them to the roles
    variables = {
        "chrony_servers": [INJECTED_MAKESTEP],
        "rsyslog_server": {"host": INJECTED_PROGRAM, "port": 514, "protocol": "udp"},
    }
    with pytest.raises(Exception, match=r"^chrony_servers\[0\]: 'fe80::1%x\\nmakestep"):
        render("chrony", config, **variables)
    with pytest.raises(Exception, match=r"^rsyslog_server\.host: '10\.0\.0\.31\" port="):
        render("rsyslog", config, **variables)
    monkeypatch.setattr("tests.roles.render.FILTERS", {name: lambda value, *args: value for name in FILTERS})
    chrony, rsyslog = tmp_path / "chrony.conf", tmp_path / "rsyslog.conf"
    chrony.write_text(render("chrony", config, **variables))
    rsyslog.write_text(render("rsyslog", config, **variables))
    parsed = run(["chronyd", "-p", "-f", str(chrony)]).stdout.splitlines()
    assert [line for line in parsed if line.startswith("makestep")] == ["makestep 1 -1", "makestep 1 3"]
    debug = run(["rsyslogd", "-N1", "-d", "-f", str(rsyslog)]).stdout
    assert debug.count("cnf:global:obj: obj: 'module'") == 2


def odd_but_legal():
    """The example with names, a cookie, a header, a path and a host name as odd as verify lets them be."""
    config = example()
    config.hostname = "lb-01.example-site"
    l4, l7 = config.virtual_services
    l4.name, l4.real_servers[0].name = "web-1_a.b", "rip-1.a_b"
    l4.health_check = HealthCheck("http", path=LONG_PATH, expect=200)
    l7.name, l7.real_servers[0].name = "shop-2.x_y", "app-1.z_w"
    l7.persistence = Persistence("active-cookie", 3600, name="SRV-ID_1.x")
    l7.scheduler, l7.scheduler_param = "hdr", "X-Forwarded-Host"
    l7.health_check = HealthCheck("http", path=LONG_PATH, expect=204)
    misc = copy.deepcopy(l4)
    misc.name, misc.port = "misc-3", 81
    misc.health_check = HealthCheck("misc", script="/usr/local/lib/lb-checks/check-" + "x" * 150)
    config.virtual_services.append(misc)
    return config


@pytest.mark.skipif(not shutil.which("haproxy"), reason="make test installs haproxy")
def test_haproxy_runs_exactly_the_proxies_and_servers_asked_for(tmp_path):
    config = odd_but_legal()
    variables = role_vars(config)
    cfg = tmp_path / "haproxy.cfg"
    sock = tmp_path / "admin.sock"
    cfg.write_text(render("haproxy", config, haproxy_stats_socket=str(sock)))
    checked = run(["haproxy", "-c", "-f", str(cfg)])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    addresses = {svc["address"] for svc in variables["haproxy_services"]}
    addresses |= {member["address"] for member in variables["haproxy_peers"]["members"]}
    setup = "ip link set lo up; " + "".join(f"ip addr add {a}/32 dev lo; " for a in sorted(addresses))
    daemon = subprocess.Popen(
        ["unshare", "-rn", "sh", "-c", f'{setup}exec haproxy -db -f "$0"', str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stats = _ask(sock, "show stat\n", daemon)
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    rows = {(row["# pxname"], row["svname"]): row for row in csv.DictReader(stats.splitlines()) if row["# pxname"]}
    wanted = {("stats", "FRONTEND")} if ("stats", "FRONTEND") in rows else set()
    for svc in variables["haproxy_services"]:
        wanted |= {(svc["name"], "FRONTEND"), (f"{svc['name']}_servers", "BACKEND")}
        wanted |= {(f"{svc['name']}_servers", server["name"]) for server in svc["servers"]}
    assert set(rows) == wanted
    for svc in variables["haproxy_services"]:
        for server in svc["servers"]:
            assert rows[(f"{svc['name']}_servers", server["name"])]["weight"] == str(server["weight"])


def _ask(sock: Path, command: str, daemon: subprocess.Popen) -> str:
    """HAProxy's answer on its stats socket, once it listens (it started in the namespace just now)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert daemon.poll() is None, daemon.stderr.read()
        try:
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(str(sock))
                client.sendall(command.encode())
                return b"".join(iter(lambda: client.recv(65536), b"")).decode()
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.05)
    raise AssertionError("HAProxy did not answer on its stats socket")


@pytest.mark.skipif(not shutil.which("keepalived"), reason="make test installs keepalived")
def test_keepalived_accepts_the_file_without_a_word_and_holds_exactly_the_vrrp_asked_for(tmp_path):
    config = odd_but_legal()
    variables = role_vars(config)
    conf = tmp_path / "keepalived.conf"
    conf.write_text(render("keepalived", config))
    checked = keepalived_check(conf, list(config.interfaces))
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr
    vrrp_only = tmp_path / "vrrp-only.conf"  # without the IPVS sync daemon: this host's kernel has no IPVS
    vrrp_only.write_text(render("keepalived", config, keepalived_lvs_sync=False))
    nics = "".join(f"ip link add {nic} type veth peer name lbwq{n}; " for n, nic in enumerate(config.interfaces))
    pids = " ".join(f"-{flag} {tmp_path / name}" for flag, name in (("p", "k.pid"), ("r", "v.pid"), ("c", "c.pid")))
    daemon = subprocess.Popen(
        ["unshare", "-rn", "sh", "-c", f'{nics}exec keepalived -n -l -D -d -P -f "$0" {pids}', str(vrrp_only)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    dump: list[str] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "------< Interfaces >------" not in dump:  # the VRRP dump is whole
            line = daemon.stdout.readline()
            assert line, "\n".join(dump)
            dump.append(TIMESTAMP.sub("", line.rstrip("\n")))
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    assert f" Router ID = {config.hostname}" in dump
    vrrp = variables["keepalived_vrrp"]
    assert vrrp_seen(dump) == {
        instance["name"]: {
            "vips": [f"{address} dev {instance['device']} scope global" for address in instance["addresses"]],
            "peers": [vrrp["peer"]],
            "tracked": vrrp["track_interfaces"],
        }
        for instance in vrrp["instances"]
    }
    members = [line.strip() for line in dump[dump.index("   VRRP member instances :") + 1 :][: len(vrrp["instances"]) + 1]]
    assert members == [*(instance["name"] for instance in vrrp["instances"]), "Using smtp notification = no"]
    assert not any("Unknown keyword" in line for line in dump)


def vrrp_seen(dump: list[str]) -> dict[str, dict[str, list[str]]]:
    """Each VRRP instance of keepalived's own dump (-d): its addresses, unicast peers and tracked interfaces."""
    seen: dict[str, dict[str, list[str]]] = {}
    section = None
    for line in dump[dump.index("------< VRRP Topology >------") + 1 : dump.index("------< VRRP Sync groups >------")]:
        if line.startswith(" VRRP Instance = "):
            instance = seen.setdefault(line.split(" = ")[1], {"vips": [], "peers": [], "tracked": []})
        elif line.startswith("     "):  # an item of the section above
            if section:
                instance[section].append(line.strip().split(" min_ttl")[0].split(" weight")[0])
        elif line.startswith("   "):
            heading = line.strip()
            section = {"Unicast Peer :": "peers", "Tracked interfaces :": "tracked"}.get(heading)
            section = "vips" if heading.startswith("Virtual IP (") else section
    return seen


@pytest.mark.skipif(not (shutil.which("sshd") and shutil.which("ssh")), reason="needs OpenSSH's sshd and ssh")
def test_sshd_lets_in_each_key_as_written_and_the_pair_key_only_from_the_peer_for_its_command(tmp_path):
    """root's authorized_keys as the plan writes it (render/quoting.py's rules): an admin key whose comment
    holds quotes, '#' and spaces logs in and runs what it asks; the pair key is refused from anywhere but the
    peer's address and, from there, runs its forced command, whatever the client asks."""
    made = {}
    for name in ("admin", "pair", "host"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "x", "-f", str(tmp_path / name)], check=True)
        made[name] = (tmp_path / f"{name}.pub").read_text().split()
    admin = f'{made["admin"][0]} {made["admin"][1]} ops "night shift" #2 caf\u00e9'
    pair = f"{made['pair'][0]} {made['pair'][1]} lbwizard-pair"
    authorized = tmp_path / "authorized_keys"
    line = pair_keys.authorized_line(pair, "10.0.0.22", Paths(tmp_path / 'a "quoted" root'))
    authorized.write_text(
        sshkeys.authorized_keys_text([quoting.authorized_key(admin, "access.ssh_authorized_keys[0]")]) + line + "\n"
    )
    listed = run(["ssh-keygen", "-l", "-f", str(authorized)])
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 2, listed.stdout + listed.stderr
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port 2222\nListenAddress 0.0.0.0\nHostKey {tmp_path / 'host'}\nAuthorizedKeysFile {authorized}\nStrictModes no\n"
        f"PermitRootLogin prohibit-password\nUsePAM no\nPidFile {tmp_path / 'sshd.pid'}\nLogLevel ERROR\n"
    )
    assert run(["/usr/sbin/sshd", "-t", "-f", str(config)]).returncode == 0
    client = "ssh -F none -p 2222 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    script = f"""
ip link set lo up; ip addr add 10.0.0.22/32 dev lo
/usr/sbin/sshd -D -f {config} & sshd=$!
trap 'kill $sshd' EXIT
for i in $(seq 100); do {client} -i {tmp_path / "admin"} root@127.0.0.1 true 2>/dev/null && break; sleep 0.05; done
echo "admin: $({client} -i {tmp_path / "admin"} root@127.0.0.1 echo asked 2>&1)"
echo "pair from elsewhere: $({client} -i {tmp_path / "pair"} root@127.0.0.1 echo asked 2>&1 | tail -1)"
echo "pair from the peer: $({client} -b 10.0.0.22 -i {tmp_path / "pair"} root@10.0.0.22 echo asked </dev/null 2>&1 | tail -1)"
"""
    said = run(["unshare", "-n", "sh", "-c", script]).stdout.splitlines()
    assert said[0] == "admin: asked"
    assert said[1].startswith("pair from elsewhere: ") and "Permission denied" in said[1]
    assert said[2].startswith("pair from the peer: ") and "asked" not in said[2], said  # the forced command ran instead
    assert "not a pair request" in said[2], said  # lbctl pair receive answered the empty request

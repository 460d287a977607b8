"""lb_service, the roles' reload without a module process: the systemd_service module's meaning, asked of
systemctl directly. systemd does not run the host's tests, so systemctl here is a stand-in script (named
as such) that logs what it is asked and answers as a unit in the given state would; the real systemd
runs it in the e2e tier, where every hand-over reloads keepalived or HAProxy through it."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[2] / "ansible/roles/lb_files/action_plugins/lb_service.py"
STAND_IN = """#!/bin/sh
# stand-in for systemctl: logs its arguments; is-active/is-enabled answer from the environment
echo "$*" >> {log}
case "$1" in
    is-active) [ "$LB_ACTIVE" = yes ] ;;
    is-enabled) [ "$LB_ENABLED" = yes ] ;;
    *) [ "$LB_FAIL" != "$1" ] || {{ echo "Job for $2 failed" >&2; exit 1; }} ;;
esac
"""


@pytest.fixture
def systemctl(tmp_path, monkeypatch):
    log = tmp_path / "calls"
    script = tmp_path / "bin/systemctl"
    script.parent.mkdir()
    script.write_text(STAND_IN.format(log=log))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}:{os.environ['PATH']}")
    spec = importlib.util.spec_from_file_location("lb_service", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def run(state: str, enabled: bool | None, active: bool, is_enabled: bool, fail: str = ""):
        monkeypatch.setenv("LB_ACTIVE", "yes" if active else "no")
        monkeypatch.setenv("LB_ENABLED", "yes" if is_enabled else "no")
        monkeypatch.setenv("LB_FAIL", fail)
        log.unlink(missing_ok=True)
        result = module.converge("keepalived", state, enabled)
        return result, [line.split()[0] for line in log.read_text().splitlines() if not line.startswith("is-")]

    run.module = module
    return run


@pytest.mark.parametrize(
    ("state", "active", "expected"),
    [
        ("reloaded", True, ["reload"]),
        # the module's meaning: reloaded starts a service that is not running; a unit that failed before
        # (at boot, with no config yet) may be at its start limit, so it is reset first
        ("reloaded", False, ["reset-failed", "start"]),
        ("restarted", True, ["restart"]),
        ("started", True, []),
        ("started", False, ["reset-failed", "start"]),
    ],
)
def test_each_state_asks_systemctl_what_the_module_would(systemctl, state, active, expected):
    result, calls = systemctl(state, True, active, True)
    assert calls == expected
    assert result["changed"] == bool(expected)


def test_a_disabled_service_is_enabled_first(systemctl):
    result, calls = systemctl("reloaded", True, True, False)
    assert calls == ["enable", "reload"] and result["changed"]


def test_a_failed_reload_fails_the_task(systemctl):
    with pytest.raises(systemctl.module.AnsibleActionFail, match="systemctl reload keepalived failed: Job for keepalived failed"):
        systemctl("reloaded", None, True, True, fail="reload")


HAPROXY_CFG = """global
    stats socket {sock} mode 600 level admin expose-fd listeners
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:{port}
    http-request return status 200
"""
RELOADING_STAND_IN = """#!/bin/sh
# stand-in for systemctl over a real HAProxy master (-W): reload is the master's USR2, as systemd's is
echo "$*" >> {log}
case "$1" in
    is-active|is-enabled) exit 0 ;;
    reload) kill -USR2 "$(cat {pidfile})" ;;
esac
"""


@pytest.fixture
def haproxy_master(tmp_path, monkeypatch):
    """A real HAProxy in master-worker mode on loopback, reloaded by a stand-in systemctl; stopped by PID."""
    import socket as sockets
    import subprocess
    import time

    sock, cfg, pidfile = tmp_path / "admin.sock", tmp_path / "haproxy.cfg", tmp_path / "haproxy.pid"

    def free_port() -> int:
        with sockets.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    cfg.write_text(HAPROXY_CFG.format(sock=sock, port=free_port()))
    log = (tmp_path / "haproxy.log").open("w")  # what the master and its workers say: shown when a reload fails
    master_cli = tmp_path / "master.sock"
    master = subprocess.Popen(["haproxy", "-W", "-S", str(master_cli), "-f", str(cfg), "-p", str(pidfile)], stderr=log)
    script = tmp_path / "bin/systemctl"
    script.parent.mkdir()
    script.write_text(RELOADING_STAND_IN.format(log=tmp_path / "calls", pidfile=pidfile))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}:{os.environ['PATH']}")
    spec = importlib.util.spec_from_file_location("lb_service", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def master_listens() -> bool:
        """The master's CLI answers only from its main loop, where it takes USR2: a reload sent before that
        was lost (1 run in 10: the worker served, the pid file was there, no reload came)."""
        try:
            with sockets.socket(sockets.AF_UNIX) as cli:
                cli.settimeout(2)
                cli.connect(str(master_cli))
                cli.sendall(b"show proc\n")
                return b"worker" in cli.recv(4096)
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while module.serving_pid(str(sock)) is None or not master_listens():
        assert time.monotonic() < deadline and master.poll() is None, "HAProxy did not start"
        time.sleep(0.05)
    try:
        yield module, cfg, sock, free_port
    finally:
        master.terminate()
        master.wait(timeout=10)
        log.close()


def test_a_reload_that_the_new_process_takes_succeeds(haproxy_master):
    module, cfg, sock, free_port = haproxy_master
    before = module.serving_pid(str(sock))
    cfg.write_text(HAPROXY_CFG.format(sock=sock, port=free_port()))
    try:
        assert module.converge("haproxy", "reloaded", None, took=str(sock))["changed"]
    except module.AnsibleActionFail as failed:  # HAProxy's own words: the port taken meanwhile, or a slow start
        raise AssertionError(f"{failed}; HAProxy said:\n{(cfg.parent / 'haproxy.log').read_text()}") from failed
    assert module.serving_pid(str(sock)) not in (None, before)


def test_a_reload_whose_new_process_cannot_bind_fails_and_the_old_one_carries_on(haproxy_master):
    import socket as sockets

    module, cfg, sock, _ = haproxy_master
    before = module.serving_pid(str(sock))
    with sockets.socket() as holder:  # something else holds the new port: haproxy -c would still accept the file
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        cfg.write_text(HAPROXY_CFG.format(sock=sock, port=holder.getsockname()[1]))
        with pytest.raises(module.AnsibleActionFail, match="haproxy did not take the new configuration within 3 s"):
            module.converge("haproxy", "reloaded", None, took=str(sock), took_seconds=3)
    assert module.serving_pid(str(sock)) == before


# keepalived's reload: the kernel's IPVS table, as `ipvsadm -Ln` prints it. The host kernel has no IPVS, so
# ipvsadm here is a stand-in script (named as such) that prints a table file the test swaps, as keepalived
# swaps the kernel's table some time after its reload returned; the guest's real ipvsadm and keepalived
# take this path in the e2e tier at every layer-4 hand-over.
OLD_TABLE = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.21:80 rr
  -> 192.168.2.50:80              Masq    1      0          0
TCP  10.0.0.21:9999 wlc
  -> 192.168.2.50:9999            Masq    1      0          0
"""
NEW_TABLE = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.21:80 rr
  -> 192.168.2.50:80              Masq    1      0          0
  -> 192.168.2.51:80              Masq    0      0          0
UDP  10.0.0.21:5070 rr persistent 60
  -> 192.168.2.50:5070            Masq    1      0          0
  -> 192.168.2.51:5070            Masq    1      3          0
FWM  7 sh (sh-fallback) persistent 300
  -> 192.168.2.50:0               Route   1      0          0
TCP  [2001:db8::21]:443 lc
  -> [2001:db8::50]:443           Masq    2      0          0
"""
IPVSADM_STAND_IN = """#!/bin/sh
# stand-in for ipvsadm -Ln (the host kernel has no IPVS): prints the table file
cat {table}
"""
RELOAD_SWAPS_TABLE = """#!/bin/sh
# stand-in for systemctl: keepalived's reload returns at once; the table changes {delay} s later
case "$1" in
    is-active|is-enabled) exit 0 ;;
    reload) (sleep {delay}; cp {new} {table}) >/dev/null 2>&1 & ;;
esac
"""


def wanted(**changes) -> list[dict]:
    """keepalived_virtual_servers (the role's variables) for NEW_TABLE, with changes to the UDP service."""

    def server(address: str, port: int) -> dict:
        return {"name": address, "address": address, "port": port, "weight": 1, "checks": []}

    udp = {"protocol": "UDP", "address": "10.0.0.21", "port": 5070, "lb_algo": "rr", "persistence_timeout": 60, "fwmark": None,
           "real_servers": [server("192.168.2.50", 5070), server("192.168.2.51", 5070)]}  # fmt: skip
    return [
        {"protocol": "TCP", "address": "10.0.0.21", "port": 80, "lb_algo": "rr", "persistence_timeout": None,
         "fwmark": None, "real_servers": [server("192.168.2.50", 80), server("192.168.2.51", 80)]},
        udp | changes,
        {"protocol": "TCP", "address": "10.0.0.21", "port": 80, "lb_algo": "sh", "persistence_timeout": 300,
         "fwmark": 7, "real_servers": [server("192.168.2.50", 0)]},
        {"protocol": "TCP", "address": "2001:db8:0::21", "port": 443, "lb_algo": "lc", "persistence_timeout": None,
         "fwmark": None, "real_servers": [server("2001:db8::50", 443)]},
    ]  # fmt: skip


@pytest.fixture
def keepalived_reload(tmp_path, monkeypatch):
    """converge("keepalived", "reloaded", took_ipvs=...) against stand-in systemctl and ipvsadm: the table is
    OLD_TABLE, and becomes `new` `delay` seconds after the reload."""
    table, new = tmp_path / "table", tmp_path / "new"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/ipvsadm").write_text(IPVSADM_STAND_IN.format(table=table))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    spec = importlib.util.spec_from_file_location("lb_service", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def reload(services: list[dict], becomes: str, delay: float, seconds: float = 10) -> str:
        table.write_text(OLD_TABLE)
        new.write_text(becomes)
        script = tmp_path / "bin/systemctl"
        script.write_text(RELOAD_SWAPS_TABLE.format(delay=delay, new=new, table=table))
        script.chmod(0o755)
        (tmp_path / "bin/ipvsadm").chmod(0o755)
        module.converge("keepalived", "reloaded", None, took_seconds=seconds, took_ipvs=services)
        return table.read_text()  # what a client would meet the moment the hand-over returns

    reload.module = module
    return reload


def test_a_keepalived_reload_returns_once_the_ipvs_table_is_the_new_one(keepalived_reload):
    assert keepalived_reload(wanted(), NEW_TABLE, delay=1.0) == NEW_TABLE


@pytest.mark.parametrize(
    ("changes", "table", "said"),
    [
        ({"lb_algo": "wrr"}, NEW_TABLE, "UDP 10.0.0.21:5070 has scheduler rr, not wrr"),
        ({"persistence_timeout": 120}, NEW_TABLE, "UDP 10.0.0.21:5070 has persistence 60, not 120"),
        ({"port": 5071}, NEW_TABLE, "UDP 10.0.0.21:5071 is missing"),
        ({}, NEW_TABLE.replace("  -> 192.168.2.51:5070            Masq    1      3          0\n", ""),
         "UDP 10.0.0.21:5070 lacks real server 192.168.2.51:5070"),
        ({}, NEW_TABLE + "TCP  10.0.0.21:9999 wlc\n", "TCP 10.0.0.21:9999 is still there"),
    ],
)  # fmt: skip
def test_a_keepalived_reload_whose_table_stays_different_fails_naming_the_difference(keepalived_reload, changes, table, said):
    failure = f"keepalived did not take the new configuration within 1 s: .*{said}"
    with pytest.raises(keepalived_reload.module.AnsibleActionFail, match=failure):
        keepalived_reload(wanted(**changes), table, delay=0.1, seconds=1)


def test_the_role_variables_of_a_real_config_name_the_services_as_ipvsadm_prints_them():
    """keepalived_virtual_servers of a whole config (the layer-4 schedulers scenario) named as ipvsadm -Ln
    names them; the e2e tier's hand-overs wait on these very names in the guest's real table."""
    from lbwizard.config import model
    from lbwizard.render.rolevars import role_vars
    from tests.e2e.single_unit_configs import schedulers_config

    spec = importlib.util.spec_from_file_location("lb_service", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    services = module.wanted_services(role_vars(model.loads(schedulers_config()))["keepalived_virtual_servers"])
    assert services["UDP 10.0.0.21:5070"] == {
        "scheduler": "rr", "persistence": 60, "servers": {"192.168.2.50:5070", "192.168.2.51:5070"}
    }  # fmt: skip
    assert services["TCP 10.0.0.21:9202"]["servers"] == {"192.168.2.50:9202", "192.168.2.51:9202"}
    assert {key for key in services} >= {f"TCP 10.0.0.21:{port}" for port in (9201, 9202, 9203, 9204)}


def no_server(port: int) -> dict:
    """A layer-4 service of the role's variables with no real server: added before its servers, or with
    every server offline (the role lists no offline server)."""
    return {"protocol": "TCP", "address": "10.0.0.21", "port": port, "lb_algo": "wlc", "persistence_timeout": None,
            "fwmark": None, "real_servers": []}  # fmt: skip


def test_a_service_added_with_no_server_is_handed_over_without_it_in_the_table(keepalived_reload):
    """keepalived 2.2.7 leaves out a virtual server with no real servers ("has no real servers - ignoring"):
    the hand-over expects it absent, as the guest's keepalived leaves it (issue 35: vs add WEB2 failed)."""
    assert keepalived_reload([*wanted(), no_server(8080)], NEW_TABLE, delay=0.5) == NEW_TABLE


def test_a_service_whose_last_server_went_offline_is_handed_over_once_keepalived_removed_it(keepalived_reload):
    """OLD_TABLE has TCP 10.0.0.21:9999 with one server; taken offline, the service has none, and keepalived
    removes it from the table at its reload."""
    assert "TCP  10.0.0.21:9999" not in keepalived_reload([*wanted(), no_server(9999)], NEW_TABLE, delay=0.5)


def test_a_service_with_no_server_that_stays_in_the_table_fails_naming_it(keepalived_reload):
    left = NEW_TABLE + "TCP  10.0.0.21:9999 wlc\n  -> 192.168.2.50:9999            Masq    1      0          0\n"
    failure = "keepalived did not take the new configuration within 1 s: .*TCP 10.0.0.21:9999 is still there"
    with pytest.raises(keepalived_reload.module.AnsibleActionFail, match=failure):
        keepalived_reload([*wanted(), no_server(9999)], left, delay=0.1, seconds=1)


def test_a_service_with_servers_still_needs_every_one_of_them(keepalived_reload):
    """Only a service with no real server at all is left out: one that has any is loaded with all of them."""
    failure = "keepalived did not take the new configuration within 1 s: .*TCP 10.0.0.21:80 is missing"
    with pytest.raises(keepalived_reload.module.AnsibleActionFail, match=failure):
        keepalived_reload([*wanted(), no_server(9999)], NEW_TABLE.split("TCP  10.0.0.21:80 rr")[0], delay=0.1, seconds=1)


def test_the_role_variables_of_services_with_no_server_in_service_name_them_as_left_out():
    """From a whole config: a service with no server and one whose servers are all offline are what
    keepalived leaves out; a service with one server draining (weight 0) is loaded."""
    from lbwizard.config import model
    from lbwizard.render.rolevars import role_vars
    from tests.e2e.single_unit_configs import schedulers_config

    spec = importlib.util.spec_from_file_location("lb_service", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = model.loads(schedulers_config())
    first, second, third = config.virtual_services[:3]
    first.real_servers = []
    for server in second.real_servers:
        server.state = "offline"
    third.real_servers[0].state = "drain"
    services = role_vars(config)["keepalived_virtual_servers"]
    left = module.left_out(services)
    assert left == {module._service_key(vs) for vs in services if vs["name"] in (first.name, second.name)}, left
    assert not left & set(module.wanted_services(services))
    assert {module._service_key(vs) for vs in services if vs["name"] == third.name} <= set(module.wanted_services(services))

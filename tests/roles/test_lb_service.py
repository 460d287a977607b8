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

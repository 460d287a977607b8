"""ansible-playbook site.yml for real, in render-only mode: same bytes as the fast path, idempotent,
and a file the daemon rejects never replaces the good one."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbwizard.apply.handover import ANSIBLE_DIR, HandoverError, playbook_command, run_playbook
from lbwizard.apply.playbook_process import playbook_env
from lbwizard.config.model import Persistence
from lbwizard.config.paths import Paths
from lbwizard.render.rolevars import role_vars
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import HA_MASTER_TWO_ARM
from tests.roles.render import render


def events(stdout: str) -> list[dict]:
    """The playbook process's output: one JSON event a line (its callback plugin, lbwizard_events)."""
    return [json.loads(line) for line in stdout.splitlines()]


def stats(stdout: str) -> dict:
    return next(e for e in events(stdout) if e["event"] == "stats")


def example(**changes):
    config = Flow(LiveSystem()).run_answers(copy.deepcopy(HA_MASTER_TWO_ARM))
    config.virtual_services.append(copy.deepcopy(config.virtual_services[0]))
    web = config.virtual_services[1]
    web.name, web.port, web.layer, web.forwarding, web.scheduler = "WEB", 8080, 7, "snat", "leastconn"
    web.persistence = Persistence("active-cookie", 3600, name="LBSRV")
    return config


@pytest.mark.parametrize("transparent", [False, True], ids=["proxied", "transparent"])
def test_playbook_writes_what_the_matrix_checks_and_a_second_run_changes_nothing(tmp_path, transparent):
    config = example()
    config.virtual_services[1].transparent = transparent
    lines: list[str] = []
    first = run_playbook(config, Paths(tmp_path), False, lines.append)
    assert first >= 2
    assert any("validated by keepalived -t" in line for line in lines)
    assert (tmp_path / "etc/keepalived/keepalived.conf").read_text() == render("keepalived", config)
    assert (tmp_path / "etc/haproxy/haproxy.cfg").read_text() == render("haproxy", config)
    assert run_playbook(config, Paths(tmp_path), False, lambda line: None) == 0  # idempotent


def test_a_rejected_file_never_replaces_the_good_one(tmp_path):
    config = example()
    run_playbook(config, Paths(tmp_path), False, lambda line: None)
    good = (tmp_path / "etc/haproxy/haproxy.cfg").read_text()
    bad_peer = {"local": "a", "members": [{"name": "a", "address": "300.0.0.1"}]}  # haproxy -c refuses it
    variables = role_vars(config, root=str(tmp_path), services=False) | {"haproxy_peers": bad_peer}
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(variables))
    result = subprocess.run(playbook_command(vars_file), capture_output=True, text=True, env=playbook_env(), cwd=ANSIBLE_DIR)
    assert result.returncode != 0
    assert "HAProxy configuration is written" in result.stdout
    assert (tmp_path / "etc/haproxy/haproxy.cfg").read_text() == good


def test_failure_names_the_task(tmp_path, monkeypatch):
    config = example()
    monkeypatch.setattr(
        "lbwizard.apply.handover.role_vars",
        lambda *a, **k: role_vars(config, str(tmp_path), False) | {"keepalived_binary": "/bin/false"},
    )
    with pytest.raises(HandoverError, match="Keepalived configuration is written"):
        run_playbook(config, Paths(tmp_path), False, lambda line: None)
    assert not (tmp_path / "etc/keepalived/keepalived.conf").exists()


def test_dry_run_answers_render_both_daemon_files(tmp_path):
    answers = tmp_path / "answers.yaml"
    import yaml

    from tests.conftest import TWO_ARM_NAT

    answers.write_text(yaml.safe_dump(TWO_ARM_NAT))
    root = tmp_path / "root"
    command = [os.sys.executable, "-m", "lbwizard.cli", "--answers", str(answers), "--dry-run", "--root", str(root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    keepalived = (root / "etc/keepalived/keepalived.conf").read_text()
    assert (
        "virtual_server 10.0.0.21 80" in keepalived
        and "lb_kind NAT" in keepalived
        and "real_server 192.168.2.50 80" in keepalived
    )
    assert (root / "etc/haproxy/haproxy.cfg").exists()
    assert Path(ANSIBLE_DIR / "site.yml").exists()


def test_a_later_failure_puts_the_previous_daemon_files_back(tmp_path):
    from lbwizard.apply import transaction
    from lbwizard.apply.handover import DAEMON_FILES, handover_step
    from lbwizard.apply.step import Step

    first = example()
    run_playbook(first, Paths(tmp_path), False, lambda line: None)
    files = lambda: {p: p.read_text() for p in (tmp_path / "etc").rglob("*") if p.is_file()}
    before = files()
    changed = example()
    changed.virtual_services[0].real_servers[0].weight = 7

    def fail() -> None:
        raise RuntimeError("a later step failed")

    with pytest.raises(RuntimeError):
        transaction.run([handover_step(changed, Paths(tmp_path), False), Step("fail", fail, lambda: None)])
    assert files() == before
    assert sorted(str(p.relative_to(tmp_path)) for p in before) == sorted(DAEMON_FILES)


INJECTED = ['A"B', "A'B", "A{B", "A}B", "A B", "A\nB", "A#B", "A$B"]


def _named(config, where: str, name: str):
    """Put name into the config at one of the places a name reaches a daemon file."""
    l4, l7 = config.virtual_services
    if where == "l4 service":
        l4.name = name
    elif where == "l4 real server":
        l4.real_servers[0].name = name
    elif where == "l7 real server":
        l7.real_servers[0].name = name
    else:
        l7.persistence.name = name
    return config


WHERE = {
    "l4 service": "virtual_services[0].name",
    "l4 real server": "virtual_services[0].real_servers[0].name",
    "l7 real server": "virtual_services[1].real_servers[0].name",
    "cookie": "virtual_services[1].persistence.name",
}


@pytest.mark.parametrize("name", INJECTED, ids=repr)
@pytest.mark.parametrize("where", WHERE)
def test_verify_refuses_a_name_that_could_change_a_daemon_file(where, name):
    from lbwizard.config.verify import verify

    problems = verify(_named(example(), where, name))
    assert WHERE[where] in [problem.field for problem in problems]


@pytest.mark.parametrize(
    ("where", "name", "variable"),
    [
        ("l4 real server", "A\nB", r"keepalived_virtual_servers\[0\]\.real_servers\[0\]\.name:"),
        ("l7 real server", "A B", r"haproxy_services\[0\]\.servers\[0\]\.name:"),
        ("cookie", "A#B", r"haproxy_services\[0\]\.persistence\.name:"),
    ],
    ids=["newline", "space", "comment"],
)
def test_the_roles_refuse_it_too_and_the_good_files_stay(tmp_path, where, name, variable):
    """Defence in depth: vars that bypass verify (a hand-written vars file) still cannot reach a file: the
    roles' filters (lb_quoting.py) fail the hand-over naming the value's place in the variables."""
    run_playbook(example(), Paths(tmp_path), False, lambda line: None)
    good = {path: (tmp_path / path).read_text() for path in ("etc/keepalived/keepalived.conf", "etc/haproxy/haproxy.cfg")}
    with pytest.raises(HandoverError, match=variable) as refused:
        run_playbook(_named(example(), where, name), Paths(tmp_path), False, lambda line: None)
    assert "refused before rendering" in str(refused.value)
    assert {path: (tmp_path / path).read_text() for path in good} == good


def _handover(config, root: Path) -> list[str]:
    """One hand-over step as an apply runs it (render only); the lines it reported."""
    from lbwizard.apply import transaction
    from lbwizard.apply.handover import handover_step

    lines: list[str] = []
    transaction.run([handover_step(config, Paths(root), False)], lines.append)
    return lines


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in (root / "etc").rglob("*")
        if p.is_file() and p.suffix in (".conf", ".cfg")
    }


def test_a_role_runs_only_when_its_output_can_change(tmp_path):
    config = example()
    first = _handover(config, tmp_path)
    assert any("Keepalived configuration is written" in line for line in first)
    assert any("HAProxy configuration is written" in line for line in first)
    assert all(line.startswith(("hand over", "hand-over [")) for line in first), first
    written = _files(tmp_path)

    again = _handover(config, tmp_path)  # the same config: no playbook, nothing validated or touched
    assert again[1:] == ["hand-over: every daemon's file is what this config makes; nothing to validate or reload"]
    assert _files(tmp_path) == written

    layer4 = example()  # a layer-4 change runs the keepalived role alone
    layer4.virtual_services[0].real_servers[0].weight = 5
    lines = _handover(layer4, tmp_path)
    assert any("Keepalived configuration is written" in line for line in lines)
    assert not any("haproxy.cfg" in line or "HAProxy configuration" in line for line in lines[1:]), lines
    assert "weight 5" in (tmp_path / "etc/keepalived/keepalived.conf").read_text()
    assert _files(tmp_path)["etc/haproxy/haproxy.cfg"] == written["etc/haproxy/haproxy.cfg"]

    edited = tmp_path / "etc/haproxy/haproxy.cfg"  # a file edited by hand is managed again at the next change
    edited.write_text(edited.read_text() + "# edited by hand\n")
    lines = _handover(layer4, tmp_path)
    assert any("HAProxy configuration is written" in line for line in lines)
    assert edited.read_bytes() == written["etc/haproxy/haproxy.cfg"][0]


def test_an_unchanged_file_is_not_validated_and_a_changed_one_must_pass(tmp_path):
    """lb_template: the daemon checks only what would change; what it refuses never lands."""
    config = example()
    run_playbook(config, Paths(tmp_path), False, lambda line: None)
    good = (tmp_path / "etc/keepalived/keepalived.conf").read_text()
    refusing = role_vars(config, root=str(tmp_path), services=False) | {"keepalived_binary": "/bin/false"}
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(refusing))
    run = lambda: subprocess.run(
        playbook_command(vars_file, ["keepalived"]), capture_output=True, text=True, env=playbook_env(), cwd=ANSIBLE_DIR
    )
    unchanged = run()
    assert unchanged.returncode == 0 and stats(unchanged.stdout)["changed"] == 0, unchanged.stdout
    refusing["keepalived_router_id"] = "elsewhere"
    vars_file.write_text(json.dumps(refusing))
    changed = run()
    failed = [e for e in events(changed.stdout) if e["event"] == "failed"]
    assert changed.returncode != 0 and failed[0]["message"] == "failed to validate", changed.stdout
    assert failed[0]["task"].startswith("Keepalived configuration is written"), failed
    assert stats(changed.stdout)["failed"] == 1
    assert (tmp_path / "etc/keepalived/keepalived.conf").read_text() == good
    assert [p.name for p in (tmp_path / "etc/keepalived").iterdir()] == ["keepalived.conf"]  # no temporary file left


def test_a_file_is_installed_without_a_remote_temporary_directory(tmp_path):
    """lb_template on `connection: local` needs no remote temporary directory; the builtin template action makes
    one and removes it with three shell commands a file (issue 19: seconds per change under TCG)."""
    config = example()
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(role_vars(config, root=str(tmp_path / "root"), services=False)))
    remote_tmp = tmp_path / "remote-tmp"  # made by the first `mkdir -p` of a temporary directory, never removed
    env = playbook_env() | {"ANSIBLE_REMOTE_TMP": str(remote_tmp)}
    ran = subprocess.run(playbook_command(vars_file), capture_output=True, text=True, env=env, cwd=ANSIBLE_DIR)
    assert ran.returncode == 0 and stats(ran.stdout)["changed"] == 5, ran.stdout
    assert (tmp_path / "root/etc/haproxy/haproxy.cfg").read_text() == render("haproxy", config)
    assert not remote_tmp.exists()
    # render only: the five changed files notify no handler, so no handler task is started just to be skipped
    assert not [e for e in events(ran.stdout) if e["event"] == "task" and e["handler"]], ran.stdout


def test_a_mode_that_differs_is_put_right_without_a_new_file(tmp_path):
    config = example()
    run_playbook(config, Paths(tmp_path), False, lambda line: None)
    target = tmp_path / "etc/haproxy/haproxy.cfg"
    inode = target.stat().st_ino
    target.chmod(0o666)
    assert run_playbook(config, Paths(tmp_path), False, lambda line: None) == 1
    assert target.stat().st_mode & 0o777 == 0o644 and target.stat().st_ino == inode  # HAProxy reads it as haproxy


def test_a_playbook_started_ahead_runs_only_the_roles_asked_and_one_not_needed_ends_having_done_nothing(tmp_path):
    """ReadyPlaybook: the process loads Ansible before its variables exist. Told to run keepalived only, it
    writes exactly what the whole playbook writes for keepalived, and nothing else (no other role is loaded:
    none of their argument checks runs); cancelled, it ends and has written nothing."""
    from lbwizard.apply.handover import ReadyPlaybook

    config = example()
    lines: list[str] = []
    assert run_playbook(config, Paths(tmp_path / "ahead"), False, lines.append, roles=["keepalived"], ready=ReadyPlaybook()) >= 1
    assert (tmp_path / "ahead/etc/keepalived/keepalived.conf").read_text() == render("keepalived", config)
    assert not (tmp_path / "ahead/etc/haproxy").exists()
    assert any("keepalived" in line for line in lines) and not any("HAProxy" in line or "chrony" in line for line in lines), lines

    unused = ReadyPlaybook()
    process = unused.process
    unused.cancel()
    assert process.poll() is not None and unused.process is None
    assert not (tmp_path / "unused").exists()


@pytest.fixture
def started(monkeypatch) -> list[subprocess.Popen]:
    """Every ReadyPlaybook process made from now on, in order (the real processes, watched)."""
    from lbwizard.apply import handover, playbook_process

    made: list[subprocess.Popen] = []

    class Watched(handover.ReadyPlaybook):
        def __init__(self) -> None:
            super().__init__()
            made.append(self.process)

    monkeypatch.setattr(handover, "ReadyPlaybook", Watched)
    monkeypatch.setattr(playbook_process, "ReadyPlaybook", Watched)  # start_early's, before lbwizard's imports
    monkeypatch.setattr(playbook_process, "_early", None)
    return made


def test_the_playbook_is_started_ahead_only_by_a_running_transaction_and_ended_by_its_end(tmp_path, started):
    """A plan that is only shown (the wizard's summary) starts no process; a transaction that fails before
    its hand-over ends the one it started (none waits on after it); one that runs it uses that very one."""
    from lbwizard.apply import handover, transaction
    from lbwizard.apply.step import Step

    config = example()
    shown = handover.handover_step(config, Paths(tmp_path), False)
    assert started == [] and shown.description.startswith("hand over")

    def fail() -> None:
        raise RuntimeError("an earlier step failed")

    with pytest.raises(RuntimeError):
        transaction.run([Step("fail", fail, lambda: None), handover.handover_step(config, Paths(tmp_path), False)])
    assert len(started) == 1 and started[0].poll() is not None
    assert not (tmp_path / "etc/keepalived").exists()

    lines: list[str] = []
    transaction.run([handover.handover_step(config, Paths(tmp_path), False)], detail=lines.append)
    assert len(started) == 2 and started[1].returncode == 0
    assert (tmp_path / "etc/keepalived/keepalived.conf").read_text() == render("keepalived", config)
    assert any("keepalived" in line for line in lines), lines


def test_a_change_starts_the_playbook_ahead_and_its_hand_over_takes_that_very_process(tmp_path, started):
    """started_ahead (lbctl's and lbwizard apply's changes): Ansible loads while the change is read and planned;
    the transaction inside takes that process and starts no other; a change that ends before its hand-over
    (bad input) or needs none (no role stale) ends it unused; without a hand-over none is started."""
    from lbwizard.apply import handover, transaction

    config = example()
    with handover.started_ahead():
        assert len(started) == 1 and started[0].poll() is None  # loading, then waiting for its variables
        transaction.run([handover.handover_step(config, Paths(tmp_path), False)])
    assert len(started) == 1 and started[0].returncode == 0
    assert (tmp_path / "etc/keepalived/keepalived.conf").read_text() == render("keepalived", config)

    with pytest.raises(ValueError), handover.started_ahead():
        raise ValueError("bad input: nothing is applied")
    assert len(started) == 2 and started[1].poll() is not None

    with handover.started_ahead():  # the same config again: every role's file is what it makes
        transaction.run([handover.handover_step(config, Paths(tmp_path), False)])
        assert len(started) == 3 and started[2].poll() is not None  # ended at the transaction's start
    changed = example()
    changed.virtual_services[1].port = 8088  # HAProxy's file changes
    with handover.started_ahead(False):
        assert len(started) == 3
        transaction.run([handover.handover_step(changed, Paths(tmp_path), False)])
    assert len(started) == 4 and started[3].returncode == 0  # the transaction started its own, as without ahead
    assert "8088" in (tmp_path / "etc/haproxy/haproxy.cfg").read_text()


def test_a_command_that_changes_starts_the_playbook_before_its_imports_and_its_change_takes_that_process(tmp_path, started):
    """launch.py (the lbctl and lbwizard commands): a change starts the process before lbwizard's imports; the
    change's started_ahead takes that very process and starts no other; one the change does not want (no
    hand-over after all) is ended; a command that reads only starts none."""
    from lbwizard import launch
    from lbwizard.apply import handover, transaction

    config = example()
    launch._early(launch.lbctl_changes(["rs", "add", "VIP1", "192.168.2.51"]))
    assert len(started) == 1 and started[0].poll() is None
    with handover.started_ahead():
        assert len(started) == 1
        transaction.run([handover.handover_step(config, Paths(tmp_path), False)])
    assert len(started) == 1 and started[0].returncode == 0
    assert (tmp_path / "etc/keepalived/keepalived.conf").read_text() == render("keepalived", config)

    launch._early(launch.lbwizard_changes(["apply", "--config", "c.yaml"]))
    assert len(started) == 2
    with handover.started_ahead(False):  # this change runs no hand-over
        assert started[1].poll() is not None
    launch._early(launch.lbctl_changes(["status"]))
    assert len(started) == 2


def test_the_installed_command_makes_a_change_through_the_process_it_started_first(tmp_path):
    """The lbwizard command as installed (its entry point is launch.py): a dry run into a fresh root renders and
    validates every daemon's file, the playbook's process being the one started before the imports."""
    from lbwizard.config import model

    config = example()
    config_file = tmp_path / "c.yaml"
    config_file.write_text(model.dumps(config))
    lbwizard = Path(sys.executable).parent / "lbwizard"
    done = subprocess.run(
        [str(lbwizard), "apply", "--config", str(config_file), "--dry-run", "--root", str(tmp_path / "root")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "root/etc/keepalived/keepalived.conf").read_text() == render("keepalived", config)
    assert (tmp_path / "root/etc/haproxy/haproxy.cfg").read_text() == render("haproxy", config)


def test_the_playbook_says_each_task_as_an_event_of_one_json_line(tmp_path):
    """The callback plugin (ansible/callback_plugins/lbwizard_events.py): every line is one JSON object; a task's
    event has its own name (not its role's prefix), its role and when it started; the totals come last."""
    config = example()
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(role_vars(config, root=str(tmp_path / "root"), services=False)))
    before = time.time()
    ran = subprocess.run(playbook_command(vars_file), capture_output=True, text=True, env=playbook_env(), cwd=ANSIBLE_DIR)
    assert ran.returncode == 0, ran.stdout
    said = events(ran.stdout)
    tasks = [e for e in said if e["event"] == "task"]
    assert said[-1]["event"] == "stats" and said[-1]["failed"] == 0
    assert {e["role"] for e in tasks} == {"keepalived", "haproxy", "chrony", "rsyslog", "node_exporter"}
    written = [e["name"] for e in tasks if e["name"].startswith("HAProxy configuration is written")]
    assert written and not any(" : " in e["name"] for e in tasks)
    times = [e["time"] for e in tasks]
    assert times == sorted(times) and before <= times[0] <= times[-1] <= time.time()

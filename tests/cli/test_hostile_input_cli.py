"""The hostile-input matrix through the real commands: `lbwizard --answers` and lbctl, as an admin (or an
attacker with an admin's shell) runs them. Each bad input exits 2 with one `field: message` line per
problem, a bounded printable output, no traceback, and nothing written under the root. The unit tier walks
every field, key and option; this tier proves the commands read files and arguments that way.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lbwizard.config.kinds import unprintable
from tests.cli.test_answers_cli import LBWIZARD, run_wizard
from tests.cli.test_lbctl_dry_run import LBCTL, snapshot

ANSWERS = (
    'ha_pair: "no"\none_arm: "no"\neth0_address: 10.0.0.21\neth0_netmask: 24\neth1_address: 192.168.2.21\n'
    "eth1_netmask: 24\ngateway: 10.0.0.31\nnameserver: 10.0.0.31\nvip_port: 80\nreal_server: 192.168.2.50\n"
    'admin_password: "correct horse battery"\n'
)


def answers_file(tmp_path: Path, data: bytes | str) -> Path:
    path = tmp_path / "answers.yaml"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def wizard(answers: Path, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LBWIZARD, "--answers", str(answers), "--dry-run", "--root", str(root)], capture_output=True, timeout=120
    )


def refused(result: subprocess.CompletedProcess, first: str) -> str:
    out = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    assert result.returncode == 2, out[:2000]
    assert "Traceback" not in out and len(out) < 4000, out[:2000]
    assert not unprintable(out.replace("\n", "")), out[:2000]
    assert out.startswith(first), out[:2000]
    return out


def test_the_example_is_taken(tmp_path):
    result = wizard(answers_file(tmp_path, ANSWERS), tmp_path / "root")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("data", "first"),
    [
        (ANSWERS.replace("vip_port: 80", "vip_port: 0443"), "vip_port: '0443' is not a port"),
        (ANSWERS.replace("vip_port: 80", "vip_port: 1:20"), "vip_port: '1:20' is not a port"),
        (ANSWERS.replace("gateway: 10.0.0.31", 'gateway: "10.0.0.31\\nmakestep 1 -1"'), "gateway: "),
        (ANSWERS + 'ntp_servers: "fe80::1%x\\nmakestep 1 -1\\nserver 10.0.0.31"\n', "ntp_servers"),
        (ANSWERS + 'syslog_server: "fe80::1%x\\n$ModLoad omprog"\n', "syslog_server: "),
        (
            ANSWERS + "vip_port: 81\n",
            "answers: not valid YAML as this unit reads it: line 12, column 1: 'vip_port' is given twice",
        ),
        (
            "a: &a [x,x,x]\nb: &b [*a,*a,*a]\n" + ANSWERS,
            "answers: not valid YAML as this unit reads it: line 1, column 4: an anchor",
        ),
        (ANSWERS.encode("utf-16"), "answers: the file is not UTF-8 text (it looks like UTF-16)"),
        (ANSWERS.replace("corr", "c\u00f6rr").encode("latin-1"), "answers: the file is not UTF-8 text"),
        (ANSWERS.replace("real_server: 192.168.2.50", "real_server: " + "9" * 50_000_000), "answers: "),
        (ANSWERS + 'hostname: "lb\\e[2J\\e[Hroot# "\n', "hostname: 'lb\\x1b[2J"),
        (ANSWERS + '"\\e]0;pwned\\a": yes\n', "'\\x1b]0;pwned\\x07': unknown question id"),
    ],
    ids=[
        "octal",
        "sexagesimal",
        "newline",
        "ntp_scope_id",
        "syslog_scope_id",
        "duplicate",
        "alias",
        "utf16",
        "latin1",
        "50mb",
        "escape_value",
        "escape_key",
    ],
)
def test_a_hostile_answers_file_is_refused_by_field_and_nothing_is_written(tmp_path, data, first):
    root = tmp_path / "root"
    root.mkdir()
    refused(wizard(answers_file(tmp_path, data), root), first)
    assert list(root.rglob("*")) == []


def test_endless_and_odd_files_are_refused_within_their_bound(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    refused(wizard(Path("/dev/zero"), root), "answers: /dev/zero is larger than 1024 KiB")
    refused(wizard(tmp_path, root), f"answers: {tmp_path} is a directory")
    assert list(root.rglob("*")) == []


@pytest.fixture
def unit(tmp_path, answers) -> Path:
    result, root = run_wizard(tmp_path, answers["two_arm_nat"])
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.mark.parametrize(
    ("args", "first"),
    [
        (("time", "servers", "fe80::1%x\nmakestep 1 -1\nserver 10.0.0.31"), ""),
        (("logging", "server", "fe80::1%x\n$ModLoad omprog"), ""),
        (
            ("vs", "add", "W", "--address", "10.0.0.21", "--port", "8080", "--scheduler", "wlc\n}\nvirtual_server"),
            "--scheduler: ",
        ),
        (("vs", "set", "VIP1", "--check", "http", "--check-path", "/x\r\nHost: evil"), "--check-path: "),
        (("vs", "set", "VIP1", "--persistence", "server-cookie", "--persistence-name", "SID#x"), "--persistence-name: "),
        (("rs", "add", "VIP1", "192.168.2.51", "--name", "RIP9\x1b[2J"), "--name: 'RIP9\\x1b[2J' is not a usable name"),
        (("rs", "add", "VIP1", "192.168.2.51", "--weight", "\u0664"), "--weight: '\u0664' is not a weight"),
        (("rs", "add", "VIP1", "192.168.2.51", "--message", "x\n0003  2026-12-06 forged"), "--message: "),
        (("access", "allow", "161", "--comment", 'x" -j ACCEPT'), "access.input_rules[0].comment: "),
        (("rs", "drain", "VIP1", "x" * 100_000), "rs: no real server 'xxxxxxxxxx"),
    ],
    ids=["ntp", "syslog", "scheduler", "check_path", "cookie", "name_escape", "unicode_digit", "message", "comment", "long"],
)
def test_hostile_lbctl_arguments_are_refused_by_option_and_nothing_is_written(unit, args, first):
    before = snapshot(unit)
    result = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(unit), *args], capture_output=True, timeout=120, env=dict(os.environ)
    )
    out = refused(result, first)
    assert snapshot(unit) == before, out
    assert "x" * 100 not in out  # a value is quoted 40 characters at most


def test_the_json_answer_names_the_option_too(unit):
    result = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(unit), "rs", "set", "VIP1", "RIP1", "--weight", "0443", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert json.loads(result.stdout)["problems"] == [
        {
            "field": "--weight",
            "message": "'0443' is not a weight; use 0-65535 (0 takes the server out of rotation); write it without leading zeros",
        }
    ]

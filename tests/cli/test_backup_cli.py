"""`lbctl backup` and `lbctl restore` as an admin runs them (--dry-run --root), and a first boot's answers
file saying `restore: FILE`: the restored unit has the same configuration, history, certificate,
password hash and (when carried) SSH host keys; a refused file changes nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lbwizard.config.password import password_matches
from tests.cli.test_answers_cli import LBWIZARD, run_wizard
from tests.cli.test_lbctl_dry_run import lbctl, ok, snapshot
from tests.conftest import TWO_ARM_NAT

CERTIFICATE = "etc/haproxy/certs/appliance.pem"
HOST_KEY = "etc/ssh/ssh_host_ed25519_key"


@pytest.fixture(scope="module")
def unit(tmp_path_factory) -> Path:
    """The two-arm example with a TLS service (the role makes the unit's certificate) and SSH host keys;
    made once, and only read (backed up) by the tests."""
    result, root = run_wizard(tmp_path_factory.mktemp("unit"), TWO_ARM_NAT)
    assert result.returncode == 0, result.stdout + result.stderr
    ok(root, "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes")
    ok(root, "rs", "add", "SHOP", "192.168.2.50:8080")
    (root / "etc/ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / HOST_KEY)], check=True)
    return root


def same_unit(one: Path, other: Path) -> None:
    """The files a backup carries are byte for byte the same, the admin password too."""
    for name in [
        "etc/lbwizard/appliance.yaml",
        CERTIFICATE,
        *(f"etc/lbwizard/history/000{n}.{k}" for n in (1, 2, 3) for k in ("yaml", "json")),
    ]:
        assert (other / name).read_bytes() == (one / name).read_bytes(), name
    assert (other / "etc/lbwizard/admin-password.hash").read_text() == (one / "etc/lbwizard/admin-password.hash").read_text()
    assert sorted(p.name for p in (other / "etc/lbwizard/history").iterdir()) == sorted(
        p.name for p in (one / "etc/lbwizard/history").iterdir()
    )
    assert f"crt {other / CERTIFICATE}" in (other / "etc/haproxy/haproxy.cfg").read_text()  # served from there


def test_backup_then_restore_onto_a_fresh_unit_gives_the_same_unit(unit, tmp_path, answers):
    file = tmp_path / "unit.lbbackup"
    made = ok(unit, "backup", str(file), "--json")
    assert file.stat().st_mode & 0o777 == 0o600
    held = json.loads(made.stdout)
    assert held["versions"] == [1, 2, 3] and held["certificates"] == [CERTIFICATE] and held["host_keys"] == []
    assert held["admin_password_hash"] is True
    fresh = tmp_path / "fresh"
    restored = ok(fresh, "restore", str(file))
    assert "restored the backup of lbmaster, made " in restored.stdout and "saved as version 3." in restored.stdout
    same_unit(unit, fresh)
    hashed = (fresh / "etc/lbwizard/admin-password.hash").read_text().strip()
    assert password_matches(answers["two_arm_nat"]["admin_password"], hashed)
    assert not (fresh / HOST_KEY).exists()  # not asked for
    assert "0003" in ok(fresh, "history").stdout.splitlines()[-1] and "<- current" in ok(fresh, "history").stdout


def test_host_keys_travel_when_asked_for_and_a_unit_may_keep_its_own(unit, tmp_path):
    file = tmp_path / "with-keys.lbbackup"
    assert json.loads(ok(unit, "backup", str(file), "--with-host-keys", "--json").stdout)["host_keys"] == [
        HOST_KEY,
        f"{HOST_KEY}.pub",
    ]
    fresh = tmp_path / "fresh"
    ok(fresh, "restore", str(file))
    for name in (HOST_KEY, f"{HOST_KEY}.pub"):
        assert (fresh / name).read_bytes() == (unit / name).read_bytes()
        assert (fresh / name).stat().st_mode & 0o777 == (unit / name).stat().st_mode & 0o777
    own = tmp_path / "own"
    (own / "etc/ssh").mkdir(parents=True)
    (own / HOST_KEY).write_text("this unit's own key\n")
    ok(own, "restore", str(file), "--keep-host-keys")
    assert (own / HOST_KEY).read_text() == "this unit's own key\n" and not (own / f"{HOST_KEY}.pub").exists()


def test_a_restore_onto_a_configured_unit_keeps_its_versions_before_the_backups(unit, tmp_path, answers):
    file = tmp_path / "unit.lbbackup"
    ok(unit, "backup", str(file))
    result, other = run_wizard(tmp_path, answers["two_arm_nat"] | {"real_server": "192.168.2.77"})
    assert result.returncode == 0, result.stdout + result.stderr
    own = (other / "etc/lbwizard/history/0001.yaml").read_text()
    assert "saved as version 4." in ok(other, "restore", str(file)).stdout
    assert (other / "etc/lbwizard/appliance.yaml").read_bytes() == (unit / "etc/lbwizard/appliance.yaml").read_bytes()
    assert [(other / f"etc/lbwizard/history/000{n}.yaml").read_bytes() for n in (2, 3, 4)] == [
        (unit / f"etc/lbwizard/history/000{n}.yaml").read_bytes() for n in (1, 2, 3)
    ]
    assert "rolled back to version 1; saved as version 5." in ok(other, "rollback", "1").stdout  # its own config, again
    assert (other / "etc/lbwizard/appliance.yaml").read_text() == own


def damaged(file: Path) -> Path:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x10
    broken = file.with_name("damaged.lbbackup")
    broken.write_bytes(bytes(data))
    return broken


def test_a_damaged_or_foreign_file_is_refused_and_changes_nothing(unit, tmp_path, answers):
    file = tmp_path / "unit.lbbackup"
    ok(unit, "backup", str(file))
    _, other = run_wizard(tmp_path, answers["two_arm_nat"] | {"real_server": "192.168.2.77"})
    before = snapshot(other)
    for bad, reason in (
        (damaged(file), "backup: damaged: "),
        (other / "etc/lbwizard/appliance.yaml", "backup: not a backup of this appliance (not a gzip'd tar)"),
        (tmp_path / "missing.lbbackup", "backup: cannot read "),
    ):
        refused = lbctl(other, "restore", str(bad))
        assert refused.returncode == 2 and refused.stdout.startswith(reason), refused.stdout + refused.stderr
        assert snapshot(other) == before


def test_a_backup_into_a_directory_that_does_not_exist_is_refused(unit, tmp_path):
    refused = lbctl(unit, "backup", str(tmp_path / "no/such/dir/unit.lbbackup"))
    assert refused.returncode == 2
    assert refused.stdout.strip() == f"backup: the directory {tmp_path / 'no/such/dir'} does not exist; nothing was written"


def answers_disk(tmp_path: Path, answers: str, backup: Path | None = None) -> Path:
    """What an LBANSWERS disk holds: answers.yaml and, beside it, the backup it names."""
    disk = tmp_path / "disk"
    disk.mkdir(exist_ok=True)
    (disk / "answers.yaml").write_text(answers)
    if backup is not None:
        (disk / "backup.lbbackup").write_bytes(backup.read_bytes())
    return disk / "answers.yaml"


def first_boot(answers_file: Path, root: Path) -> subprocess.CompletedProcess:
    command = [*LBWIZARD, "--answers", str(answers_file), "--dry-run", "--root", str(root)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_a_first_boot_answers_file_restores_the_backup_beside_it(unit, tmp_path):
    file = tmp_path / "unit.lbbackup"
    ok(unit, "backup", str(file), "--with-host-keys")
    fresh = tmp_path / "fresh"
    result = first_boot(answers_disk(tmp_path, "restore: backup.lbbackup\n", file), fresh)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Restored the backup of lbmaster" in result.stdout and "VIP1 10.0.0.21:80/tcp layer 4 NAT" in result.stdout
    same_unit(unit, fresh)
    assert (fresh / HOST_KEY).read_bytes() == (unit / HOST_KEY).read_bytes()  # the backup's own choice: it has them


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (
            "restore: backup.lbbackup\nhostname: lb2\n",
            ["hostname: an answers file with restore takes no other answer; remove it"],
        ),
        ("restore: ''\n", ["restore: expected the name of a backup file (made by lbctl backup) beside the answers file"]),
        ("restore: other.lbbackup\n", ["restore: cannot read "]),
        ("restore: answers.yaml\n", ["restore: not a backup of this appliance (not a gzip'd tar)"]),
    ],
    ids=["another_answer", "no_name", "no_such_file", "not_a_backup"],
)
def test_a_restore_answer_that_cannot_be_taken_exits_2_and_writes_nothing(unit, tmp_path, text, lines):
    file = tmp_path / "unit.lbbackup"
    ok(unit, "backup", str(file))
    fresh = tmp_path / "fresh"
    result = first_boot(answers_disk(tmp_path, text, file), fresh)
    assert result.returncode == 2
    assert [line[: len(want)] for line, want in zip(result.stdout.splitlines(), lines, strict=True)] == lines
    assert not fresh.exists() or not any(fresh.rglob("*"))

"""A crafted-backup matrix (issue 35): backups made by hand to carry what `lbctl backup` never writes, each
restored with `lbctl restore --dry-run --root` onto a unit with a history of its own. Each one is either
refused with exit 2 and `backup: REASON`, the whole root tree (every file, directory and link with its
content, mode and owner) exactly as before, or restored with the unit's own modes and its own versions kept.
Last, a whole backup restored and cut by a power cut after each of its steps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import tarfile
import time
from datetime import datetime
from pathlib import Path

import pytest

from lbwizard.apply import restore_journal
from lbwizard.apply.transaction import PAUSE_HOOK
from lbwizard.config import backup, history, model
from lbwizard.config.paths import Paths
from lbwizard.manage.boot import leftovers
from tests.cli.test_answers_cli import run_wizard
from tests.cli.test_lbctl_dry_run import LBCTL, lbctl, ok, snapshot
from tests.conftest import TWO_ARM_NAT

CONFIG = "etc/lbwizard/appliance.yaml"
CERTIFICATE = "etc/haproxy/certs/appliance.pem"
HOST_KEY = "etc/ssh/ssh_host_ed25519_key"
PAIR_KEY = "etc/lbwizard/pair/id_ed25519"
VRRP_SCRIPT = "usr/local/sbin/lbwizard-vrrp-state"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def whole_tree(root: Path) -> dict[str, tuple]:
    """Every entry under root (links not followed): its type, mode, owner, and content or link target."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            status = path.lstat()
            if stat.S_ISLNK(status.st_mode):
                content: bytes | str | None = os.readlink(path)
            elif stat.S_ISREG(status.st_mode):
                content = path.read_bytes()
            else:
                content = None
            found[str(path.relative_to(root))] = (
                stat.S_IFMT(status.st_mode),
                status.st_mode & 0o7777,
                status.st_uid,
                status.st_gid,
                content,
            )
    return found


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, bytes]:
    """A unit (the two-arm example, a TLS service, SSH host keys, a pair identity) and its backup."""
    result, root = run_wizard(tmp_path_factory.mktemp("source"), TWO_ARM_NAT)
    assert result.returncode == 0, result.stdout + result.stderr
    ok(root, "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes")
    ok(root, "rs", "add", "SHOP", "192.168.2.50:8080")
    (root / "etc/ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / HOST_KEY)], check=True)
    (root / PAIR_KEY).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / HOST_KEY, root / PAIR_KEY)
    file = root.parent / "source.lbbackup"
    ok(root, "backup", str(file), "--with-host-keys")
    return root, file.read_bytes()


@pytest.fixture(scope="module")
def target_template(tmp_path_factory) -> Path:
    """A unit of its own: another real server, two versions."""
    result, root = run_wizard(tmp_path_factory.mktemp("target"), TWO_ARM_NAT | {"real_server": "192.168.2.77"})
    assert result.returncode == 0, result.stdout + result.stderr
    ok(root, "rs", "add", "VIP1", "192.168.2.78")
    return root


@pytest.fixture
def target(tmp_path, target_template) -> Path:
    root = tmp_path / "target"
    shutil.copytree(target_template, root, symlinks=True)
    return root


@dataclasses.dataclass
class Crafted:
    """A backup taken apart: its manifest and plain members, to be changed and packed again."""

    manifest: dict
    files: dict[str, bytes]
    special: dict[str, tarfile.TarInfo] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, data: bytes) -> Crafted:
        with backup._gunzip(data)[0] as spool, tarfile.open(fileobj=spool) as archive:
            entries = {e.name: archive.extractfile(e).read() for e in archive.getmembers()}  # type: ignore[union-attr]
        return cls(json.loads(entries.pop(backup.MANIFEST)), entries)

    def put(self, name: str, content: bytes, mode: int = 0o644) -> None:
        self.files[name] = content
        self.manifest["files"][name] = {"sha256": hashlib.sha256(content).hexdigest(), "mode": mode}

    def put_special(self, name: str, kind: bytes, link: str = "") -> None:
        """A member that is not a plain file (listed in the manifest, so only its kind is wrong)."""
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.devmajor, info.devminor = kind, link, 1, 7
        self.files.pop(name, None)
        self.special[name] = info
        self.manifest["files"][name] = {"sha256": hashlib.sha256(b"").hexdigest(), "mode": 0o644}

    def config(self) -> model.ApplianceConfig:
        return model.loads(self.files[CONFIG].decode())

    def set_config(self, config: model.ApplianceConfig) -> None:
        self.put(CONFIG, model.dumps(config).encode())

    def pack(self) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
            manifest = json.dumps(self.manifest).encode()
            info = tarfile.TarInfo(backup.MANIFEST)
            info.size = len(manifest)
            archive.addfile(info, io.BytesIO(manifest))
            for name in sorted(self.files):
                info = tarfile.TarInfo(name)
                info.size = len(self.files[name])
                archive.addfile(info, io.BytesIO(self.files[name]))
            for info in self.special.values():
                archive.addfile(info)
        created = int(datetime.fromisoformat(self.manifest["created"]).timestamp())
        return backup._gzip(buffer.getvalue(), created)


def with_certificate_at(crafted: Crafted, path: str, carried: bool = True) -> None:
    """A TLS service naming path as its certificate, and (carried) a member there."""
    config = crafted.config()
    shop = next(s for s in config.virtual_services if s.name == "SHOP")
    config.virtual_services.append(dataclasses.replace(shop, name="SHOP2", port=8443, tls_certificate=f"/{path}"))
    crafted.set_config(config)
    if carried:
        crafted.put(path, b"#!/bin/sh\n" + PEM, 0o755)


def restore(target: Path, crafted: Crafted, tmp_path: Path) -> subprocess.CompletedProcess:
    file = tmp_path / "crafted.lbbackup"
    file.write_bytes(crafted.pack())
    return lbctl(target, "restore", str(file))


def refused(target: Path, crafted: Crafted, tmp_path: Path, reason: str) -> None:
    """Exit 2, `backup: REASON` (REASON starting so), the whole tree as it was."""
    before = whole_tree(target)
    result = restore(target, crafted, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith(f"backup: {reason}"), result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert whole_tree(target) == before


REFUSED_MEMBERS = {
    # name: (how the crafted backup differs, the reason's start)
    "a_service_naming_the_vrrp_script": (
        lambda c: with_certificate_at(c, VRRP_SCRIPT),
        "refused: virtual service SHOP2 names the certificate /usr/local/sbin/lbwizard-vrrp-state, outside /etc/haproxy/certs/",
    ),
    "a_service_naming_a_path_it_does_not_carry": (
        lambda c: with_certificate_at(c, "etc/ssl/private/shop.pem", carried=False),
        "refused: virtual service SHOP2 names the certificate /etc/ssl/private/shop.pem, outside /etc/haproxy/certs/",
    ),
    "a_password_with_a_second_account": (
        lambda c: c.put(backup.PASSWORD_MEMBER, c.files[backup.PASSWORD_MEMBER] + b"bin:" + c.files[backup.PASSWORD_MEMBER]),
        "refused: admin-password.hash is not one crypt(3) hash on one line",
    ),
    "a_password_that_is_no_hash": (
        lambda c: c.put(backup.PASSWORD_MEMBER, b"correct horse battery\n"),
        "refused: admin-password.hash is not one crypt(3) hash on one line",
    ),
    "a_member_no_backup_holds": (
        lambda c: c.put("etc/shadow", b"root::0:0:99999:7:::\n"),
        "refused: etc/shadow is not a file an appliance backup holds",
    ),
    "a_member_beside_the_certificates": (
        lambda c: c.put("etc/haproxy/haproxy.cfg", b"global\n"),
        "refused: etc/haproxy/haproxy.cfg is not a file an appliance backup holds",
    ),
    "a_member_with_dot_dot": (
        lambda c: c.put("etc/haproxy/certs/../../../usr/local/sbin/lbwizard-vrrp-state", PEM),
        "refused: the member 'etc/haproxy/certs/../../../usr/local/sbin/lbwizard-vrrp-state' is not a plain path",
    ),
    "an_absolute_member": (
        lambda c: c.put("/etc/haproxy/certs/appliance.pem", PEM),
        "refused: the member '/etc/haproxy/certs/appliance.pem' is not a plain path",
    ),
    "a_symlink_member": (
        lambda c: c.put_special(CERTIFICATE, tarfile.SYMTYPE, "/etc/shadow"),
        f"refused: {CERTIFICATE} is a link, a device, a FIFO or a directory",
    ),
    "a_hard_link_member": (
        lambda c: c.put_special(HOST_KEY, tarfile.LNKTYPE, CONFIG),
        f"refused: {HOST_KEY} is a link, a device, a FIFO or a directory",
    ),
    "a_device_member": (
        lambda c: c.put_special(CERTIFICATE, tarfile.CHRTYPE),
        f"refused: {CERTIFICATE} is a link, a device, a FIFO or a directory",
    ),
    "a_fifo_member": (
        lambda c: c.put_special(PAIR_KEY, tarfile.FIFOTYPE),
        f"refused: {PAIR_KEY} is a link, a device, a FIFO or a directory",
    ),
    "a_directory_member": (
        lambda c: c.put_special("etc/haproxy/certs/more.pem", tarfile.DIRTYPE),
        "refused: etc/haproxy/certs/more.pem is a link, a device, a FIFO or a directory",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_MEMBERS))
def test_a_member_a_backup_may_not_hold_is_refused_and_nothing_changes(source, target, tmp_path, case):
    change, reason = REFUSED_MEMBERS[case]
    crafted = Crafted.of(source[1])
    change(crafted)
    refused(target, crafted, tmp_path, reason)
    assert not (target / VRRP_SCRIPT).exists()


def test_modes_wider_than_the_units_own_are_not_taken(source, target, tmp_path):
    """The manifest's modes are ignored: each file gets the unit's own mode for its kind."""
    crafted = Crafted.of(source[1])
    for name in crafted.manifest["files"]:
        crafted.manifest["files"][name]["mode"] = 0o6777
    result = restore(target, crafted, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    modes = {name: (target / name).stat().st_mode & 0o7777 for name in crafted.files if name != backup.PASSWORD_MEMBER}
    assert modes[HOST_KEY] == modes[PAIR_KEY] == 0o600 and modes[f"{HOST_KEY}.pub"] == 0o644
    assert modes[CERTIFICATE] == 0o640 and modes[CONFIG] == 0o644
    assert {mode for name, mode in modes.items() if name.startswith("etc/lbwizard/history/")} == {0o644}
    assert (target / "etc/lbwizard/admin-password.hash").stat().st_mode & 0o7777 == 0o600
    assert (target / PAIR_KEY).parent.stat().st_mode & 0o7777 == 0o700  # made as pair/keys.py makes it


def test_a_manifest_hostname_reaches_the_terminal_as_printable_text_only(source, target, tmp_path):
    crafted = Crafted.of(source[1])
    crafted.manifest["hostname"] = "lb\x1b]0;owned\x07\n0003  2026-12-06 forged line"
    result = restore(target, crafted, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "restored the backup of lb?]0;owned??0003  2026-12-06 forged line, made " in result.stdout


def test_a_manifest_mode_that_is_not_a_mode_is_damage(source, target, tmp_path):
    crafted = Crafted.of(source[1])
    crafted.manifest["files"][HOST_KEY]["mode"] = 0o170777
    refused(target, crafted, tmp_path, "damaged: lb-appliance-backup.json does not list its files with a sha256 and a mode")


@pytest.mark.parametrize(
    ("place", "make"),
    [
        ("etc/haproxy/certs", lambda target, outside: (target / "etc/haproxy/certs").symlink_to(outside)),
        ("etc/ssh", lambda target, outside: (target / "etc/ssh").symlink_to(outside)),
    ],
    ids=["certificates_folder", "ssh_folder"],
)
def test_a_folder_of_the_unit_that_leads_out_of_the_root_is_refused(source, target, tmp_path, place, make):
    outside = tmp_path / "outside"
    outside.mkdir()
    (target / place).parent.mkdir(parents=True, exist_ok=True)
    if (target / place).exists():
        shutil.rmtree(target / place)
    make(target, outside)
    refused(target, Crafted.of(source[1]), tmp_path, f"refused: {target / place} leads out of {target} (a link)")
    assert not any(outside.iterdir())


def test_a_file_of_the_backup_that_is_a_directory_or_a_fifo_on_the_unit_is_refused(source, target, tmp_path):
    (target / HOST_KEY).mkdir(parents=True)
    refused(target, Crafted.of(source[1]), tmp_path, f"refused: {target / HOST_KEY} is a directory, a device or a FIFO")
    (target / HOST_KEY).rmdir()
    (target / CERTIFICATE).parent.mkdir(parents=True)
    os.mkfifo(target / CERTIFICATE)
    refused(target, Crafted.of(source[1]), tmp_path, f"refused: {target / CERTIFICATE} is a directory, a device or a FIFO")


def test_a_unit_whose_service_names_a_certificate_elsewhere_makes_no_backup(target, tmp_path):
    ok(target, "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes")
    (target / "etc/ssl/private").mkdir(parents=True)
    shutil.copy(target / CERTIFICATE, target / "etc/ssl/private/shop.pem")  # a real one: haproxy -c reads it
    ok(target, "vs", "set", "SHOP", "--tls-certificate", f"{target}/etc/ssl/private/shop.pem")
    file = tmp_path / "unit.lbbackup"
    result = lbctl(target, "backup", str(file))
    assert result.returncode == 2 and result.stdout.startswith("backup: virtual service SHOP names the certificate "), result
    assert "nothing was written" in result.stdout and not file.exists()


# -- history -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"version: [1\n", "history version 0001: does not load as a configuration: config: not valid YAML"),
        (b"just some words\n", "history version 0001: does not load as a configuration: "),
        (b"version: 1\nhostname: lbmaster\nsurprise: true\n", "history version 0001: does not load as a configuration: "),
        (b"\xff\xfe not text\n", "damaged: etc/lbwizard/history/0001.yaml is not text"),
    ],
    ids=["not_yaml", "not_a_mapping", "unknown_key", "not_text"],
)
def test_a_history_version_that_does_not_load_is_refused(source, target, tmp_path, content, reason):
    crafted = Crafted.of(source[1])
    crafted.put("etc/lbwizard/history/0001.yaml", content)
    refused(target, crafted, tmp_path, reason)


def test_a_history_record_that_is_not_a_json_object_is_refused(source, target, tmp_path):
    crafted = Crafted.of(source[1])
    crafted.put("etc/lbwizard/history/0002.json", b"[1, 2]\n")
    refused(target, crafted, tmp_path, "history version 0002: its record etc/lbwizard/history/0002.json is not a JSON object")


@pytest.mark.long
def test_a_backup_of_many_versions_keeps_the_units_own_and_rollback_reaches_them(source, target, tmp_path):
    """1,000 versions in the backup, two of the unit's own: the unit's stay, the backup's oldest give way."""
    crafted = Crafted.of(source[1])
    text, record = crafted.files[CONFIG], crafted.files["etc/lbwizard/history/0001.json"]
    for name in [n for n in crafted.manifest["files"] if n.startswith("etc/lbwizard/history/")]:
        del crafted.manifest["files"][name], crafted.files[name]
    for number in range(1, 1001):
        crafted.put(f"etc/lbwizard/history/{number:04d}.yaml", text)
        crafted.put(f"etc/lbwizard/history/{number:04d}.json", record)
    own = {n: (target / f"etc/lbwizard/history/000{n}.yaml").read_bytes() for n in (1, 2)}
    result = restore(target, crafted, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "let go" not in result.stdout
    assert "bring the backup's 998 version(s) into the history as 0003 to 1000 (its oldest 2 left out" in result.stdout
    assert {n: (target / f"etc/lbwizard/history/000{n}.yaml").read_bytes() for n in (1, 2)} == own
    assert len(list((target / "etc/lbwizard/history").glob("*.yaml"))) == 1000
    assert "rolled back to version 2; saved as version 1001." in ok(target, "rollback", "2").stdout
    assert (target / CONFIG).read_bytes() == own[2]


def test_lbctl_history_lists_every_version_and_names_the_one_that_does_not_load(target):
    (target / "etc/lbwizard/history/0001.yaml").write_bytes(b"version: [1\n")
    result = lbctl(target, "history")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stdout + result.stderr
    first, second = result.stdout.splitlines()
    assert (
        first.startswith("0001  ")
        and "[BAD: history version 0001 does not load as a configuration: config: not valid YAML" in first
    )
    assert second.startswith("0002  ") and second.endswith("<- current")
    refused = lbctl(target, "rollback", "1")
    assert refused.returncode == 2 and refused.stdout.startswith("version: history version 0001 does not load"), refused


def test_a_backup_leaves_out_a_version_that_does_not_load_and_says_so(target, tmp_path):
    (target / "etc/lbwizard/history/0001.yaml").write_bytes(b"version: [1\n")
    file = tmp_path / "unit.lbbackup"
    made = ok(target, "backup", str(file))
    assert "  left out history version 0001: does not load as a configuration: " in made.stdout
    assert backup.unpack(file.read_bytes()).versions == [2]
    fresh = tmp_path / "fresh"
    ok(fresh, "restore", str(file))
    assert sorted(p.name for p in (fresh / "etc/lbwizard/history").iterdir()) == ["0002.json", "0002.yaml"]


# -- a power cut during a restore: the boot's file work after a SIGKILL at every step ----------------------
# (tests/netns/test_restore_netns.py does it with the real boot apply and the namespace)


SETS = ("etc/haproxy/certs", "etc/ssh", "etc/lbwizard/pair", "etc/lbwizard/admin-password.hash", "etc/lbwizard/appliance.yaml")


def the_set(root: Path) -> dict:
    """What a restore replaces, and the history, as whole trees (content, mode, owner)."""
    found = whole_tree(root)
    # the history's records say when each version was saved: the versions themselves are compared
    keep = lambda name: name.startswith(SETS) or (name.startswith("etc/lbwizard/history") and not name.endswith(".json"))
    return {name: item for name, item in found.items() if keep(name)}


def boot_files(root: Path) -> None:
    """What the boot apply does to files before it applies anything (manage/boot.py)."""
    paths = Paths(root)
    for temporary in leftovers(paths):
        temporary.unlink()
    restore_journal.recover(paths, lambda line: None)
    for number in history.unfinished(paths):
        history.path_of(paths, number).unlink()
        history.record_of(paths, number).unlink(missing_ok=True)


def restore_paused(root: Path, file: Path, step: int) -> subprocess.Popen:
    command = [*LBCTL, "--dry-run", "--root", str(root), "restore", str(file)]
    process = subprocess.Popen(
        command, env={**os.environ, PAUSE_HOOK: str(step)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    assert process.stderr is not None
    while f"paused after step {step}" not in (line := process.stderr.readline()):
        assert line and time.monotonic() < deadline, f"the restore never paused after step {step}"
    return process


@pytest.mark.long
def test_a_restore_cut_by_a_power_cut_after_any_step_boots_the_old_set_or_the_new_whole(tmp_path, source, target_template):
    file = tmp_path / "source.lbbackup"
    file.write_bytes(source[1])
    old = the_set(target_template)
    whole = tmp_path / "whole"
    shutil.copytree(target_template, whole, symlinks=True)
    done = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(whole), "restore", str(file)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not restore_journal.pending(Paths(whole)).exists()
    new = the_set(whole)
    assert new != old and any(name.startswith("etc/haproxy/certs/") for name in new)
    steps = len([line for line in done.stdout.splitlines() if line.startswith("- ") and not line.startswith("- hand-over")])
    outcomes = []
    for step in range(1, steps + 1):
        root = tmp_path / f"cut{step}"
        shutil.copytree(target_template, root, symlinks=True)
        process = restore_paused(root, file, step)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        boot_files(root)
        now = the_set(root)
        assert now in (old, new), f"a power cut after step {step}: {sorted(set(now.items()) ^ set(old.items()))[:4]}"
        outcomes.append("new" if now == new else "old")
        shutil.rmtree(root)
    assert outcomes[0] == "old" and outcomes[-1] == "new" and outcomes.count("new") == 1, outcomes  # the commit: the last step


def test_no_change_builds_on_a_restore_cut_off_before_it_was_whole(tmp_path, source, target):
    """A restore killed after it kept its way back (restore-pending.json) and before its commit point: the boot
    apply takes it back, deleting the versions the restore added and putting appliance.yaml back. A change made
    in between would be lost with them, so every change (another restore and a backup too) is refused until then,
    naming how to take it back; then they work again (found by the issue 35 review)."""
    file = tmp_path / "source.lbbackup"
    file.write_bytes(source[1])
    process = restore_paused(target, file, 3)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert restore_journal.pending(Paths(target)).is_file()
    before = snapshot(target)
    for args in (("rs", "add", "VIP1", "192.168.2.98"), ("restore", str(file)), ("backup", str(tmp_path / "b.lbbackup"))):
        refused = lbctl(target, *args)
        assert refused.returncode == 75, refused.stdout + refused.stderr
        assert "a restore was cut off before it was whole" in refused.stderr and "lbwizard apply --boot" in refused.stderr
        assert snapshot(target) == before
    boot_files(target)
    ok(target, "rs", "add", "VIP1", "192.168.2.98")
    assert "192.168.2.98" in (target / "etc/lbwizard/appliance.yaml").read_text()

"""The backup file (config/backup.py) and what a restore writes (apply/backup_files.py), on real files:
a file packed reads back whole; any damage, a foreign file or a member out of place is refused with its
reason; a restore that fails after any step leaves the tree, owners and modes included, as it was."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lbwizard.apply import backup_files, transaction
from lbwizard.config import backup, history, model
from lbwizard.config.backup import MANIFEST, BackupError
from lbwizard.config.password import hash_password
from lbwizard.config.paths import Paths
from lbwizard.manage import restore as restoring

CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
HASH = hash_password("correct horse battery")
CERTIFICATE = (
    b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    b"-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"
)


def members_of(config: model.ApplianceConfig) -> backup.Members:
    """What a unit with one version of config and the usual secrets holds."""
    text = model.dumps(config).encode()
    return {
        "etc/lbwizard/appliance.yaml": (text, 0o644),
        "etc/lbwizard/history/0001.yaml": (text, 0o644),
        "etc/lbwizard/history/0001.json": (b'{"by": "root"}\n', 0o644),
        "etc/haproxy/certs/appliance.pem": (CERTIFICATE, 0o640),
        "etc/lbwizard/pair/id_ed25519": (
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n",
            0o600,
        ),
        "etc/ssh/ssh_host_ed25519_key": (
            b"-----BEGIN OPENSSH PRIVATE KEY-----\nc3No\n-----END OPENSSH PRIVATE KEY-----\n",
            0o600,
        ),
        "etc/ssh/ssh_host_ed25519_key.pub": (b"ssh-ed25519 AAAAC3Nza root@lbmaster\n", 0o644),
        backup.PASSWORD_MEMBER: (HASH.encode() + b"\n", 0o600),
    }


def packed(members: backup.Members) -> bytes:
    return backup.pack(members, hostname="lbmaster", appliance_version="1.2", created=CREATED)


def crafted(files: dict[str, bytes], listed: dict | None = None, links: tuple[str, ...] = (), first: str = MANIFEST) -> bytes:
    """A backup-shaped file made by hand, for what pack() never writes: a manifest that lies, a link, a
    path out of the root. Its gzip header is ours, so only the point under test is wrong."""
    manifest = {
        "format": backup.FORMAT,
        "format_version": 1,
        "created": CREATED.isoformat(),
        "hostname": "x",
        "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "mode": 0o644} for n, d in files.items()} | (listed or {}),
    }
    entries = {MANIFEST: json.dumps(manifest).encode(), **files}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in sorted(entries, key=lambda n: n != first):
            info = tarfile.TarInfo(name)
            info.size = len(entries[name])
            archive.addfile(info, io.BytesIO(entries[name]))
        for name in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/shadow"
            archive.addfile(info)
    return backup._gzip(buffer.getvalue(), int(CREATED.timestamp()))


def test_a_packed_backup_reads_back_whole(example_config):
    members = members_of(example_config)
    data = packed(members)
    found = backup.unpack(data)
    assert found.members == members
    assert found.config == example_config
    assert found.versions == [1] and found.host_keys == ["etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_ed25519_key.pub"]
    assert found.manifest["hostname"] == "lbmaster" and found.manifest["appliance_version"] == "1.2"
    assert found.manifest["host_keys"] is True and found.manifest["created"] == "2024-05-06T07:08:09+00:00"
    assert packed(members) == data  # the same input, the same bytes
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:  # any tar reads it, the manifest first
        assert archive.getnames()[0] == MANIFEST


def test_a_truncated_backup_is_refused_at_any_length(example_config):
    data = packed(members_of(example_config))
    for length in range(len(data)):
        with pytest.raises(BackupError, match=r"^(damaged|not a backup)"):
            backup.unpack(data[:length])


@pytest.mark.parametrize("bit", [0x01, 0x80])
def test_one_flipped_bit_anywhere_is_refused(example_config, bit):
    data = packed(members_of(example_config))
    for at in range(len(data)):
        flipped = data[:at] + bytes([data[at] ^ bit]) + data[at + 1 :]
        with pytest.raises(BackupError):
            backup.unpack(flipped)


def test_damage_inside_a_member_names_it():
    history = b"# managed by lbwizard\nversion: 1\n"
    data = crafted(
        {"etc/lbwizard/history/0003.yaml": history}, {"etc/lbwizard/history/0003.yaml": {"sha256": "0" * 64, "mode": 0o644}}
    )
    with pytest.raises(BackupError, match=r"^damaged: etc/lbwizard/history/0003.yaml does not match its checksum$"):
        backup.unpack(data)


def foreign_tar_gz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("etc/passwd")
        archive.addfile(info, io.BytesIO(b""))
    return buffer.getvalue()


def gzip_of(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", r"not a backup of this appliance \(not a gzip'd tar\)"),
        (b"version: 1\nhostname: lbmaster\n", r"not a backup of this appliance \(not a gzip'd tar\)"),
        (foreign_tar_gz(), r"not a backup of this appliance \(no lb-appliance-backup.json\)"),
        (gzip_of(b"just some text, gzip'd"), r"damaged: not a gzip'd tar \("),
        (
            crafted({"etc/lbwizard/history/0001.json": b"{}"}, first="etc/lbwizard/history/0001.json"),
            r"not a backup of this appliance \(no lb-appliance-backup.json\)",
        ),
    ],
    ids=["empty", "a_yaml_file", "foreign_tar", "foreign_gzip", "manifest_not_first"],
)
def test_a_foreign_file_is_refused_saying_what_it_is(data, reason):
    with pytest.raises(BackupError, match=f"^{reason}"):
        backup.unpack(data)


def test_a_newer_format_is_refused_naming_it(example_config, monkeypatch):
    monkeypatch.setattr(backup, "FORMAT_VERSION", 2)
    data = packed(members_of(example_config))
    monkeypatch.setattr(backup, "FORMAT_VERSION", 1)
    with pytest.raises(BackupError, match=r"^made by a newer format \(2\)"):
        backup.unpack(data)


def test_a_backup_whose_gzip_header_was_rewritten_is_refused(example_config):
    import gzip

    data = gzip.compress(gzip.decompress(packed(members_of(example_config))))  # the same tar, another header
    with pytest.raises(BackupError, match=r"^damaged: its gzip header is not the one lbctl backup wrote"):
        backup.unpack(data)


def test_a_config_that_does_not_verify_is_refused_with_its_problems(example_config):
    broken = copy.deepcopy(example_config)
    broken.gateway = "172.16.0.1"
    with pytest.raises(BackupError, match=r"^its configuration does not verify: gateway: "):
        backup.unpack(packed(members_of(broken)))
    members = members_of(example_config)
    members["etc/lbwizard/appliance.yaml"] = (b"version: [1\n", 0o644)
    with pytest.raises(BackupError, match=r"^its configuration does not load: "):
        backup.unpack(packed(members))
    del members["etc/lbwizard/appliance.yaml"]
    with pytest.raises(BackupError, match=r"^holds no configuration \(etc/lbwizard/appliance.yaml\)"):
        backup.unpack(packed(members))


@pytest.mark.parametrize("name", ["../etc/shadow", "/etc/shadow", "etc/lbwizard/../../etc/shadow", "etc//shadow"])
def test_a_member_out_of_the_root_is_refused(name):
    with pytest.raises(BackupError, match=r"^refused: the member .* is not a plain path under the unit's root"):
        backup.unpack(crafted({name: b"root::0:0:99999:7:::\n"}))
    with pytest.raises(BackupError, match=r"^refused"):
        packed({name: (b"", 0o644)})


def test_links_unlisted_missing_and_stray_members_are_refused(example_config):
    text = model.dumps(example_config).encode()
    config = {"etc/lbwizard/appliance.yaml": text}
    link = {"etc/haproxy/certs/appliance.pem": {"sha256": "", "mode": 0o644}}
    with pytest.raises(BackupError, match=r"^refused: etc/haproxy/certs/appliance.pem is a link"):
        backup.unpack(crafted(config, link, links=("etc/haproxy/certs/appliance.pem",)))
    with pytest.raises(BackupError, match=r"^damaged: etc/lbwizard/history/0002.yaml is listed in .* but not there"):
        backup.unpack(crafted(config, {"etc/lbwizard/history/0002.yaml": {"sha256": "", "mode": 0o644}}))
    with pytest.raises(BackupError, match=r"^refused: etc/shadow is not a file an appliance backup holds"):
        backup.unpack(crafted(config | {"etc/shadow": b"root::0:0:99999:7:::\n"}))


def test_a_certificate_a_service_names_belongs_only_under_the_certificates_folder(example_config):
    service = example_config.virtual_services[0]
    service.layer, service.forwarding, service.scheduler, service.tls = 7, "snat", "roundrobin", True
    service.tls_certificate = "/etc/haproxy/certs/shop.pem"
    assert backup.belongs("etc/haproxy/certs/shop.pem", example_config) and not backup.certificate_problems(example_config)
    assert not backup.belongs("etc/haproxy/certs/other.pem", example_config)
    for elsewhere in ("/etc/ssl/private/shop.pem", "/usr/local/sbin/lbwizard-vrrp-state", "/etc/haproxy/certs"):
        service.tls_certificate = elsewhere
        assert not backup.belongs(elsewhere.lstrip("/"), example_config)
        assert backup.certificate_problems(example_config) == [
            f"virtual service VIP1 names the certificate {elsewhere}, outside /etc/haproxy/certs/ where a backup holds "
            "certificates (move it there: lbctl vs set VIP1 --tls-certificate /etc/haproxy/certs/NAME.pem)"
        ]
        with pytest.raises(BackupError, match=rf"^refused: virtual service VIP1 names the certificate {elsewhere}, outside"):
            backup.unpack(packed(members_of(example_config)))


def test_each_member_is_read_with_the_units_own_mode_whatever_the_manifest_says(example_config):
    members = {name: (content, 0o6777) for name, (content, _mode) in members_of(example_config).items()}
    found = backup.unpack(packed(members))
    assert {name: mode for name, (_content, mode) in found.members.items()} == {
        name: mode for name, (_content, mode) in members_of(example_config).items()
    }


# -- the unit's side: collect, and restore as steps ---------------------------------------------------


def unit_with(root: Path, config: model.ApplianceConfig, members: backup.Members) -> Paths:
    """A root holding what members describes, the password hash where a --root keeps it."""
    paths = Paths(root)
    for name, (content, mode) in members.items():
        path = paths.admin_password_hash if name == backup.PASSWORD_MEMBER else root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    return paths


def tree(root: Path) -> dict[str, tuple[bytes | None, int, int, int]]:
    """Every file and directory with its content, mode and owner."""
    found = {}
    for path in sorted(root.rglob("*")):
        status = path.lstat()
        found[str(path.relative_to(root))] = (
            path.read_bytes() if path.is_file() else None,
            status.st_mode,
            status.st_uid,
            status.st_gid,
        )
    return found


def test_collect_takes_what_a_backup_holds_and_nothing_else(tmp_path, example_config):
    members = members_of(example_config)
    paths = unit_with(tmp_path, example_config, members)
    for stray in (
        "etc/lbwizard/rollback.json",
        "etc/lbwizard/handover.json",
        "etc/lbwizard/history/notes.txt",
        "etc/ssh/sshd_config",
    ):
        (tmp_path / stray).write_text("not in a backup\n")
    assert backup_files.collect(paths, example_config, host_keys=True) == members
    without = {n: m for n, m in members.items() if not n.startswith("etc/ssh/")}
    assert backup_files.collect(paths, example_config, host_keys=False) == without
    paths.admin_password_hash.write_text("!\n")  # a locked account: nothing to carry
    assert backup.PASSWORD_MEMBER not in backup_files.collect(paths, example_config, host_keys=False)


def configured_unit(tmp_path: Path, example_config) -> tuple[Paths, backup.Backup]:
    """A unit with its own config, history, certificate (group other than root's) and host keys, and a
    backup of another config to restore onto it."""
    own = copy.deepcopy(example_config)
    own.virtual_services[0].real_servers[0].address = "192.168.2.77"
    members = members_of(own)
    members["etc/ssh/ssh_host_rsa_key"] = (b"old rsa key\n", 0o600)
    paths = unit_with(tmp_path / "root", own, members)
    os.chown(tmp_path / "root/etc/haproxy/certs/appliance.pem", 0, 4242)
    theirs = members_of(example_config)
    theirs["etc/haproxy/certs/appliance.pem"] = (CERTIFICATE.replace(b"MIIB", b"MIIC"), 0o640)
    theirs["etc/ssh/ssh_host_ed25519_key.pub"] = (b"ssh-ed25519 AAAAnew root@lbmaster\n", 0o644)
    theirs["etc/lbwizard/history/0002.yaml"] = theirs["etc/lbwizard/appliance.yaml"]
    return paths, backup.unpack(packed(theirs))


@pytest.mark.skipif(os.geteuid() != 0, reason="owners are kept with chown (root)")
def test_a_restore_failing_after_any_step_leaves_every_file_mode_and_owner_as_it_was(tmp_path, example_config, monkeypatch):
    paths, found = configured_unit(tmp_path, example_config)
    before = tree(paths.root)
    outcomes = []
    for step in range(1, 100):
        monkeypatch.setenv(transaction.FAULT_HOOK, str(step))
        code = restoring.restore(found, paths, live=False, handover=False, echo=lambda line: None, failure=outcomes.append)
        if code == 0:
            break
        assert tree(paths.root) == before, f"a fault after step {step}"
    assert step > 10 and all("injected fault" in line for line in outcomes), outcomes
    after = tree(paths.root)
    certificate = "etc/haproxy/certs/appliance.pem"
    assert after[certificate][0] == found.members[certificate][0] and after[certificate][2:] == (0, 4242)  # its owner kept
    assert after["etc/ssh/ssh_host_ed25519_key.pub"][0] == b"ssh-ed25519 AAAAnew root@lbmaster\n"
    assert after["etc/ssh/ssh_host_rsa_key"][0] == b"old rsa key\n"  # a key the backup lacks stays
    assert after["etc/lbwizard/admin-password.hash"][0] == HASH.encode() + b"\n"


def test_the_backups_history_follows_the_units_own(tmp_path, example_config):
    paths, found = configured_unit(tmp_path, example_config)
    own = (paths.history_dir / "0001.yaml").read_text()
    assert restoring.restore(found, paths, live=False, handover=False, echo=lambda line: None) == 0
    numbers = sorted(p.name for p in paths.history_dir.iterdir())
    assert numbers == ["0001.json", "0001.yaml", "0002.json", "0002.yaml", "0003.yaml"]
    assert (paths.history_dir / "0001.yaml").read_text() == own  # the unit's own version stays, to go back to
    assert (paths.history_dir / "0003.yaml").read_bytes() == found.members["etc/lbwizard/appliance.yaml"][0]
    assert paths.appliance_yaml.read_bytes() == found.members["etc/lbwizard/appliance.yaml"][0]


def test_a_fresh_unit_gets_the_backups_numbers_and_a_version_for_a_config_history_lacks(tmp_path, example_config):
    members = members_of(example_config)
    members["etc/lbwizard/history/0007.yaml"] = members.pop("etc/lbwizard/history/0001.yaml")
    members["etc/lbwizard/history/0007.json"] = members.pop("etc/lbwizard/history/0001.json")
    changed = copy.deepcopy(example_config)
    changed.gateway = "10.0.0.1"
    members["etc/lbwizard/appliance.yaml"] = (model.dumps(changed).encode(), 0o644)  # edited after its last version
    paths = Paths(tmp_path)
    assert restoring.restore(backup.unpack(packed(members)), paths, live=False, handover=False, echo=lambda line: None) == 0
    assert sorted(p.name for p in paths.history_dir.iterdir()) == ["0007.json", "0007.yaml", "0008.json", "0008.yaml"]
    assert model.loads((paths.history_dir / "0008.yaml").read_text()) == changed
    assert json.loads((paths.history_dir / "0008.json").read_text())["by"]


def test_a_restore_lets_none_of_the_units_own_versions_go(tmp_path, example_config, monkeypatch):
    """History keeps 5 here: the unit's 3 stay, of the backup's 4 only the newest 2 come in."""
    monkeypatch.setattr(history, "KEEP", 5)
    paths, _ = configured_unit(tmp_path, example_config)
    for number in (2, 3):
        shutil.copy(paths.history_dir / "0001.yaml", paths.history_dir / f"{number:04d}.yaml")
    own = {n: history.path_of(paths, n).read_bytes() for n in (1, 2, 3)}
    members = members_of(example_config)
    for number in (2, 3, 4):
        members[f"etc/lbwizard/history/{number:04d}.yaml"] = members["etc/lbwizard/history/0001.yaml"]
    assert restoring.restore(backup.unpack(packed(members)), paths, live=False, handover=False, echo=lambda line: None) == 0
    assert history.versions(paths) == [1, 2, 3, 4, 5]
    assert {n: history.path_of(paths, n).read_bytes() for n in (1, 2, 3)} == own
    assert history.path_of(paths, 5).read_bytes() == paths.appliance_yaml.read_bytes()


def test_a_history_version_that_does_not_load_is_refused(example_config):
    members = members_of(example_config)
    members["etc/lbwizard/history/0001.yaml"] = (b"- a list\n", 0o644)
    with pytest.raises(BackupError, match=r"^history version 0001: does not load as a configuration: "):
        backup.unpack(packed(members))
    members = members_of(example_config)
    members["etc/lbwizard/history/0001.json"] = (b"not json\n", 0o644)
    with pytest.raises(BackupError, match=r"^history version 0001: its record .* is not a JSON object"):
        backup.unpack(packed(members))


def test_history_lists_a_version_that_does_not_load_and_a_rollback_to_it_is_refused(tmp_path, example_config):
    paths = unit_with(tmp_path, example_config, members_of(example_config))
    shutil.copy(paths.history_dir / "0001.yaml", paths.history_dir / "0002.yaml")
    history.path_of(paths, 1).write_bytes(b"\xff\xfe")
    rows = history.rows(paths)
    assert [r["version"] for r in rows] == [1, 2] and rows[1]["current"] and rows[1]["services"] == 1
    assert rows[0]["problem"].startswith("history version 0001 cannot be read: ") and not rows[0]["current"]
    assert "[BAD: history version 0001 cannot be read" in history.row_text(rows[0])
    with pytest.raises(model.ConfigFormatError, match=r"^version: history version 0001 cannot be read"):
        history.load(paths, 1)

"""Backups and restores attacked as a hostile administrator would (issue 35), beyond test_crafted_backups.py's
matrix: history versions named as lbctl never names them, JSON nested past Python's recursion limit, a tar
member that is sparse (a small file that reads as a terabyte), a restore fed from an endless device, a backup
that would follow a link out of the unit, a backup to standard output whose reader went away, and a restore
failing on a fresh unit. Each is refused with exit 2 and `backup: REASON`, never a traceback or a hang, and
nothing changed (the whole tree compared)."""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import socket
import stat
import struct
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from lbwizard.apply.transaction import FAULT_HOOK
from lbwizard.config import backup
from tests.cli import test_crafted_backups as crafted_backups
from tests.cli.test_answers_cli import run_wizard
from tests.cli.test_crafted_backups import CERTIFICATE, Crafted, refused, restore, whole_tree
from tests.cli.test_lbctl_dry_run import LBCTL, lbctl, ok, snapshot

# test_crafted_backups.py's unit and its backup, and a unit of its own to restore onto
source, target_template, target = crafted_backups.source, crafted_backups.target_template, crafted_backups.target

HISTORY = "etc/lbwizard/history"
DEEP = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError, not ValueError, on this


def bounded_memory() -> None:
    """The child's address space capped (4 GiB): an unbounded read fails at once instead of taking the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


def lbctl_bounded(root: Path, *args: str, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=stdin,
        preexec_fn=bounded_memory,
    )


def renamed_version(crafted: Crafted, old: int, new: str) -> None:
    """History version old (and its record) carried under the name new instead."""
    for kind in ("yaml", "json"):
        name = f"{HISTORY}/{old:04d}.{kind}"
        content = crafted.files.pop(name)
        del crafted.manifest["files"][name]
        crafted.put(f"{HISTORY}/{new}.{kind}", content)


# -- history versions named as lbctl never names them ------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["00002", "\u0660\u0660\u0660\u0662", "0000", "9" * 300, "1" + "0" * 12],
    ids=["leading_zero_past_four_digits", "arabic_indic_digits", "version_zero", "300_digits", "a_trillion"],
)
def test_a_history_member_not_named_as_lbctl_names_versions_is_refused(source, target, tmp_path, name):
    """A member matching `\\d{4,}` once reached the restore as a version whose canonical member was missing
    (KeyError traceback), or as a number whose file name is too long for the file system."""
    crafted = Crafted.of(source[1])
    renamed_version(crafted, 2, name)
    refused(target, crafted, tmp_path, f"refused: {HISTORY}/{name}.json is not a file an appliance backup holds")


def test_a_file_in_the_history_named_with_other_digits_is_not_a_version(target, tmp_path):
    """`str.isdigit()` takes superscripts, which int() does not: every history listing once failed."""
    shutil.copy(target / f"{HISTORY}/0001.yaml", target / f"{HISTORY}/\u00b2\u00b2\u00b2\u00b2.yaml")
    listed = lbctl(target, "history")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stdout + listed.stderr
    assert [line[:4] for line in listed.stdout.splitlines()] == ["0001", "0002"]
    ok(target, "backup", str(tmp_path / "unit.lbbackup"))


# -- JSON nested past the recursion limit ----------------------------------------------------------------


def test_a_manifest_nested_past_the_recursion_limit_is_damage(source, target, tmp_path, monkeypatch):
    crafted = Crafted.of(source[1])
    crafted.manifest["deep"] = "DEEP"
    text = backup.json.dumps(crafted.manifest).replace('"DEEP"', DEEP.decode())
    monkeypatch.setattr("tests.cli.test_crafted_backups.json.dumps", lambda manifest, **_: text)
    refused(target, crafted, tmp_path, f"damaged: {backup.MANIFEST} is not JSON")


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (f"{HISTORY}/0002.json", f"history version 0002: its record {HISTORY}/0002.json is not a JSON object"),
        (backup.API_TOKENS_MEMBER, f"refused: {backup.API_TOKENS_MEMBER} is not the API's token file"),
    ],
    ids=["history_record", "api_tokens"],
)
def test_a_member_nested_past_the_recursion_limit_is_refused(source, target, tmp_path, member, reason):
    crafted = Crafted.of(source[1])
    crafted.put(member, DEEP)
    refused(target, crafted, tmp_path, reason)


def test_a_record_on_the_unit_nested_past_the_recursion_limit_stops_neither_history_nor_backup(target, tmp_path):
    (target / f"{HISTORY}/0001.json").write_bytes(DEEP)
    listed = lbctl(target, "history")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stdout + listed.stderr
    made = ok(target, "backup", str(tmp_path / "unit.lbbackup"))
    assert f"left out history version 0001: its record {HISTORY}/0001.json is not a JSON object" in made.stdout


@pytest.mark.parametrize("carried", [True, False], ids=["a_member", "a_name_only_the_manifest_lists"])
def test_a_member_name_with_control_characters_reaches_the_terminal_escaped(source, target, tmp_path, carried):
    """A name carrying an escape sequence and a line of its own was printed as it is in the refusal: a backup
    could retitle the admin's terminal and forge the lines after it."""
    name = "etc/x\x1b]0;owned\x07\nbackup: restored, all good"
    crafted = Crafted.of(source[1])
    if carried:
        crafted.put(name, b"x")
    else:
        crafted.manifest["files"][name] = {"sha256": "0" * 64, "mode": 0o644}
    refused(target, crafted, tmp_path, f"refused: the member {name!r} is not a plain path")
    result = restore(target, crafted, tmp_path)
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and len(result.stdout.splitlines()) == 1


# -- what a restore reads ----------------------------------------------------------------------------------


def test_a_sparse_member_is_refused_before_it_is_read(source, target, tmp_path):
    """A PAX sparse member of no data that says it is 1 TiB: reading it once asked for a terabyte."""
    crafted = Crafted.of(source[1])
    crafted.files.pop(CERTIFICATE)
    info = tarfile.TarInfo(CERTIFICATE)
    info.pax_headers = {"GNU.sparse.map": "0,0", "GNU.sparse.size": str(2**40)}
    crafted.special[CERTIFICATE] = info
    file = tmp_path / "sparse.lbbackup"
    file.write_bytes(crafted.pack())
    before = whole_tree(target)
    result = lbctl_bounded(target, "restore", str(file))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert result.stdout.startswith(f"backup: refused: {CERTIFICATE} is a sparse file, not a plain file"), result.stdout
    assert whole_tree(target) == before


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_restore_from_an_endless_device_is_refused_without_reading_it_all(target, device):
    before = whole_tree(target)
    started = time.monotonic()
    result = lbctl_bounded(target, "restore", device)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert result.stdout.startswith("backup: "), result.stdout
    assert time.monotonic() - started < 30 and whole_tree(target) == before


def test_a_restore_from_standard_input_is_bounded(target):
    with open("/dev/zero", "rb") as endless:
        result = lbctl_bounded(target, "restore", "-", stdin=endless)
    assert result.returncode == 2 and result.stdout.startswith("backup: not a backup of this appliance"), result


def test_a_restore_that_fails_on_a_fresh_unit_leaves_it_empty(source, tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    file = tmp_path / "unit.lbbackup"
    file.write_bytes(source[1])
    failed = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(fresh), "restore", str(file)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, FAULT_HOOK: "1"},
    )
    assert failed.returncode == 1 and "every change was undone" in failed.stderr, failed.stdout + failed.stderr
    assert whole_tree(fresh) == {}


@pytest.mark.parametrize("folder", ["etc/haproxy/certs", "etc/ssh", "etc/lbwizard/pair"])
def test_a_file_where_a_restore_needs_a_folder_is_refused(source, target, tmp_path, folder):
    """A plain file where the certificates' folder goes once failed the restore half way, and its undo
    failed too ('the rollback is INCOMPLETE: ... Not a directory')."""
    if (target / folder).is_dir():
        shutil.rmtree(target / folder)
    (target / folder).write_text("a file of the admin's\n")
    refused(target, Crafted.of(source[1]), tmp_path, f"refused: {target / folder} is a file on this unit, where a restore")


# -- what a backup reads and where it writes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "make"),
    [
        (CERTIFICATE, lambda target, outside: (target / CERTIFICATE).symlink_to(outside / "shadow")),
        ("etc/ssh", lambda target, outside: (target / "etc/ssh").symlink_to(outside)),
    ],
    ids=["certificate_is_a_link", "ssh_folder_is_a_link"],
)
def test_a_backup_follows_no_link_out_of_the_unit(target, tmp_path, place, make):
    """A certificate replaced by a link to /etc/shadow once carried /etc/shadow in the backup (and a restore
    wrote it as a certificate HAProxy's group reads)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_text("root:$6$secret:20000:0:99999:7:::\n")
    (outside / "ssh_host_ed25519_key").write_text("a host's key that is not this unit's\n")
    (target / CERTIFICATE).parent.mkdir(parents=True, exist_ok=True)
    make(target, outside)
    file = tmp_path / "unit.lbbackup"
    before = whole_tree(target), whole_tree(outside)
    result = lbctl(target, "backup", str(file), "--with-host-keys")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert result.stdout.startswith(f"backup: {target / place} is a link"), result.stdout
    assert result.stdout.rstrip().endswith("nothing was written") and not file.exists()
    assert (whole_tree(target), whole_tree(outside)) == before


def test_a_file_larger_than_any_backup_is_refused_before_it_is_read(target, tmp_path):
    """A host key that is a sparse file of 1 TiB was read whole: MemoryError, or the machine's memory."""
    (target / "etc/ssh").mkdir()
    with open(target / "etc/ssh/ssh_host_ed25519_key", "wb") as huge:
        huge.truncate(2**40)
    file = tmp_path / "unit.lbbackup"
    result = lbctl_bounded(target, "backup", str(file), "--with-host-keys")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    wanted = f"backup: {target}/etc/ssh/ssh_host_ed25519_key is larger than 512 MiB, more than a backup holds"
    assert result.stdout.startswith(wanted) and not file.exists(), result.stdout


def test_a_backup_to_standard_output_whose_reader_went_away_says_so(target):
    process = subprocess.Popen(
        [*LBCTL, "--dry-run", "--root", str(target), "backup", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first byte
    errors = process.stderr.read().decode()
    assert process.wait(timeout=60) == 2 and "Traceback" not in errors, errors
    assert errors.startswith("backup: cannot write standard output: Broken pipe"), errors


# -- what the unit itself holds in its folders ---------------------------------------------------------------


def lbctl_quick(root: Path, *args: str) -> subprocess.CompletedProcess:
    """lbctl that must answer within 30 s: a command that would wait on a FIFO for ever fails the test."""
    return subprocess.run([*LBCTL, "--dry-run", "--root", str(root), *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "make", [os.mkfifo, os.mkdir, lambda path: path.symlink_to("/dev/zero")], ids=["fifo", "directory", "link_to_a_device"]
)
def test_a_version_in_the_history_that_is_no_file_stops_no_command(target, tmp_path, make):
    """A FIFO named 0003.yaml was a version: `lbctl history` and `lbctl backup` waited on it for ever. It is
    no version, and its number is not used again: the next change, which would have written through it (and
    waited on it), is version 5, past a FIFO in the place of record 0004 too."""
    make(target / f"{HISTORY}/0003.yaml")
    os.mkfifo(target / f"{HISTORY}/0004.json")  # a record of no version, where the next record would go
    listed = lbctl_quick(target, "history")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stdout + listed.stderr
    assert [line[:4] for line in listed.stdout.splitlines()] == ["0001", "0002"]
    made = lbctl_quick(target, "backup", str(tmp_path / "unit.lbbackup"))
    assert made.returncode == 0 and "2 version(s) (newest 0002)" in made.stdout, made.stdout + made.stderr
    added = lbctl_quick(target, "rs", "add", "VIP1", "192.168.2.79")
    assert added.returncode == 0 and "saved as version 5." in added.stdout, added.stdout + added.stderr


def test_a_saved_configuration_that_is_a_fifo_is_refused_not_waited_on(target, tmp_path):
    config = target / "etc/lbwizard/appliance.yaml"
    config.unlink()
    os.mkfifo(config)
    before = whole_tree(target)
    for command in (["rs", "add", "VIP1", "192.168.2.79"], ["backup", str(tmp_path / "unit.lbbackup")]):
        result = lbctl_quick(target, *command)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
        assert f"{config} is not a plain file" in result.stdout, result.stdout
    assert whole_tree(target) == before and not (tmp_path / "unit.lbbackup").exists()


@pytest.mark.parametrize(
    ("place", "make"),
    [
        ("run/lbwizard/change.holder", lambda link, outside: link.symlink_to(outside / "change.holder")),
        ("run/lbwizard", lambda link, outside: link.symlink_to(outside)),
    ],
    ids=["the_note_is_a_link", "its_folder_is_a_link"],
)
def test_the_change_lock_writes_its_holders_note_through_no_link(target, tmp_path, place, make):
    """The note saying who holds the change lock was written through a link: a root prepared by someone else
    made every dry run overwrite a file outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "change.holder").write_text("a file that is not the unit's\n")
    (target / place).parent.mkdir(parents=True, exist_ok=True)
    make(target / place, outside)
    before = whole_tree(outside)
    ok(target, "rs", "add", "VIP1", "192.168.2.79")
    assert whole_tree(outside) == before


def test_a_backup_to_standard_output_that_is_refused_writes_nothing_there(target, tmp_path):
    """Standard output holds the backup (`lbctl backup - > unit.lbbackup`): a refusal printed there became
    the file's content."""
    (target / CERTIFICATE).parent.mkdir(parents=True, exist_ok=True)
    (target / CERTIFICATE).symlink_to("/etc/shadow")
    result = subprocess.run([*LBCTL, "--dry-run", "--root", str(target), "backup", "-"], capture_output=True, timeout=60)
    assert result.returncode == 2 and result.stdout == b"", result.stdout
    assert result.stderr.decode().startswith(f"backup: {target / CERTIFICATE} is a link"), result.stderr


@pytest.mark.parametrize(
    "place",
    [CERTIFICATE, "etc/haproxy/haproxy.cfg", "etc/keepalived/keepalived.conf", "etc/ssh/ssh_host_ed25519_key", "etc/hostname"],
)
def test_no_backup_replaces_a_file_the_unit_runs_on(target, place):
    """`lbctl backup /etc/haproxy/certs/appliance.pem` replaced HAProxy's certificate with the backup, and every
    later change failed on haproxy -c."""
    (target / place).parent.mkdir(parents=True, exist_ok=True)
    if not (target / place).exists():
        (target / place).write_text("the unit's own\n")
    before = whole_tree(target)
    result = lbctl(target, "backup", str(target / place))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert result.stdout.startswith(f"backup: {target / place} is ") and "the unit's own" in result.stdout, result.stdout
    assert result.stdout.rstrip().endswith("nothing was written") and whole_tree(target) == before


def test_a_backup_to_a_closed_standard_output_writes_no_file_named_dash(target, tmp_path):
    """With standard output closed (`lbctl backup - >&-`), FILE "-" must not become a file named "-" in the
    working directory, holding the unit's secrets."""
    result = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(target), "backup", "-"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        timeout=60,
        text=True,
        close_fds=True,
        preexec_fn=lambda: os.close(1),
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("backup: cannot write standard output: it is closed"), result.stderr
    assert not (tmp_path / "-").exists()


def test_a_restore_from_a_closed_standard_input_is_refused(target):
    before = whole_tree(target)
    result = subprocess.run(
        [*LBCTL, "--dry-run", "--root", str(target), "restore", "-"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        text=True,
        preexec_fn=lambda: os.close(0),
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert result.stdout.startswith("backup: cannot read standard input: it is closed"), result.stdout
    assert whole_tree(target) == before


def unix_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))


@pytest.mark.parametrize(
    "make",
    [unix_socket, os.mkfifo, lambda path: os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))],
    ids=["socket", "fifo", "device"],
)
def test_a_host_key_that_is_no_file_is_not_carried_and_not_opened(target, tmp_path, make):
    """A socket where a host key goes ended the backup in an OSError traceback (ENXIO when opened)."""
    (target / "etc/ssh").mkdir()
    make(target / "etc/ssh/ssh_host_ed25519_key")
    file = tmp_path / "unit.lbbackup"
    made = lbctl_quick(target, "backup", str(file), "--with-host-keys")
    assert made.returncode == 0 and "Traceback" not in made.stderr, made.stdout + made.stderr
    assert backup.unpack(file.read_bytes()).host_keys == []


def history_is_a_file(root: Path) -> None:
    shutil.rmtree(root / HISTORY)
    (root / HISTORY).write_text("a file of the admin's\n")


def test_a_restore_onto_a_history_that_is_a_file_is_refused(source, target, tmp_path):
    """A backup with no version of its own (only the configuration) once failed half way there, and its undo
    failed too: exit 4, 'the rollback is INCOMPLETE ... Not a directory'."""
    history_is_a_file(target)
    crafted = Crafted.of(source[1])
    for name in [n for n in crafted.files if n.startswith(f"{HISTORY}/")]:
        del crafted.files[name], crafted.manifest["files"][name]
    refused(target, crafted, tmp_path, f"refused: {target / HISTORY} is a file on this unit, where a restore needs a folder")


def test_a_change_onto_a_history_that_is_a_file_is_undone_whole(target):
    history_is_a_file(target)
    before = whole_tree(target)
    failed = lbctl(target, "rs", "add", "VIP1", "192.168.2.79")
    assert failed.returncode == 1 and "INCOMPLETE" not in failed.stderr, failed.stdout + failed.stderr
    assert "every change was undone" in failed.stderr and whole_tree(target) == before


def gzip_bomb(member_size: int) -> bytes:
    """A backup in lbctl's own gzip framing whose manifest member declares and holds member_size bytes of
    spaces: well under a MiB on disk."""
    info = tarfile.TarInfo(backup.MANIFEST)
    info.size = member_size
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc, length, body = 0, 0, []
    chunks = [info.tobuf(format=tarfile.PAX_FORMAT), *[b" " * 2**20] * (member_size // 2**20), b"\0" * 2048]
    for chunk in chunks:
        crc, length = zlib.crc32(chunk, crc), length + len(chunk)
        body.append(compressor.compress(chunk))
    rest = b"".join([*body, compressor.flush(), struct.pack("<II", crc, length & 0xFFFFFFFF)])
    header = backup._GZIP_HEADER.pack(backup._GZIP_MAGIC, 0, *backup._GZIP_FIXED, hashlib.sha256(rest).digest())
    return header + rest


PEAK_RSS = (  # the exit code and peak resident memory (KiB) of the command in argv
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def test_a_gzip_bomb_is_refused_by_its_members_size_unread(tmp_path, answers):
    """300 MiB of one member in 300 KiB of file: unpacked whole in memory, then copied and decoded, it took
    1.6 GB (the API's restore check too, on a 1.5 GB unit). Now the tar is spooled (memory, then disk) and a
    member larger than any file a backup holds is refused by its header before it is read."""
    result, root = run_wizard(tmp_path, answers["two_arm_nat"])
    assert result.returncode == 0, result.stdout + result.stderr
    bomb = tmp_path / "bomb.lbbackup"
    bomb.write_bytes(gzip_bomb(300 * 2**20))
    assert bomb.stat().st_size < 2**20
    before = snapshot(root)
    measured = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *LBCTL, "--dry-run", "--root", str(root), "restore", str(bomb)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    code, peak_kib = (int(word) for word in measured.stdout.split()[-2:])
    assert code == 2, measured.stdout + measured.stderr
    assert "backup: refused: lb-appliance-backup.json is larger than any file a backup holds" in measured.stdout
    assert peak_kib < 200 * 1024, f"lbctl restore of the bomb peaked at {peak_kib} KiB"
    assert snapshot(root) == before

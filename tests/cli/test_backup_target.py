"""Where `lbctl backup FILE` writes: through a FIFO and a link to a file; never over a device, a directory or
the unit's own configuration, each refusal exit 2 with `backup: REASON`, no traceback, nothing changed."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from lbwizard.config import backup
from tests.cli.test_answers_cli import run_wizard
from tests.cli.test_crafted_backups import whole_tree
from tests.cli.test_lbctl_dry_run import LBCTL, lbctl, ok
from tests.conftest import TWO_ARM_NAT


@pytest.fixture(scope="module")
def unit(tmp_path_factory) -> Path:
    result, root = run_wizard(tmp_path_factory.mktemp("unit"), TWO_ARM_NAT)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_a_backup_goes_through_a_fifo_to_its_reader(unit, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with open(tmp_path / "read", "wb") as out:
        reader = subprocess.Popen(["cat", str(fifo)], stdout=out)
        made = ok(unit, "backup", str(fifo))
        assert reader.wait(timeout=30) == 0
    assert backup.unpack((tmp_path / "read").read_bytes()).versions == [1]
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and f"{fifo}: the backup of lbmaster" in made.stdout


def test_a_backup_goes_through_a_link_to_the_file_it_names(unit, tmp_path):
    (tmp_path / "kept").mkdir()
    real = tmp_path / "kept/unit.lbbackup"
    real.write_text("an older backup\n")
    link = tmp_path / "latest.lbbackup"
    link.symlink_to(real)
    ok(unit, "backup", str(link))
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert backup.unpack(real.read_bytes()).versions == [1] and real.stat().st_mode & 0o777 == 0o600


def character_device(path: Path) -> Path:
    """A node like /dev/full (1, 7), where a dry run once left a regular file."""
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp, unit: character_device(tmp / "full"), "{file} is a device or a socket, not a file or a FIFO"),
        (lambda tmp, unit: (tmp / "a-directory").mkdir() or tmp / "a-directory", "{file} is a directory; name a file in it"),
        (
            lambda tmp, unit: (tmp / "dangling").symlink_to(tmp / "nowhere") or tmp / "dangling",
            "{file} is a link to {tmp}/nowhere, which does not exist",
        ),
        (lambda tmp, unit: tmp / "no/such/dir/unit.lbbackup", "the directory {tmp}/no/such/dir does not exist"),
        (
            lambda tmp, unit: unit / "etc/lbwizard/appliance.yaml",
            "{file} is in {unit}/etc/lbwizard, the unit's own configuration; write it elsewhere",
        ),
        (
            lambda tmp, unit: unit / "etc/lbwizard/history/0002.yaml",
            "{file} is in {unit}/etc/lbwizard, the unit's own configuration; write it elsewhere",
        ),
        (
            lambda tmp, unit: (tmp / "config").symlink_to(unit / "etc/lbwizard/appliance.yaml") or tmp / "config",
            "{file} is in {unit}/etc/lbwizard, the unit's own configuration; write it elsewhere",
        ),
        (
            lambda tmp, unit: unit / "etc/lbwizard",
            "{file} is a directory; name a file in it",
        ),
    ],
    ids=[
        "device",
        "directory",
        "dangling_link",
        "missing_directory",
        "live_config",
        "new_file_in_history",
        "link_to_live_config",
        "config_directory",
    ],
)
def test_no_backup_replaces_a_device_a_directory_or_the_units_configuration(unit, tmp_path, make, reason):
    file = make(tmp_path, unit)
    before = whole_tree(unit), whole_tree(tmp_path)
    refused = lbctl(unit, "backup", str(file))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stdout + refused.stderr
    wanted = "backup: " + reason.format(file=file, tmp=tmp_path, unit=unit)
    assert refused.stdout.startswith(wanted) and refused.stdout.rstrip().endswith("nothing was written"), refused.stdout
    assert (whole_tree(unit), whole_tree(tmp_path)) == before


def test_the_hosts_own_configuration_folder_is_refused_from_a_dry_run_too(unit):
    refused = lbctl(unit, "backup", "/etc/lbwizard/appliance.yaml")
    assert refused.returncode == 2 and "the unit's own configuration" in refused.stdout, refused.stdout + refused.stderr


def test_a_backup_to_standard_output_is_the_file(unit, tmp_path):
    made = subprocess.run([*LBCTL, "--dry-run", "--root", str(unit), "backup", "-"], capture_output=True, timeout=120)
    assert made.returncode == 0 and backup.unpack(made.stdout).versions == [1]

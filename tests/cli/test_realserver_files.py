"""/etc/lbwizard/realservers as an admin shares it with lbwizard (dry runs): a change writes and removes only
the scripts lbwizard wrote (the admin's notes and tools stay, byte for byte), a change that fails at any step
puts back exactly what was there (bytes, not text), and a folder that is a link is refused with nothing
outside the root touched."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lbwizard.apply.state import tracked_files
from lbwizard.apply.transaction import FAULT_HOOK
from lbwizard.config.paths import Paths
from tests.cli.test_answers_cli import run_wizard
from tests.cli.test_crafted_backups import whole_tree
from tests.cli.test_lbctl_dry_run import LBCTL, lbctl, ok
from tests.conftest import TWO_ARM_NAT

SCRIPTS = "etc/lbwizard/realservers"
ADMINS = {
    "notes.txt": b"rs1 is the rack at the back\n",
    "check-all.sh": b"#!/bin/sh\nfor h in rs1 rs2; do ping -c1 $h; done\n",
    "tool": bytes(range(256)),  # a binary, not UTF-8
    "old/RIP9.sh": b"# an old script the admin keeps\n",
}


@pytest.fixture
def unit(tmp_path) -> Path:
    result, root = run_wizard(tmp_path, TWO_ARM_NAT)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def put_admins_files(root: Path) -> None:
    for name, content in ADMINS.items():
        (root / SCRIPTS / name).parent.mkdir(parents=True, exist_ok=True)
        (root / SCRIPTS / name).write_bytes(content)
    (root / SCRIPTS / "check-all.sh").chmod(0o750)


def ours(root: Path) -> list[str]:
    return sorted(p.name for p in (root / SCRIPTS).iterdir() if p.is_file() and b"managed by lbwizard" in p.read_bytes())


def test_changes_remove_only_the_scripts_lbwizard_wrote(unit):
    put_admins_files(unit)
    admins = {
        name: item
        for name, item in whole_tree(unit / SCRIPTS).items()
        if name.split("/")[0] in {"notes.txt", "check-all.sh", "tool", "old"}
    }
    first = ours(unit)
    ok(unit, "rs", "add", "VIP1", "192.168.2.51")
    assert len(ours(unit)) == 2 * len(first)
    ok(unit, "rs", "remove", "VIP1", "RIP1")
    ok(unit, "rs", "remove", "VIP1", "RIP2")
    assert ours(unit) == []
    after = whole_tree(unit / SCRIPTS)
    assert {name: after.get(name) for name in admins} == admins


def test_a_change_failing_at_any_step_puts_back_exactly_what_was_there(unit):
    """A script of lbwizard's the admin annotated in Latin-1 is replaced, then removed, by changes that fail."""
    put_admins_files(unit)
    script = next(p for p in (unit / SCRIPTS).iterdir() if p.suffix == ".sh" and p.name != "check-all.sh")
    script.write_bytes(script.read_bytes() + "# vérifié par l'équipe\n".encode("latin-1"))
    before = whole_tree(unit)
    command = [*LBCTL, "--dry-run", "--root", str(unit), "rs", "remove", "VIP1", "RIP1"]
    for step in range(1, 60):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, FAULT_HOOK: str(step)})
        if result.returncode == 0:
            break
        assert f"injected fault after step {step}" in result.stderr and "INCOMPLETE" not in result.stderr, result.stderr
        assert whole_tree(unit) == before, f"a fault after step {step}"
    assert step > 5 and not script.exists()


def test_a_scripts_folder_that_is_a_link_is_refused_and_nothing_outside_is_touched(unit, tmp_path):
    outside = tmp_path / "usr-local-sbin"
    outside.mkdir()
    (outside / "lbwizard-vrrp-state").write_bytes(b"#!/bin/sh\n# the admin's\n")
    (outside / "RIP1.sh").write_bytes(b"#!/bin/sh\n# managed by lbwizard: setup of real server RIP1 (an old copy)\n")
    for path in (unit / SCRIPTS).iterdir():
        path.unlink()
    (unit / SCRIPTS).rmdir()
    (unit / SCRIPTS).symlink_to(outside)
    before, outside_before = whole_tree(unit), whole_tree(outside)
    refused = lbctl(unit, "rs", "add", "VIP1", "192.168.2.51")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stdout + refused.stderr
    assert (
        f"{unit / SCRIPTS} is a link (to {outside}): the real-server scripts go only into a folder of lbwizard's own"
        in refused.stderr
    )
    assert (whole_tree(unit), whole_tree(outside)) == (before, outside_before)


def test_a_file_of_the_admins_where_a_script_goes_is_refused(unit):
    name = ours(unit)[0]
    (unit / SCRIPTS / name).write_bytes(b"#!/bin/sh\necho the admin's own\n")
    before = whole_tree(unit)
    refused = lbctl(unit, "rs", "set", "VIP1", "RIP1", "--weight", "2")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{unit / SCRIPTS / name} is not a script lbwizard wrote (no 'managed by lbwizard' line)" in refused.stderr
    assert whole_tree(unit) == before


def test_the_rollback_record_pictures_only_lbwizards_scripts(unit):
    """lbwizard rollback puts back and removes what tracked_files lists: never the admin's files."""
    put_admins_files(unit)
    tracked = {str(p.relative_to(unit)) for p in tracked_files(Paths(unit))}
    assert {f"{SCRIPTS}/{name}" for name in ours(unit)} <= tracked
    assert not {f"{SCRIPTS}/{name}" for name in ADMINS} & tracked


def test_two_servers_whose_script_files_collided_get_their_own_and_lbctl_prints_the_same(unit):
    """RIP1 at .50 and at .51 made the second one's file RIP1-192.168.2.51, which is also the whole name
    of the server at .52: one file for two servers, and one of them ran the other's script."""
    ok(unit, "vs", "add", "VIP2", "--address", "10.0.0.21", "--port", "8080")
    ok(unit, "rs", "add", "VIP2", "192.168.2.51:8080", "--name", "RIP1")
    files_before = {p.name: p.read_bytes() for p in (unit / SCRIPTS).iterdir()}
    ok(unit, "vs", "add", "VIP3", "--address", "10.0.0.21", "--port", "8081")
    ok(unit, "rs", "add", "VIP3", "192.168.2.52:8081", "--name", "RIP1-192.168.2.51")
    files = {p.name: p.read_bytes() for p in (unit / SCRIPTS).iterdir()}
    assert files_before.items() <= files.items()  # stable: another server's arrival renames nothing
    by_address = {"192.168.2.50": "RIP1", "192.168.2.51": "RIP1", "192.168.2.52": "RIP1-192.168.2.51"}
    assert sorted(files) == sorted(f"{n}-{a}{end}" for a, n in by_address.items() for end in (".sh", ".ps1", "-2003.cmd"))
    for address, name in by_address.items():
        printed = ok(unit, "realserver-script", address).stdout
        assert printed.encode() == files[f"{name}-{address}.sh"]
        assert f"# managed by lbwizard: setup of real server {name} ({address}) for" in printed
    for ambiguous in ("RIP1", "RIP1-192.168.2.51"):
        refused = lbctl(unit, "realserver-script", ambiguous)
        assert refused.returncode == 2 and refused.stdout.startswith(f"rs: '{ambiguous}' names more than one real server: ")
        assert "give its address" in refused.stdout
    assert (
        ok(unit, "realserver-script", "RIP1-192.168.2.51-192.168.2.52").stdout.encode()
        == files["RIP1-192.168.2.51-192.168.2.52.sh"]
    )

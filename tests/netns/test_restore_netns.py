"""lbctl restore, live, in the namespace lab: a unit at one configuration (HAProxy running on its files) is
restored from the backup of another. A fault injected after each step of the restore leaves the whole
picture (the namespace, every file under the root with its mode, its directories, HAProxy's servers) as
it was; the restore let run to its end leaves the backup's addresses, firewall and daemon files live, and
HAProxy started on them presents the backup's certificate. `lbwizard rollback` then puts back the
certificates, host keys and password with the rest; and a power cut after any step of a restore boots
exactly the old configuration with the old set, or the new one with the new set."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from itertools import count
from pathlib import Path

import pytest

from lbwizard.apply.transaction import FAULT_HOOK, PAUSE_HOOK
from lbwizard.config import model
from lbwizard.config.password import hash_password
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import Lab, finish, lbwizard
from tests.netns.test_apply_netns import write_config
from tests.netns.test_power_cut_matrix import WEB, Unit, mismatch, paused, picture

CERTIFICATE = "etc/haproxy/certs/appliance.pem"
HOST_KEY = "etc/ssh/ssh_host_ed25519_key"


def backup_of_another_unit(lab: Lab, tmp_path: Path) -> tuple[Path, Path]:
    """A backup (with host keys) of a unit made in a dry run: eth0 at 10.0.0.25, VIP1's server moved,
    the lab's WEB service and a TLS service SHOP (the role makes its certificate). (file, that root)"""
    where = tmp_path / "other"
    where.mkdir()
    config = model.loads(
        Path(write_config(where, TWO_ARM_NAT | {"eth0_address": "10.0.0.25", "real_server": "192.168.2.60"})).read_text()
    )
    shop = dataclasses.replace(WEB, name="SHOP", port=443, tls=True)
    config.virtual_services += [dataclasses.replace(WEB, address="10.0.0.25"), dataclasses.replace(shop, address="10.0.0.25")]
    (where / "appliance.yaml").write_text(model.dumps(config))
    root = where / "root"
    made = lbwizard(lab, "apply", "--config", str(where / "appliance.yaml"), "--dry-run", "--root", str(root))
    assert made.returncode == 0, made.stdout + made.stderr
    (root / "etc/ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / HOST_KEY)], check=True)
    (root / "etc/lbwizard/admin-password.hash").write_text(hash_password("another unit's password") + "\n")
    file = tmp_path / "other.lbbackup"
    backed_up = lbctl(lab, root, "--dry-run", "backup", str(file), "--with-host-keys")
    assert backed_up.returncode == 0, backed_up.stdout + backed_up.stderr
    return file, root


def lbctl(lab: Lab, root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = ["ip", "netns", "exec", lab.ns("lb"), sys.executable, "-m", "lbwizard.manage.lbctl", "--root", str(root), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def directories(root: Path) -> list[str]:
    """The directories under root (outside run/): a restore that made one must take it away again."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and p.relative_to(root).parts[0] != "run")


def fingerprint(lab: Lab, pem: Path | None = None) -> str:
    """The SHA-256 fingerprint of a PEM's certificate, or of the one 10.0.0.25:443 presents to the client."""
    if pem is not None:
        return lab.run("lb", "openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256").stdout.strip()
    served = "openssl s_client -connect 10.0.0.25:443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    return lab.run("client", "sh", "-c", served).stdout.strip()


@pytest.mark.long
def test_a_restore_cut_by_a_fault_after_any_step_leaves_all_as_it_was_and_a_whole_one_makes_the_backup_live(lab, tmp_path):
    file, other = backup_of_another_unit(lab, tmp_path)
    unit = Unit(lab, tmp_path)
    dirs = directories(unit.root)
    for step in count(1):
        result = lbctl(lab, unit.root, "restore", str(file), env={FAULT_HOOK: str(step)})
        if result.returncode == 0:
            break
        assert result.returncode == 1 and f"injected fault after step {step}" in result.stderr, result.stdout + result.stderr
        assert "INCOMPLETE" not in result.stderr, result.stderr  # the restore's own proof against its picture
        now = picture(lab, unit.root)
        assert now == unit.old, f"a fault after step {step} left {mismatch(now, unit.old)}"
        assert directories(unit.root) == dirs, f"a fault after step {step}"
    assert step > 20, result.stdout
    assert "saved as version 2." in result.stdout  # the backup's version 1 follows the unit's own
    root = unit.root
    addresses = lab.run("lb", "ip", "-4", "-o", "addr").stdout
    assert "eth0    inet 10.0.0.25/24" in addresses and "10.0.0.21" not in addresses
    assert "--dport 443 -j ACCEPT" in lab.run("lb", "iptables-legacy-save", "-t", "filter").stdout
    assert "real_server 192.168.2.60 80" in (root / "etc/keepalived/keepalived.conf").read_text()
    assert f"bind 10.0.0.25:443 ssl crt {root / CERTIFICATE}" in (root / "etc/haproxy/haproxy.cfg").read_text()
    for name in (CERTIFICATE, HOST_KEY, f"{HOST_KEY}.pub", "etc/lbwizard/appliance.yaml", "etc/lbwizard/admin-password.hash"):
        assert (root / name).read_bytes() == (other / name).read_bytes(), name
    unit.power_off_haproxy()  # the appliance's hand-over reloads it; here it is started on the restored files
    unit.start_haproxy()
    assert fingerprint(lab) == fingerprint(lab, other / CERTIFICATE) != ""


def without_history(now: dict) -> dict:
    """A picture without the history's versions: a rollback applies an old state, and history only grows."""
    files = {name: item for name, item in now["files"].items() if not name.startswith("etc/lbwizard/history/")}
    return now | {"files": files}


def test_a_rollback_after_a_restore_puts_back_the_certificates_keys_and_password(lab, tmp_path):
    file, other = backup_of_another_unit(lab, tmp_path)
    unit = Unit(lab, tmp_path)
    (unit.root / "etc/ssh").mkdir(parents=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(unit.root / HOST_KEY)], check=True)
    own_key = (unit.root / HOST_KEY).read_bytes()
    old = picture(lab, unit.root)
    restored = lbctl(lab, unit.root, "restore", str(file))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    for name in (CERTIFICATE, HOST_KEY, "etc/lbwizard/admin-password.hash"):
        assert (unit.root / name).read_bytes() == (other / name).read_bytes(), name
    back = lbwizard(lab, "rollback", "--root", str(unit.root))
    assert back.returncode == 0, back.stdout + back.stderr
    assert f"put back {unit.root / HOST_KEY} as it was before the restore" in back.stdout
    assert not (unit.root / CERTIFICATE).exists()  # the unit had none: the backup's is gone again
    assert (unit.root / HOST_KEY).read_bytes() == own_key
    now = picture(lab, unit.root)
    assert without_history(now) == without_history(old), mismatch(without_history(now), without_history(old))


def restore_started(lab: Lab, root: Path, file: Path, step: int) -> subprocess.Popen:
    command = ["ip", "netns", "exec", lab.ns("lb"), sys.executable, "-m", "lbwizard.manage.lbctl", "--root", str(root)]
    return subprocess.Popen(
        [*command, "restore", str(file)],
        env={**os.environ, PAUSE_HOOK: str(step)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.long
def test_a_power_cut_after_any_step_of_a_restore_boots_the_old_or_the_new_unit_whole(lab, tmp_path):
    file, _ = backup_of_another_unit(lab, tmp_path)
    unit = Unit(lab, tmp_path)
    whole = lbctl(lab, unit.root, "restore", str(file))
    assert whole.returncode == 0, whole.stdout + whole.stderr
    steps = len([line for line in whole.stdout.splitlines() if line.startswith("- ") and not line.startswith("- hand-over")])
    new = unit.after_power_cut()
    assert new != unit.old and CERTIFICATE in new["files"] and CERTIFICATE not in unit.old["files"]
    outcomes = []
    for step in range(1, steps + 1):
        unit.reset()
        process = restore_started(lab, unit.root, file, step)
        paused(process, step)
        process.send_signal(signal.SIGKILL)
        finish(process, f"restore: power cut after step {step}")
        now = unit.after_power_cut()
        assert now in (unit.old, new), f"a cut after step {step}: {mismatch(now, unit.old)} / {mismatch(now, new)}"
        outcomes.append("new" if now == new else "old")
    assert outcomes[0] == "old" and outcomes[-1] == "new" and outcomes.count("new") == 1, outcomes

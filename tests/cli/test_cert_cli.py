"""lbctl cert (issue 39), run as an admin runs it on the quick start's example with a layer-7 TLS service: the
store's files, HAProxy's certificates in order, each refusal by its option with nothing changed, a rollback
that finds the content its version named, a backup and restore that carry the store; no private key
anywhere but the store."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from lbwizard.config import certstore, model
from tests.certificates import chain, issue
from tests.cli.test_lbctl_dry_run import haproxy, lbctl, ok, root, saved, snapshot  # noqa: F401 - root is a fixture
from tests.unit.test_certificates import REFUSED

SHOP = chain("www.example.test", "example.test")
API = chain("api.example.test")


@pytest.fixture
def unit(root):  # noqa: F811
    ok(root, "vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes")
    return root


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "pem"
    folder.mkdir()
    for name, data in {
        "shop.pem": SHOP.pem(),
        "api.crt": API.leaf.cert_pem,
        "api.key": API.leaf.key_pem,
        "api.chain": API.intermediate.cert_pem,
        **{f"{case}.pem": data for case, (data, _message) in REFUSED.items()},
    }.items():
        (folder / name).write_bytes(data)
    return folder


def store_file(unit_root, name: str):
    found = certstore.find(saved(unit_root), name)
    return unit_root / "etc/lbwizard/certificates" / f"{found.fingerprint}.pem"


def test_two_certificates_on_one_service_the_first_the_default_and_none_goes_back_to_the_units_own(unit, files):
    out = ok(unit, "cert", "add", "shop", "--pem", str(files / "shop.pem")).stdout
    assert "added certificate shop (www.example.test, example.test, until " in out
    ok(
        unit,
        "cert",
        "add",
        "api",
        "--cert",
        str(files / "api.crt"),
        "--key",
        str(files / "api.key"),
        "--chain",
        str(files / "api.chain"),
    )
    ok(unit, "vs", "set", "SHOP", "--certificates", "shop,api")
    shop, api = store_file(unit, "shop"), store_file(unit, "api")
    assert f"bind 10.0.0.21:443 ssl crt {shop} crt {api}\n" in haproxy(unit)
    assert shop.read_bytes() == SHOP.pem() and (shop.stat().st_mode & 0o777) == 0o640
    listed = json.loads(ok(unit, "cert", "list", "--json").stdout)
    assert [(c["name"], c["names"], c["used_by"]) for c in listed] == [
        ("shop", ["www.example.test", "example.test"], ["SHOP"]),
        ("api", ["api.example.test"], ["SHOP"]),
    ]
    assert 89 * 86400 < listed[0]["seconds_left"] <= 90 * 86400 and listed[0]["issuer"] == "CN=Test Intermediate"
    shown = ok(unit, "cert", "show", "api").stdout
    assert "names: ['api.example.test']" in shown and "used_by: ['SHOP']" in shown and "PRIVATE" not in shown
    refused = lbctl(unit, "cert", "remove", "api")
    assert (refused.returncode, refused.stdout) == (
        2,
        "name: certificate api is used by SHOP; give those services another first (lbctl vs set SHOP --certificates ...)\n",
    )
    ok(unit, "vs", "set", "SHOP", "--certificates", "none")
    assert "bind 10.0.0.21:443 ssl crt " + str(unit / "etc/haproxy/certs/appliance.pem") in haproxy(unit)
    ok(unit, "cert", "remove", "api")
    assert [c.name for c in saved(unit).certificates] == ["shop"]
    assert api.exists()  # a kept version names it: a rollback finds it
    for path in (unit / "etc/lbwizard").rglob("*"):
        if path.is_file() and "certificates" not in path.parts:
            assert b"PRIVATE KEY" not in path.read_bytes(), path


MISUSES = [
    (["--pem", "/dev/zero"], "--pem: /dev/zero is larger than 1024 KiB"),
    (["--pem", "/"], "--pem: / is a directory, not a file"),
    (["--pem", "/nonexistent.pem"], "--pem: cannot read /nonexistent.pem: No such file or directory"),
    (["--cert", "CERT"], "--key: give both --cert FILE and --key FILE (or one --pem FILE)"),
    ([], "--pem: give the certificate: --pem FILE, or --cert FILE --key FILE [--chain FILE]"),
    (["--pem", "SHOP", "--key", "KEY"], "--key: --pem holds the certificate, chain and key already; give --pem alone"),
    (["--cert", "CERT", "--key", "CERT", "--chain", "CHAIN"], "--key: holds a certificate (line 1); --key takes the private key"),
]


def test_each_refused_file_and_misuse_is_one_line_naming_the_option_and_nothing_changes(unit, files):
    """Every case of the unit tier's table (wrong key, reversed chain, expired, a block of another kind, ...)
    through the command, and the ways to call it wrongly: exit 2, one line, the tree as it was."""
    before = snapshot(unit)
    cases = [(["--pem", str(files / f"{case}.pem")], message) for case, (_data, message) in REFUSED.items()]
    swap = {"CERT": files / "api.crt", "KEY": files / "api.key", "CHAIN": files / "api.chain", "SHOP": files / "shop.pem"}
    cases += [([str(swap.get(a, a)) for a in args], line) for args, line in MISUSES]
    for args, line in cases:
        result = lbctl(unit, "cert", "add", "shop", *args)
        assert result.returncode == 2 and len(result.stdout.splitlines()) == 1, (args, result.stdout, result.stderr)
        assert result.stdout.split(": ", 1)[0] in ("--pem", "--cert", "--key", "--chain"), result.stdout
        assert line in result.stdout and "Traceback" not in result.stderr, (args, result.stdout)
    named = lbctl(unit, "cert", "add", "bad name", "--pem", str(files / "shop.pem"))
    assert (named.returncode, named.stdout) == (2, "name: 'bad name' is not a usable name; " + model.NAME_RULE + "\n")
    assert snapshot(unit) == before


def test_replace_swaps_the_content_a_rollback_finds_the_old_one_and_the_store_lets_go_of_no_kept_file(unit, files):
    ok(unit, "cert", "add", "shop", "--pem", str(files / "shop.pem"))
    ok(unit, "vs", "set", "SHOP", "--certificates", "shop")
    old = store_file(unit, "shop")
    renewed = issue("www.example.test", SHOP.intermediate, names=("www.example.test",))
    (files / "renewed.pem").write_bytes(renewed.cert_pem + SHOP.intermediate.cert_pem + renewed.key_pem)
    refused = lbctl(unit, "cert", "add", "shop", "--pem", str(files / "renewed.pem"))
    assert refused.returncode == 2 and "--replace swaps its content" in refused.stdout
    ok(unit, "cert", "add", "shop", "--pem", str(files / "renewed.pem"), "--replace")
    new = store_file(unit, "shop")
    assert new != old and old.exists() and f"crt {new}\n" in haproxy(unit)
    ok(unit, "rollback")
    assert store_file(unit, "shop") == old and f"crt {old}\n" in haproxy(unit) and new.exists()


def test_a_backup_carries_the_store_and_a_restore_brings_it_back(unit, files, tmp_path, answers):
    from tests.cli.test_answers_cli import run_wizard

    ok(unit, "cert", "add", "shop", "--pem", str(files / "shop.pem"))
    ok(unit, "vs", "set", "SHOP", "--certificates", "shop")
    made = tmp_path / "unit.lbbackup"
    ok(unit, "backup", str(made))
    (tmp_path / "other").mkdir()
    result, other = run_wizard(tmp_path / "other", answers["two_arm_nat"])
    assert result.returncode == 0
    ok(other, "restore", str(made))
    assert store_file(other, "shop").read_bytes() == SHOP.pem() and f"crt {store_file(other, 'shop')}\n" in haproxy(other)
    assert dataclasses.asdict(saved(other)) == dataclasses.asdict(saved(unit))
    assert isinstance(saved(other).certificates[0], model.Certificate)


# -- a power cut during a change that writes a certificate ---------------------------------------------------


def store_state(unit_root) -> tuple[str, bool]:
    """The content appliance.yaml names for shop, and whether the store has that file whole."""
    fingerprint = certstore.find(saved(unit_root), "shop").fingerprint
    path = unit_root / "etc/lbwizard/certificates" / f"{fingerprint}.pem"
    return fingerprint, path.is_file() and certstore.fingerprint_of(path.read_bytes()) == fingerprint


def test_a_replace_cut_by_a_power_cut_after_any_step_boots_the_old_store_or_the_new_whole(unit, files, tmp_path):
    import shutil
    import signal
    import subprocess
    import time

    from lbwizard.apply.transaction import PAUSE_HOOK
    from lbwizard.config import history
    from lbwizard.config.paths import Paths
    from lbwizard.manage.boot import leftovers
    from tests.cli.test_lbctl_dry_run import LBCTL

    ok(unit, "cert", "add", "shop", "--pem", str(files / "shop.pem"))
    ok(unit, "vs", "set", "SHOP", "--certificates", "shop")
    renewed = issue("www.example.test", SHOP.intermediate, names=("www.example.test",))
    (files / "renewed.pem").write_bytes(renewed.cert_pem + SHOP.intermediate.cert_pem + renewed.key_pem)
    replace = ["cert", "add", "shop", "--pem", str(files / "renewed.pem"), "--replace"]
    old = store_state(unit)
    whole = tmp_path / "whole"
    shutil.copytree(unit, whole, symlinks=True)
    done = ok(whole, *replace)
    new = store_state(whole)
    assert new[0] != old[0] and old[1] and new[1]
    steps = len([line for line in done.stdout.splitlines() if line.startswith("- ") and not line.startswith("- hand-over")])
    outcomes = []
    for step in range(1, steps + 1):
        cut = tmp_path / f"cut{step}"
        shutil.copytree(unit, cut, symlinks=True)
        process = subprocess.Popen(
            [*LBCTL, "--dry-run", "--root", str(cut), *replace],
            env={**os.environ, PAUSE_HOOK: str(step)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while f"paused after step {step}" not in (line := process.stderr.readline()):
            assert line and time.monotonic() < deadline, f"the change never paused after step {step}"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        paths = Paths(cut)  # the boot's file work (manage/boot.py): half writes gone, an unsaved version too
        for temporary in leftovers(paths):
            temporary.unlink()
        for number in history.unfinished(paths):
            history.path_of(paths, number).unlink()
            history.record_of(paths, number).unlink(missing_ok=True)
        now = store_state(cut)
        assert now in (old, new), f"a power cut after step {step}: {now}"
        assert not [p for p in (cut / "etc/lbwizard/certificates").iterdir() if p.name.startswith(".")]
        outcomes.append("new" if now == new else "old")
        shutil.rmtree(cut)
    print(f"power cut after each of {steps} steps: {outcomes}")
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes
    assert outcomes == sorted(outcomes, key=lambda o: o == "new"), outcomes  # old until the commit point, new after

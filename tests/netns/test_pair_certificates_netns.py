"""The certificate store is the pair's (issue 39): two units in namespaces with the pair's SSH channel (the
pair sync tests' lab). A certificate added and then renewed on the master is taken by the backup, its file
carried over the pair's channel, whole; a backup that was away takes the renewed certificate at its boot;
only the master renews (the backup's timer leaves it to it)."""

from __future__ import annotations

import hashlib

from lbwizard.config import model
from tests.certificates import chain, issue
from tests.netns.test_pair_sync_netns import SECRET, UNITS, SyncedPair, ok, pair  # noqa: F401 - pair is a fixture

SHOP = chain("www.example.test")


def config_of(pair: SyncedPair, unit: str) -> model.ApplianceConfig:  # noqa: F811
    return model.loads((pair.tmp / unit / "etc/lbwizard/appliance.yaml").read_text())


def stored(pair: SyncedPair, unit: str) -> bytes:  # noqa: F811
    """The content of unit's certificate shop, from its store, checked against the name its config gives."""
    fingerprint = next(c.fingerprint for c in config_of(pair, unit).certificates if c.name == "shop")
    data = (pair.tmp / unit / "etc/lbwizard/certificates" / f"{fingerprint}.pem").read_bytes()
    assert hashlib.sha256(data).hexdigest() == fingerprint
    return data


def renewed() -> bytes:
    leaf = issue("www.example.test", SHOP.intermediate, names=("www.example.test",))
    return leaf.cert_pem + SHOP.intermediate.cert_pem + leaf.key_pem


def test_the_backup_takes_the_masters_certificates_and_their_renewals_over_the_pairs_channel(pair):  # noqa: F811
    ok(pair.lbctl("a", "vs", "add", "SHOP", "--address", "10.0.0.20", "--port", "443", "--layer", "7", "--tls", "yes"))
    (pair.tmp / "shop.pem").write_bytes(SHOP.pem())
    said = ok(pair.lbctl("a", "cert", "add", "shop", "--pem", str(pair.tmp / "shop.pem")))
    assert "peer 10.0.0.22:" in said
    ok(pair.lbctl("a", "vs", "set", "SHOP", "--certificates", "shop"))
    assert stored(pair, "a") == stored(pair, "b") == SHOP.pem()
    assert f"crt {pair.tmp}/b/etc/lbwizard/certificates/" in (pair.tmp / "b/etc/haproxy/haproxy.cfg").read_text()

    (pair.tmp / "renewed.pem").write_bytes(renewed())
    ok(pair.lbctl("a", "cert", "add", "shop", "--pem", str(pair.tmp / "renewed.pem"), "--replace"))
    assert stored(pair, "a") == stored(pair, "b") != SHOP.pem()
    assert {pair.pair_status(unit)["peer_behind"] for unit in UNITS} == {0}

    backup = pair.lbctl("b", "cert", "renew", "--force")  # keepalived has said nothing: the configured roles decide
    assert backup.returncode == 0 and "this unit is the pair's BACKUP: the MASTER renews" in backup.stdout, backup.stderr

    # b away while a renews again: a makes it alone; b's boot takes the shared part, file included, from a
    pair.stop_sshd("b")
    again = renewed()
    (pair.tmp / "again.pem").write_bytes(again)
    said = ok(pair.lbctl("a", "cert", "add", "shop", "--pem", str(pair.tmp / "again.pem"), "--replace"))
    assert "could not be reached" in said
    assert stored(pair, "a") == again and stored(pair, "b") != again
    pair.start_sshd("b")
    booted = pair.boot("b")
    assert booted.returncode == 0, booted.stdout + booted.stderr
    assert "took shared version" in booted.stdout, booted.stdout
    assert stored(pair, "b") == again
    assert [c.fingerprint for c in config_of(pair, "b").certificates] == [
        c.fingerprint for c in config_of(pair, "a").certificates
    ]
    for unit in UNITS:
        text = (pair.tmp / unit / "etc/lbwizard/appliance.yaml").read_text()
        assert "PRIVATE KEY" not in text and SECRET not in text

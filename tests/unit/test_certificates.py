"""The certificate store (issue 39): what a PEM must be to come in, each refusal by its field; the rules of
appliance.yaml's certificates and the services naming them; the PEM files HAProxy gets, default first; the
store's files written, checked and let go by a change; a backup's store members."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from lbwizard.apply import certificate_steps
from lbwizard.config import backup, certificate_edit, certstore, model, pem
from lbwizard.config.edit import EditError
from lbwizard.config.paths import Paths
from lbwizard.config.verify import verify
from lbwizard.render.rolevars import haproxy_services
from tests.certificates import NOW, chain, issue

GOOD = chain("www.example.test", "example.test")


def block(label: str, body: bytes = b"AAAA") -> bytes:
    return b"-----BEGIN " + label.encode() + b"-----\n" + body + b"\n-----END " + label.encode() + b"-----\n"


def rsa_key_pem(bits: int) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def expired() -> bytes:
    old = chain("old.example.test", not_after=NOW - datetime.timedelta(days=1))
    return old.leaf.cert_pem + old.intermediate.cert_pem + old.leaf.key_pem


def expired_intermediate() -> bytes:
    root = issue("Root", ca=True)
    middle = issue("Middle", root, ca=True, not_after=NOW - datetime.timedelta(hours=1))
    leaf = issue("x.example.test", middle, names=("x.example.test",))
    return leaf.cert_pem + middle.cert_pem + leaf.key_pem


def encrypted_key() -> bytes:
    return GOOD.leaf.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
    )


def dsa_key() -> bytes:
    key = dsa.generate_private_key(2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


REFUSED = {
    "wrong_key": (GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem + issue("x").key_pem, "does not belong to the certificate"),
    "key_of_the_intermediate_first": (
        GOOD.intermediate.cert_pem + GOOD.leaf.cert_pem + GOOD.leaf.key_pem,
        "the private key is certificate 2's, not the server certificate's",
    ),
    "reversed_chain": (
        GOOD.leaf.cert_pem + GOOD.root.cert_pem + GOOD.intermediate.cert_pem + GOOD.leaf.key_pem,
        "the chain is out of order (certificate 2, CN=Test Root, did not issue certificate 1): give the server's "
        "certificate, then CN=Test Intermediate, then CN=Test Root",
    ),
    "a_certificate_of_another_chain": (
        GOOD.leaf.cert_pem + chain("other.test").intermediate.cert_pem + GOOD.leaf.key_pem,
        "certificate 2 (CN=Test Intermediate) did not issue certificate 1 (CN=www.example.test) and belongs to no chain",
    ),
    "missing_intermediate": (GOOD.leaf.cert_pem + GOOD.leaf.key_pem, "the chain is missing: the certificate is issued by"),
    "chain_ending_at_a_server_certificate": (
        issue("leaf", (mid := issue("mid.test", issue("r", ca=True)))).cert_pem + mid.cert_pem,
        "",  # no key at all: refused for that first
    ),
    "expired": (expired(), "the certificate expired on"),
    "expired_intermediate": (expired_intermediate(), "certificate 2 of the chain (CN=Middle) expired on"),
    "certificate_request_block": (GOOD.pem() + block("CERTIFICATE REQUEST"), "a block of another kind, CERTIFICATE REQUEST"),
    "openssh_private_key_block": (
        GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem + block("OPENSSH PRIVATE KEY"),
        "OPENSSH PRIVATE KEY",
    ),
    "public_key_block": (GOOD.pem() + block("PUBLIC KEY"), "a block of another kind, PUBLIC KEY"),
    "encrypted_key": (GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem + encrypted_key(), "is encrypted"),
    "dsa_key": (GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem + dsa_key(), "use an RSA or EC (ECDSA) key"),
    "short_rsa_key": (GOOD.leaf.cert_pem + rsa_key_pem(1024), "the RSA key is 1024 bits"),
    "two_keys": (GOOD.pem() + GOOD.leaf.key_pem, "holds a second private key"),
    "no_key": (GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem, "holds no private key"),
    "no_certificate": (GOOD.leaf.key_pem, "holds no certificate"),
    "unterminated_block": (GOOD.pem()[:-40], "its last block has no END line"),
    "block_inside_a_block": (GOOD.pem().replace(b"-----END CERTIFICATE-----\n", b"", 1), "has no END line"),
    "not_base64": (block("CERTIFICATE", b"!!!!"), "is not base64"),
    "garbage_certificate": (block("CERTIFICATE") + GOOD.leaf.key_pem, "certificate 1 (line 1) cannot be read"),
    "der_file": (GOOD.leaf.certificate.public_bytes(serialization.Encoding.DER), "is not a PEM file (it is not ASCII text"),
    "empty": (b"", "holds no PEM block"),
    "text_only": (b"hello\n", "holds no PEM block"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_each_pem_problem_is_refused_by_its_field(case):
    data, message = REFUSED[case]
    with pytest.raises(pem.PemError) as refused:
        pem.from_pem(data)
    assert refused.value.field == "--pem"
    assert message in refused.value.message, refused.value.message
    assert "\n" not in refused.value.message and len(refused.value.message) < 400


def test_a_good_chain_is_stored_in_one_canonical_form_whatever_the_files():
    whole = pem.from_pem(b"Bag Attributes: x\n" + GOOD.leaf.key_pem + GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem)
    parts = pem.from_parts(GOOD.leaf.cert_pem, GOOD.leaf.key_pem, GOOD.intermediate.cert_pem)
    cert_with_chain = pem.from_parts(GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem, GOOD.leaf.key_pem)
    assert whole.pem() == parts.pem() == cert_with_chain.pem()
    assert whole.pem().startswith(GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem)
    assert whole.pem().endswith(b"-----END PRIVATE KEY-----\n")
    assert whole.fingerprint == certstore.fingerprint_of(whole.pem())
    described = pem.describe(whole)
    assert described["names"] == ["www.example.test", "example.test"]
    assert described["issuer"] == "CN=Test Intermediate" and described["key"] == "EC secp256r1"
    assert "PRIVATE" not in str(described)


def test_a_self_signed_certificate_and_a_chain_with_its_root_are_complete():
    alone = issue("self.example.test", names=("self.example.test",))
    assert pem.from_pem(alone.cert_pem + alone.key_pem).chain == ()
    assert len(pem.from_pem(GOOD.pem() + GOOD.root.cert_pem).chain) == 2
    rsa_leaf = issue("rsa.example.test", GOOD.intermediate, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert pem.from_pem(rsa_leaf.cert_pem + GOOD.intermediate.cert_pem + rsa_leaf.key_pem)


@pytest.mark.parametrize(
    ("cert", "key", "chain_pem", "field", "message"),
    [
        (GOOD.leaf.cert_pem, GOOD.leaf.cert_pem, None, "--key", "--key takes the private key only"),
        (GOOD.leaf.key_pem, GOOD.leaf.key_pem, None, "--cert", "the key goes to --key"),
        (GOOD.leaf.cert_pem, GOOD.leaf.key_pem, GOOD.leaf.key_pem, "--chain", "--chain takes the issuers' certificates only"),
        (GOOD.leaf.cert_pem, GOOD.leaf.key_pem, GOOD.root.cert_pem, "--chain", "did not issue certificate 1"),
        (GOOD.leaf.cert_pem, issue("x").key_pem, GOOD.intermediate.cert_pem, "--key", "does not belong"),
        (GOOD.leaf.cert_pem, GOOD.leaf.key_pem, None, "--cert", "the chain is missing"),
        (GOOD.leaf.cert_pem, GOOD.leaf.key_pem, block("X509 CRL"), "--chain", "a block of another kind, X509 CRL"),
    ],
)
def test_separate_files_are_refused_by_the_option_that_brought_the_problem(cert, key, chain_pem, field, message):
    with pytest.raises(pem.PemError) as refused:
        pem.from_parts(cert, key, chain_pem)
    assert (refused.value.field, message in refused.value.message) == (field, True), str(refused.value)


# -- appliance.yaml -----------------------------------------------------------------------------------------


def tls_config(*names: str, **service) -> model.ApplianceConfig:
    config = model.ApplianceConfig(
        hostname="lb1",
        interfaces={"eth0": model.Interface("10.0.0.21/24", "external"), "eth1": model.Interface("192.168.2.21/24", "internal")},
        gateway="10.0.0.31",
        virtual_services=[
            model.VirtualService(
                "SHOP",
                "10.0.0.21",
                443,
                layer=7,
                forwarding="snat",
                scheduler="roundrobin",
                real_servers=[model.RealServer("WEB1", "192.168.2.50", 8080)],
                **({"tls": True} | service),
            )
        ],
        certificates=[model.Certificate(name, f"{n:064x}") for n, name in enumerate(names, 1)],
    )
    return config


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        (
            tls_config("shop", certificates=["api"]),
            "virtual_services[0].certificates[0]",
            "no certificate 'api' in the store (there are: shop)",
        ),
        (tls_config(certificates=["api"]), "virtual_services[0].certificates[0]", "none yet: lbctl cert add NAME --pem FILE"),
        (
            tls_config("shop", certificates=["shop"], tls_certificate="/etc/haproxy/certs/x.pem"),
            "virtual_services[0].tls_certificate",
            "not both",
        ),
        (
            tls_config("shop", certificates=["shop"], tls=False),
            "virtual_services[0].certificates",
            "without tls: yes are never used",
        ),
    ],
    ids=["unknown_name", "empty_store", "both_ways", "without_tls"],
)
def test_verify_refuses_what_a_service_names_wrongly(config, field, message):
    problems = {p.field: p.message for p in verify(config)}
    assert message in problems.get(field, ""), problems


def test_verify_refuses_two_certificates_of_one_name_or_one_content_and_acme_without_names():
    config = tls_config("shop", "api")
    config.certificates.append(model.Certificate("shop", "f" * 64))
    config.certificates.append(model.Certificate("again", config.certificates[0].fingerprint))
    config.certificates.append(model.Certificate("acme", "e" * 64, model.CertificateAcme([])))
    problems = {p.field: p.message for p in verify(config)}
    assert "the name shop is taken by certificates[0]" in problems["certificates[2].name"]
    assert "the same content as shop" in problems["certificates[3].fingerprint"]
    assert "ACME needs the names it is for" in problems["certificates[4].acme.domains"]


def test_certificates_load_from_yaml_and_lbctl_names_clear_with_none():
    config = tls_config("shop", "api", certificates=["api", "shop"])
    assert model.loads(model.dumps(config)) == config
    assert "PRIVATE" not in model.dumps(config)
    assert model.CERTIFICATE_NAMES.parse("api, shop") == ["api", "shop"] and model.CERTIFICATE_NAMES.parse("none") == []
    with pytest.raises(model.ConfigFormatError, match="fingerprint"):
        model.from_dict(model.ApplianceConfig(certificates=[model.Certificate("x", "ABC")]).to_dict())


def test_haproxy_presents_the_named_certificates_default_first_else_the_older_path_or_the_units_own(tmp_path):
    config = tls_config("shop", "api", certificates=["api", "shop"])
    store = Paths(tmp_path).certificate_store
    assert haproxy_services(config, str(tmp_path))[0]["tls"]["certificates"] == [
        str(store / f"{2:064x}.pem"),
        str(store / f"{1:064x}.pem"),
    ]
    older = tls_config(tls_certificate="/etc/haproxy/certs/shop.pem")
    assert haproxy_services(older)[0]["tls"]["certificates"] == ["/etc/haproxy/certs/shop.pem"]
    assert haproxy_services(tls_config())[0]["tls"]["certificates"] == ["/etc/haproxy/certs/appliance.pem"]


def test_edits_add_replace_and_remove_by_name():
    config = tls_config("shop", certificates=["shop"])
    added = certificate_edit.put(config, "api", "a" * 64)
    assert [c.name for c in added.certificates] == ["shop", "api"] and config.certificates[-1].name == "shop"
    with pytest.raises(EditError, match="in the store already; --replace"):
        certificate_edit.put(added, "api", "b" * 64)
    assert certificate_edit.put(added, "api", "b" * 64, replace=True).certificates[1].fingerprint == "b" * 64
    with pytest.raises(EditError, match="in the store already as shop"):
        certificate_edit.put(added, "other", added.certificates[0].fingerprint)
    with pytest.raises(EditError, match="certificate shop is used by SHOP"):
        certificate_edit.remove(added, "shop")
    with pytest.raises(EditError, match="means no certificate"):
        certificate_edit.put(added, "none", "c" * 64)
    assert [c.name for c in certificate_edit.remove(added, "api").certificates] == ["shop"]


# -- the store on disk ------------------------------------------------------------------------------------


def test_a_change_writes_what_it_offers_checks_what_it_names_and_lets_go_only_what_no_version_names(tmp_path):
    paths = Paths(tmp_path)
    data = GOOD.pem()
    fingerprint = certstore.fingerprint_of(data)
    config = tls_config()
    config.certificates = [model.Certificate("shop", fingerprint)]
    with certstore.offering({fingerprint: data}):
        steps = certificate_steps.store_steps(config, paths)
    for step in steps:
        step.do()
    stored = certstore.path_of(paths, fingerprint)
    assert stored.read_bytes() == data
    assert stat_mode(stored) == 0o640 and stat_mode(paths.certificate_store) == 0o750
    steps[0].undo()
    assert not paths.certificate_store.exists()  # undone: the file and the folder it made

    for step in steps:
        step.do()
    stale = certstore.path_of(paths, "1" * 64)
    kept = certstore.path_of(paths, "2" * 64)
    for path in (stale, kept):
        path.write_bytes(b"x")
    paths.history_dir.mkdir(parents=True)
    (paths.history_dir / "0001.yaml").write_text(f"certificates:\n- name: old\n  fingerprint: {'2' * 64}\n")
    prune = certificate_steps.prune_step(config, paths)
    prune.do()
    assert sorted(p.name for p in paths.certificate_store.iterdir()) == sorted([f"{'2' * 64}.pem", f"{fingerprint}.pem"])
    prune.undo()
    assert stale.read_bytes() == b"x"


def test_a_named_file_that_is_missing_or_altered_fails_the_change_naming_the_certificate(tmp_path):
    paths = Paths(tmp_path)
    data = GOOD.pem()
    fingerprint = certstore.fingerprint_of(data)
    config = tls_config()
    config.certificates = [model.Certificate("shop", fingerprint)]
    (check,) = certificate_steps.store_steps(config, paths)
    with pytest.raises(RuntimeError, match=r"certificates\[0\]: certificate shop: its file .* is not in the store"):
        check.do()
    certstore.make_directory(paths)
    certstore.path_of(paths, fingerprint).write_bytes(data.replace(b"MII", b"MIJ", 1))
    with pytest.raises(RuntimeError, match="not the content its name says"):
        check.do()
    with pytest.raises(certstore.StoreError), certstore.offering({fingerprint: b"other"}):
        pass


def stat_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o7777


def test_a_backup_holds_store_files_only_as_their_names_say_and_every_one_its_config_names():
    data = GOOD.pem()
    fingerprint = certstore.fingerprint_of(data)
    member = backup.store_member(fingerprint)
    assert member == f"etc/lbwizard/certificates/{fingerprint}.pem"
    config = tls_config()
    assert backup.belongs(member, config) and backup.unit_mode(member) == 0o640
    assert not backup.belongs("etc/lbwizard/certificates/shop.pem", config)
    config.certificates = [model.Certificate("shop", fingerprint)]
    assert backup._store_problem(config, {}) == f"refused: certificate shop's file ({member}) is not in the backup"
    assert backup._store_problem(config, {member: (data, 0o640)}) is None
    other = backup.store_member("3" * 64)
    assert "is not the content its name" in backup._store_problem(config, {member: (data, 0o640), other: (data, 0o640)})


class ServingEngines:
    """HAProxy as the runtime steps see it: the certificates it serves, by name, and what was swapped."""

    def __init__(self, serving: dict[str, str]):
        self.serving, self.swapped = serving, []

    def haproxy_reachable(self) -> bool:
        return True

    def haproxy_certificates(self) -> dict[str, str]:
        return dict(self.serving)

    def haproxy_server_settings(self) -> dict:
        return {}

    def ipvs_services(self) -> dict:
        return {}

    def haproxy_replace_certificate(self, name: str, pem_text: str) -> None:
        from lbwizard.apply.certificate_runtime import sha1_of

        self.swapped.append(name)
        self.serving[name] = sha1_of(pem_text.encode())


def test_a_new_content_of_a_served_certificate_is_swapped_without_a_reload_and_anything_more_reloads(tmp_path):
    from lbwizard.apply.certificate_runtime import sha1_of
    from lbwizard.apply.runtime import runtime_change

    paths = Paths(tmp_path)
    old, new = GOOD.pem(), pem.from_pem(issue_renewal()).pem()
    old_fp, new_fp = certstore.fingerprint_of(old), certstore.fingerprint_of(new)
    certstore.make_directory(paths)
    certstore.write(paths, old_fp, old)
    before = tls_config(certificates=["shop"])
    before.certificates = [model.Certificate("shop", old_fp)]
    after = certificate_edit.put(before, "shop", new_fp, replace=True)
    engines = ServingEngines({"/etc/lbwizard/certificates/older.pem": sha1_of(old)})
    with certstore.offering({new_fp: new}):
        change = runtime_change(before, after, engines, paths)
        assert (len(change.steps), change.haproxy_reload) == (1, False)
        change.steps[0].do()
        assert engines.swapped == ["/etc/lbwizard/certificates/older.pem"]
        assert engines.serving["/etc/lbwizard/certificates/older.pem"] == sha1_of(new)
        change.steps[0].undo()
        assert engines.serving["/etc/lbwizard/certificates/older.pem"] == sha1_of(old)
        more = certificate_edit.put(after, "api", "a" * 64)
        more.virtual_services[0].certificates.append("api")
        assert runtime_change(before, more, engines, paths).haproxy_reload is True  # a new certificate: HAProxy reloads
        elsewhere = ServingEngines({"/x.pem": "0" * 40})
        assert runtime_change(before, after, elsewhere, paths).steps == []  # not served: the reload brings it
        assert runtime_change(before, after, elsewhere, paths).haproxy_reload is True
    assert runtime_change(before, after, engines).steps == []  # no store to read the old content from: reload


def issue_renewal() -> bytes:
    leaf = issue("www.example.test", GOOD.intermediate, names=("www.example.test",))
    return leaf.cert_pem + GOOD.intermediate.cert_pem + leaf.key_pem


# -- ACME's HTTP-01 answers, expiry findings and metrics -----------------------------------------------------


def acme_config() -> model.ApplianceConfig:
    config = tls_config()
    config.virtual_services += [
        model.VirtualService("WEB", "10.0.0.21", 80, layer=7, forwarding="snat", scheduler="roundrobin"),
        model.VirtualService("API", "10.0.0.22", 443, layer=7, forwarding="snat", scheduler="roundrobin", tls=True),
        model.VirtualService("L4", "10.0.0.23", 80),
        model.VirtualService("L4TLS", "10.0.0.23", 443, layer=7, forwarding="snat", scheduler="roundrobin", tls=True),
    ]
    config.acme = model.AcmeAccount("T" * 43)
    return config


def test_challenges_are_answered_by_an_http_service_on_port_80_else_by_a_listener_of_their_own():
    from lbwizard.apply import firewall
    from lbwizard.config import acme_http
    from lbwizard.render.rolevars import role_vars

    config = acme_config()
    assert acme_http.listener_addresses(config) == ["10.0.0.22"]  # .21 has WEB on 80; .23's port 80 is IPVS's
    assert [s["name"] for s in haproxy_services(config) if s["acme_challenge"]] == ["WEB"]
    assert role_vars(config)["haproxy_acme"] == {"thumbprint": "T" * 43, "listeners": ["10.0.0.22"]}
    opened = [r for c in firewall.chains(config) for r in c.rules if r.get("dst") == "10.0.0.22/32"]
    assert {r["tcp"]["dport"] for r in opened} == {"443", "80"}
    config.acme = None
    assert acme_http.listener_addresses(config) == [] and role_vars(config)["haproxy_acme"] is None
    assert not [
        r for c in firewall.chains(config) for r in c.rules if r.get("dst") == "10.0.0.22/32" and r["tcp"]["dport"] == "80"
    ]


def stored_config(tmp_path, *entries: tuple[str, bytes, bool]) -> tuple[model.ApplianceConfig, Paths]:
    """A config whose store holds each (name, PEM, used by SHOP)."""
    paths = Paths(tmp_path)
    certstore.make_directory(paths)
    config = tls_config()
    for name, data, used in entries:
        fingerprint = certstore.fingerprint_of(data)
        certstore.write(paths, fingerprint, data)
        config.certificates.append(model.Certificate(name, fingerprint))
        if used:
            config.virtual_services[0].certificates.append(name)
    return config, paths


def soon(days: float) -> bytes:
    leaf = issue("soon.example.test", GOOD.intermediate, not_after=NOW + datetime.timedelta(days=days))
    return leaf.cert_pem + GOOD.intermediate.cert_pem + leaf.key_pem


def test_diagnose_warns_21_days_before_and_after_expiry_and_says_why_an_order_failed(tmp_path):
    from lbwizard.manage import acme_state, certificate_findings

    config, paths = stored_config(
        tmp_path, ("fresh", GOOD.pem(), True), ("soon", soon(20), True), ("idle", soon(10), False), ("later", soon(22), True)
    )
    config.certificates.append(model.Certificate("gone", "9" * 64))
    later = NOW + datetime.timedelta(hours=1)
    found = {f.subject: f for f in certificate_findings.findings(config, paths, later)}
    assert (found["certificate fresh"].severity, found["certificate later"].severity) == ("ok", "ok")
    assert found["certificate soon"].severity == "problem" and "expires in 19 days" in found["certificate soon"].what
    assert "SHOP present it" in found["certificate soon"].what and "--replace" in found["certificate soon"].fix
    assert found["certificate idle"].severity == "note"  # no service presents it
    assert found["certificate gone"].severity == "problem" and "is not in the store" in found["certificate gone"].what
    expired = {f.subject: f for f in certificate_findings.findings(config, paths, NOW + datetime.timedelta(days=21))}
    assert (
        expired["certificate soon"].what.startswith("EXPIRED on ")
        and "clients of SHOP refuse it" in expired["certificate soon"].what
    )
    acme_state.record_failure(
        paths, "fresh", ["www.example.test"], "the CA could not verify www.example.test: refused", new=False
    )
    failed = [f for f in certificate_findings.findings(config, paths) if "ACME order" in f.what]
    assert len(failed) == 1 and "refused; the certificate it has keeps serving" in failed[0].what
    acme_state.record_success(paths, "fresh")
    assert not [f for f in certificate_findings.findings(config, paths) if "ACME order" in f.what]
    lines = certificate_findings.status_lines(config, paths, later)
    assert lines[0] == "Certificates (5):" and any("soon" in line and "(19 days LEFT, RENEW IT); SHOP" in line for line in lines)


def test_the_metrics_give_seconds_to_expiry_per_certificate(tmp_path):
    from lbwizard.manage import certificate_findings

    config, paths = stored_config(tmp_path, ("shop", GOOD.pem(), True), ("soon", soon(2), False))
    text = certificate_findings.metrics_text(config, paths, NOW)
    left = int((GOOD.leaf.certificate.not_valid_after_utc - NOW).total_seconds())
    assert f'lbwizard_certificate_expiry_seconds{{name="shop"}} {left}\n' in text
    assert "# TYPE lbwizard_certificate_expiry_seconds gauge" in text
    assert 'lbwizard_certificate_not_after_timestamp_seconds{name="soon"} ' in text
    certificate_findings.write_metrics(config, paths)
    assert (tmp_path / "run/lbwizard/metrics/lbwizard_certificates.prom").read_text().count(
        "lbwizard_certificate_expiry_seconds{"
    ) == 2


def test_renewal_is_due_at_two_thirds_of_the_life():
    from lbwizard.manage.acme_commands import due

    start = NOW - datetime.timedelta(days=1)
    entry = certstore.Entry("x", "0" * 64, (), True, {"not_before": start.isoformat()}, None, start + datetime.timedelta(days=90))
    assert not due(entry, start + datetime.timedelta(days=59))
    assert due(entry, start + datetime.timedelta(days=60, seconds=1))
    assert due(certstore.Entry("x", "0" * 64, (), True, None, "missing", None), NOW)


def test_a_pair_request_carries_the_named_files_and_a_file_not_what_its_name_says_is_refused(tmp_path):
    from lbwizard.pair import shared, sync

    config, paths = stored_config(tmp_path, ("shop", GOOD.pem(), True))
    other = tls_config()
    assert shared.differs(config, other)  # the store is part of what the two units share
    assert shared.merged(other, config, 3).certificates == config.certificates
    fingerprint = config.certificates[0].fingerprint
    request = sync.request("apply", config, 0, paths)
    assert request["certificates"] == {fingerprint: GOOD.pem().decode()}
    assert sync.contents_of(request) == {fingerprint: GOOD.pem()}
    fresh = pem.from_pem(issue_renewal()).pem()
    with certstore.offering({certstore.fingerprint_of(fresh): fresh}):  # a change's new content, not stored yet
        renewed = certificate_edit.put(config, "shop", certstore.fingerprint_of(fresh), replace=True)
        assert sync.request("apply", renewed, 0, paths)["certificates"] == {certstore.fingerprint_of(fresh): fresh.decode()}
    request["certificates"][fingerprint] = GOOD.pem().decode().replace("MII", "MIJ", 1)
    with pytest.raises(sync.Refused, match="is not what its name says"):
        sync.contents_of(request)
    assert "certificates" not in sync.request("apply", config, 0)  # without paths: none (a unit's own tests)

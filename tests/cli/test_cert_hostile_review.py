"""lbctl cert, attacked as a hostile administrator would (issue 39's review): files the store took that
HAProxy's OpenSSL then refused at the hand-over, chains that repeat a certificate, a certificate no client
accepts yet, a legacy encrypted key that was called "not base64", and ACME names no CA issues for. Each is
refused at the door: one `option: message` line, exit 2, the tree as it was."""

from __future__ import annotations

import datetime
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from lbwizard.config import model
from tests.certificates import NOW, Issued, chain, issue
from tests.cli.test_cert_cli import unit  # noqa: F401 - a fixture
from tests.cli.test_lbctl_dry_run import haproxy, lbctl, ok, root, snapshot  # noqa: F401 - root is a fixture

GOOD = chain("www.example.test")


def _signed(common: str, issuer: Issued, key, *, ca: bool = False) -> Issued:
    """A certificate of key's public half, issued by issuer (its key need not be an EC one)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(common)]), critical=False)
    return Issued(builder.sign(issuer.key, hashes.SHA256()), key)


def weak_intermediate() -> bytes:
    """A chain through an intermediate whose RSA key is 1024 bits: OpenSSL (security level 2) will not load it."""
    weak = _signed("Weak Intermediate", GOOD.root, rsa.generate_private_key(65537, 1024), ca=True)
    leaf = _signed("weak.example.test", weak, ec.generate_private_key(ec.SECP256R1()))
    return leaf.cert_pem + weak.cert_pem + leaf.key_pem


def small_curve() -> bytes:
    """A server key on P-192 (96 bits of security): OpenSSL's 'ee key too small'."""
    leaf = _signed("p192.example.test", GOOD.intermediate, ec.generate_private_key(ec.SECP192R1()))
    return leaf.cert_pem + GOOD.intermediate.cert_pem + leaf.key_pem


def not_yet_valid() -> bytes:
    later = NOW + datetime.timedelta(days=30)
    leaf = issue("later.example.test", GOOD.intermediate, names=("later.example.test",), not_before=later)
    return leaf.cert_pem + GOOD.intermediate.cert_pem + leaf.key_pem


def through_a_server_certificate(*, with_root: bool) -> bytes:
    """leaf <- a server certificate (CA:FALSE) <- the root: every client refuses a chain through a non-CA."""
    middle = issue("Middle Server", GOOD.root, names=("middle.example.test",))
    leaf = issue("via.example.test", middle, names=("via.example.test",))
    return leaf.cert_pem + middle.cert_pem + (GOOD.root.cert_pem if with_root else b"") + leaf.key_pem


def client_only() -> bytes:
    """A client certificate (extended key usage clientAuth only): every browser refuses it from a server."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client.example.test")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(GOOD.intermediate.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("client.example.test")]), critical=False)
        .sign(GOOD.intermediate.key, hashes.SHA256())
    )
    leaf = Issued(certificate, key)
    return leaf.cert_pem + GOOD.intermediate.cert_pem + leaf.key_pem


def _ca(common: str, issuer: Issued | None, *, path_length: int | None = None, usage: bool = True) -> Issued:
    """A CA's certificate with the path length and key usage given (usage False: no keyCertSign)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    flags = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only"),
        False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.certificate.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=900))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=usage, crl_sign=usage, **flags), critical=True)
        .sign(issuer.key if issuer else key, hashes.SHA256())
    )
    return Issued(certificate, key)


def below_a_root_of_path_length_zero() -> bytes:
    """The root allows no intermediate CA below it (pathLenConstraint 0), and one is there."""
    top = _ca("Strict Root", None, path_length=0)
    middle = _ca("Under Strict Root", top)
    leaf = issue("strict.example.test", middle, names=("strict.example.test",))
    return leaf.cert_pem + middle.cert_pem + top.cert_pem + leaf.key_pem


def from_a_ca_without_key_cert_sign() -> bytes:
    top = _ca("Signing Root", None)
    middle = _ca("No Cert Sign", top, usage=False)
    leaf = issue("nosign.example.test", middle, names=("nosign.example.test",))
    return leaf.cert_pem + middle.cert_pem + leaf.key_pem


HOSTILE = {
    "an_intermediate_with_a_1024_bit_rsa_key": (
        weak_intermediate,
        "--pem: certificate 2 of the chain (CN=Weak Intermediate) has an RSA key of 1024 bits",
    ),
    "a_server_key_on_a_192_bit_curve": (small_curve, "--pem: the private key is EC secp192r1"),
    "the_root_given_twice": (
        lambda: GOOD.pem().replace(GOOD.leaf.key_pem, GOOD.root.cert_pem + GOOD.root.cert_pem + GOOD.leaf.key_pem),
        "--pem: certificate 4 (CN=Test Root) is certificate 3 again; give each certificate once",
    ),
    "the_intermediate_given_twice": (
        lambda: GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem * 2 + GOOD.leaf.key_pem,
        "--pem: certificate 3 (CN=Test Intermediate) is certificate 2 again; give each certificate once",
    ),
    "a_certificate_valid_only_from_next_month": (not_yet_valid, "--pem: the certificate is valid only from "),
    "a_chain_through_a_server_certificate_to_its_root": (
        lambda: through_a_server_certificate(with_root=True),
        "--pem: certificate 2 (CN=Middle Server) issued certificate 1 but is not a CA's certificate",
    ),
    "a_client_certificate": (client_only, "--pem: the certificate is for TLS clients only (extended key usage"),
    "an_intermediate_below_a_root_of_path_length_zero": (
        below_a_root_of_path_length_zero,
        "--pem: certificate 3 (CN=Strict Root) allows 0 CA certificates below it and the chain has 1",
    ),
    "an_issuer_whose_key_usage_leaves_out_certificate_signing": (
        from_a_ca_without_key_cert_sign,
        "--pem: certificate 2 (CN=No Cert Sign) may not sign certificates (its key usage has no keyCertSign)",
    ),
    "a_ca_certificate_as_the_server_certificate": (
        lambda: (
            (leaf := issue("ca.example.test", GOOD.intermediate, ca=True, names=("ca.example.test",))).cert_pem
            + GOOD.intermediate.cert_pem
            + leaf.key_pem
        ),
        "--pem: the server certificate is a CA's (CA:TRUE)",
    ),
    "a_chain_ending_at_a_server_certificate": (
        lambda: through_a_server_certificate(with_root=False),
        "--pem: the chain ends at CN=Middle Server, which is not a CA's certificate",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_a_certificate_haproxy_or_its_clients_would_refuse_is_refused_on_add_and_nothing_changes(unit, tmp_path, case):  # noqa: F811
    make, line = HOSTILE[case]
    given = tmp_path / "given.pem"
    given.write_bytes(make())
    before = snapshot(unit)
    result = lbctl(unit, "cert", "add", "shop", "--pem", str(given))
    assert result.returncode == 2 and len(result.stdout.splitlines()) == 1, (result.stdout, result.stderr)
    assert result.stdout.startswith(line), result.stdout
    assert "Traceback" not in result.stderr
    assert snapshot(unit) == before


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def test_a_legacy_encrypted_key_is_called_encrypted_and_a_sha1_signature_is_named(unit, tmp_path):  # noqa: F811
    """openssl rsa -aes128 -traditional writes 'Proc-Type: 4,ENCRYPTED' inside the block: it was refused as
    'not base64', which sends the admin looking for a broken file. A SHA-1 self-signed certificate was called
    'missing its chain' (its signature cannot be checked, so it did not look self-signed)."""
    key, cert, locked, sha1 = (tmp_path / n for n in ("plain.key", "self.crt", "locked.key", "sha1.crt"))
    _openssl("genrsa", "-out", str(key), "2048")
    _openssl("req", "-x509", "-key", str(key), "-out", str(cert), "-days", "30", "-subj", "/CN=self.example.test")
    _openssl("rsa", "-in", str(key), "-aes128", "-traditional", "-passout", "pass:x", "-out", str(locked))
    _openssl("req", "-x509", "-key", str(key), "-out", str(sha1), "-days", "30", "-subj", "/CN=old.example.test", "-sha1")
    before = snapshot(unit)
    result = lbctl(unit, "cert", "add", "shop", "--cert", str(cert), "--key", str(locked))
    assert result.returncode == 2 and result.stdout.startswith("--key: the private key at line 1 is encrypted"), result.stdout
    result = lbctl(unit, "cert", "add", "shop", "--cert", str(sha1), "--key", str(key))
    assert result.returncode == 2 and result.stdout.startswith("--cert: the certificate is signed with SHA-1"), result.stdout
    assert snapshot(unit) == before
    # openssl req -x509's own self-signed certificate (CA:TRUE, as its default configuration makes it) is taken
    ok(unit, "cert", "add", "shop", "--cert", str(cert), "--key", str(key))


@pytest.mark.parametrize(
    ("domain", "line"),
    [
        ("10.0.0.21", "--domain: '10.0.0.21' is not a domain name"),
        ("www.example.123", "--domain: 'www.example.123' is not a domain name"),
    ],
)
def test_an_acme_name_no_ca_issues_for_is_refused_before_any_ca_is_asked(root, domain, line):  # noqa: F811
    """An IPv4 address passed the domain pattern (its labels are digits) and went to the CA as a DNS name."""
    before = snapshot(root)
    result = lbctl(root, "cert", "acme", "shop", "--domain", domain)
    assert (result.returncode, result.stdout.split(";")[0]) == (2, line), result.stdout
    assert snapshot(root) == before


def test_an_idn_name_in_its_ascii_form_is_still_a_domain(root):  # noqa: F811
    result = lbctl(root, "cert", "acme", "shop", "--domain", "xn--bcher-kva.example.test", "--domain", "a1.example.test")
    assert result.stdout.startswith("--dry-run: an ACME order asks a CA"), result.stdout


# -- the runtime swap: HAProxy's entry is found by what it serves, which two files may share ------------------


def test_a_replace_swaps_only_its_own_entry_when_another_file_serves_the_same_server_certificate(tmp_path):
    """Two store certificates with one server certificate (shop: leaf and intermediate; shop-full: the same with
    the root after them) both served: replacing shop swapped HAProxy's first entry serving that leaf's SHA-1,
    which could be shop-full's file, so the service naming shop-full served shop's new content and shop kept
    the old one. The swap now takes the entry loaded from shop's own file, and leaves an entry it cannot tell
    apart to the reload."""
    from lbwizard.apply.certificate_runtime import sha1_of
    from lbwizard.apply.runtime import runtime_change
    from lbwizard.config import certificate_edit, certstore, model
    from lbwizard.config.paths import Paths
    from tests.unit.test_certificates import ServingEngines, issue_renewal, tls_config

    paths = Paths(tmp_path)
    shop, full = GOOD.pem(), GOOD.leaf.cert_pem + GOOD.intermediate.cert_pem + GOOD.root.cert_pem + GOOD.leaf.key_pem
    renewed = issue_renewal()
    fingerprints = {data: certstore.fingerprint_of(data) for data in (shop, full, renewed)}
    certstore.make_directory(paths)
    for data in (shop, full):
        certstore.write(paths, fingerprints[data], data)
    before = tls_config(certificates=["shop-full", "shop"])
    before.certificates = [model.Certificate("shop-full", fingerprints[full]), model.Certificate("shop", fingerprints[shop])]
    after = certificate_edit.put(before, "shop", fingerprints[renewed], replace=True)
    full_entry, shop_entry = (str(certstore.path_of(paths, fingerprints[d])) for d in (full, shop))
    engines = ServingEngines({full_entry: sha1_of(shop), shop_entry: sha1_of(shop)})
    with certstore.offering({fingerprints[renewed]: renewed}):
        change = runtime_change(before, after, engines, paths)
        assert (len(change.steps), change.haproxy_reload) == (1, False)
        change.steps[0].do()
        assert engines.swapped == [shop_entry] and engines.serving[full_entry] == sha1_of(shop)
        change.steps[0].undo()
        assert engines.serving == {full_entry: sha1_of(shop), shop_entry: sha1_of(shop)}
        # after an earlier swap neither entry is shop's file: which one is shop's cannot be told, so HAProxy reloads
        older = ServingEngines({full_entry: sha1_of(shop), "/etc/lbwizard/certificates/older.pem": sha1_of(shop)})
        change = runtime_change(before, after, older, paths)
        assert (change.steps, change.haproxy_reload) == ([], True)


def test_the_challenge_rule_of_a_transparent_http_service_draws_no_warning_from_haproxy(tmp_path):
    """A transparent layer-7 HTTP service on port 80 NATs the clients on its servers' own subnet with a
    `tcp-request connection` rule; the ACME answer was rendered before it, and haproxy -c warned on every
    hand-over that the tcp-request rule 'will still be processed before'. The answer now follows the
    connection rules (which run first anyway) and still precedes every http-request rule."""
    from lbwizard.render.rolevars import haproxy_services
    from tests.roles.render import haproxy_check, render
    from tests.unit.test_certificates import acme_config

    config = acme_config()
    web = next(s for s in config.virtual_services if s.name == "WEB")
    web.transparent = True
    web.real_servers = [model.RealServer("WEB1", "192.168.2.50", 8080)]
    own = tmp_path / "etc/haproxy/certs/appliance.pem"  # the unit's own, which the TLS services present
    own.parent.mkdir(parents=True)
    own.write_bytes(GOOD.pem())
    text = render("haproxy", config, haproxy_services=haproxy_services(config, str(tmp_path)))
    frontend = text[text.index("frontend WEB\n") :].split("\n\n")[0]
    assert "    tcp-request connection set-src ipv4(192.168.2.21) if { src 192.168.2.0/24 }\n" in frontend
    first_http = next(line for line in frontend.splitlines() if line.lstrip().startswith("http-request"))
    assert first_http.startswith("    http-request return status 200 content-type text/plain lf-string"), frontend
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    checked = haproxy_check(path)
    assert checked.returncode == 0 and "WARNING" not in checked.stdout + checked.stderr, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"-----BEGIN CERTIFICATE-----\n", "--pem: the CERTIFICATE block at line 1 has no END line before the next block begins"),
        (
            b"-----BEGIN CERTIFICATE-----\n-----END certificate-----\n",
            "--pem: the CERTIFICATE block at line 1 has no END line before the next block begins",
        ),
    ],
)
def test_a_megabyte_of_begin_lines_is_refused_at_once_not_after_minutes(unit, tmp_path, line, message):  # noqa: F811
    """The block pattern scanned from every BEGIN line to the end of the file looking for its END: 1 MiB of
    BEGIN lines (58,000 of them) kept a CPU busy for minutes (16 s for 288 KB), for lbctl and for every API
    upload. The file is read in one pass now (this timed out at 30 s before)."""
    import os
    import sys
    import time
    from pathlib import Path

    given = tmp_path / "begins.pem"
    given.write_bytes(line * (1024 * 1024 // len(line)))
    lbctl_path = str(Path(sys.executable).parent / "lbctl")
    started = time.monotonic()
    result = subprocess.run(
        [lbctl_path, "--dry-run", "--root", str(unit), "cert", "add", "shop", "--pem", str(given)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert result.returncode == 2 and result.stdout.startswith(message), result.stdout
    assert time.monotonic() - started < 20  # was minutes; 2 s here, more on a loaded machine


def test_replace_of_a_name_not_in_the_store_says_added(unit, tmp_path):  # noqa: F811
    """--replace with a name the store does not have adds it (as the API's ?replace=yes and ACME do), but lbctl
    said 'replaced certificate NAME'."""
    given = tmp_path / "shop.pem"
    given.write_bytes(GOOD.pem())
    out = ok(unit, "cert", "add", "fresh", "--pem", str(given), "--replace").stdout
    assert "added certificate fresh (www.example.test, until " in out and "replaced" not in out, out


def test_a_certificate_whose_common_name_another_one_holds_is_refused_on_a_service_with_both(unit, tmp_path):  # noqa: F811
    """HAProxy picks a certificate by its common name as well as by its SANs; clients look at the SANs only.
    With b (CN shop.example.test, SAN b.example.test) before a (SAN shop.example.test), HAProxy answered
    shop.example.test with b, which every client refuses (seen with openssl s_client on HAProxy 2.6); a
    wildcard in a's SANs loses to b's exact common name whatever the order."""
    shop = chain("shop.example.test")
    stray = issue("shop.example.test", shop.intermediate, names=("b.example.test",))
    wildcard = issue("star", shop.intermediate, names=("*.example.test",))
    for name, leaf in (("a", shop.leaf), ("b", stray), ("star", wildcard)):
        (tmp_path / f"{name}.pem").write_bytes(leaf.cert_pem + shop.intermediate.cert_pem + leaf.key_pem)
        ok(unit, "cert", "add", name, "--pem", str(tmp_path / f"{name}.pem"))
    before = snapshot(unit)
    for names, field in (("b,a", "certificates[0]"), ("a,b", "certificates[1]"), ("star,b", "certificates[1]")):
        result = lbctl(unit, "vs", "set", "SHOP", "--certificates", names)
        assert result.returncode == 2, (names, result.stdout, result.stderr)
        said = f"virtual_services[1].{field}: virtual service SHOP: certificate b's common name "
        assert result.stdout.startswith(said), result.stdout
        assert "shop.example.test" in result.stdout and "Traceback" not in result.stderr
    assert snapshot(unit) == before
    ok(unit, "vs", "set", "SHOP", "--certificates", "a,star")  # names each holds in its SANs: as before
    ok(unit, "vs", "set", "SHOP", "--certificates", "b")  # alone it is the default anyway


def test_a_store_file_a_newer_rule_of_add_refuses_is_still_listed_with_its_expiry(tmp_path):
    """The rules this review added judge what comes in; a file stored before them (here a CA:TRUE server
    certificate with its chain) must still be read back, or cert list, diagnose's expiry finding and the
    metrics would lose it while HAProxy goes on serving it."""
    from lbwizard.config import certstore, pem
    from lbwizard.config.paths import Paths
    from tests.unit.test_certificates import tls_config

    leaf = issue("old.example.test", GOOD.intermediate, ca=True, names=("old.example.test",))
    data = leaf.cert_pem + GOOD.intermediate.cert_pem + leaf.key_pem
    with pytest.raises(pem.PemError, match="is a CA's"):
        pem.from_pem(data)
    stored = pem.stored(data).pem()
    paths = Paths(tmp_path)
    certstore.make_directory(paths)
    certstore.write(paths, certstore.fingerprint_of(stored), stored)
    config = tls_config(certificates=["old"])
    config.certificates = [model.Certificate("old", certstore.fingerprint_of(stored))]
    (entry,) = certstore.inventory(config, paths)
    assert entry.problem is None and entry.not_after == leaf.certificate.not_valid_after_utc

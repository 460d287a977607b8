"""Certificates for real (issue 39), in one namespace lab for the module: HAProxy with the role's file and the
store's certificates; SNI answered with each name's own certificate (openssl s_client from the client); a
certificate's new content swapped in through HAProxy's runtime API while a client makes a TLS handshake per
request, with no failed request and no restart of HAProxy; a swap undone when the change fails later."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lbwizard.config import model
from lbwizard.render.rolevars import haproxy_services
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.certificates import chain, issue
from tests.conftest import TWO_ARM_NAT
from tests.netns import pebble
from tests.netns.lab import Lab, lbwizard
from tests.roles.render import render

pytestmark = pytest.mark.skipif(not shutil.which("haproxy"), reason="make test installs haproxy")

SHOP = chain("www.example.test", "example.test")
API = issue("api.example.test", SHOP.intermediate, names=("api.example.test",))  # one CA: one root to trust

# HTTPS requests, one TLS handshake each, for a while: which certificate (serial) each got, and every failure.
HTTPS_LOAD = r"""
import json, os, socket, ssl, sys, time
address, name, cafile, stop = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
context = ssl.create_default_context(cafile=cafile)
serials, failures, start = [], [], time.monotonic()
while not os.path.exists(stop) and time.monotonic() - start < 120:
    try:
        with socket.create_connection((address, 443), timeout=5) as raw, context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
            if not reply.split(b" ", 2)[1:2] == [b"200"]:
                failures.append(reply[:60].decode(errors="replace"))
            serial = format(int(tls.getpeercert()["serialNumber"], 16), "x")
            if not serials or serials[-1][0] != serial:
                serials.append([serial, 0])
            serials[-1][1] += 1
    except Exception as exc:
        failures.append(f"{time.monotonic() - start:.2f} s: {exc!r}")
print(json.dumps({"serials": serials, "failures": failures}))
"""


class Unit:
    """The lab's load balancer with a layer-7 TLS service SHOP on 10.0.0.21:443 (files under root), changed
    by lbctl in its namespace, and a real HAProxy on the role's file whose runtime API lbctl finds."""

    def __init__(self, lab: Lab, folder: Path):
        self.lab, self.folder, self.root = lab, folder, folder / "root"
        self.haproxy: subprocess.Popen | None = None

    def lbctl(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        command = ["ip", "netns", "exec", self.lab.ns("lb"), sys.executable, "-m", "lbwizard.manage.lbctl"]
        environment = dict(os.environ) | (env or {})
        return subprocess.run(
            [*command, "--root", str(self.root), *args], capture_output=True, text=True, timeout=180, env=environment
        )

    def ok(self, *args: str) -> str:
        result = self.lbctl(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def config(self) -> model.ApplianceConfig:
        return model.loads((self.root / "etc/lbwizard/appliance.yaml").read_text())

    def start_haproxy(self) -> None:
        """HAProxy on the saved configuration's file, as the role renders it with the store under root."""
        if self.haproxy is not None:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
            self.lab.processes.remove(self.haproxy)
        config = self.config()
        sock = self.root / "run/haproxy/admin.sock"
        sock.parent.mkdir(parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)
        cfg = self.folder / "haproxy.cfg"
        cfg.write_text(
            render("haproxy", config, haproxy_stats_socket=str(sock), haproxy_services=haproxy_services(config, str(self.root)))
        )
        self.haproxy = self.lab.start_haproxy(cfg, sock, port=443)

    def write(self, name: str, data: bytes) -> str:
        path = self.folder / name
        path.write_bytes(data)
        return str(path)


@pytest.fixture(scope="module")
def unit(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("iptables-legacy-save"):
        pytest.skip("needs root and iptables-legacy (make test installs it)")
    lab = Lab()
    try:
        lab.build()
        folder = tmp_path_factory.mktemp("certificates")
        config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT | {"method": "snat"}))
        path = folder / "appliance.yaml"
        path.write_text(model.dumps(config))
        applied = lbwizard(lab, "apply", "--config", str(path), "--root", str(folder / "root"), "--no-handover")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        made = Unit(lab, folder)
        made.ok("vs", "add", "SHOP", "--address", "10.0.0.21", "--port", "443", "--layer", "7", "--tls", "yes")
        made.ok("rs", "add", "SHOP", "192.168.2.50:8080", "--name", "WEB1")
        made.ok("cert", "add", "shop", "--pem", made.write("shop.pem", SHOP.pem()))
        made.ok("cert", "add", "api", "--pem", made.write("api.pem", API.cert_pem + SHOP.intermediate.cert_pem + API.key_pem))
        made.ok("vs", "set", "SHOP", "--certificates", "shop,api")
        lab.start_http("rs1", "192.168.2.50", 8080, "WEB1")
        (folder / "roots.pem").write_bytes(SHOP.root.cert_pem)
        made.start_haproxy()
        yield made
    finally:
        lab.close()


def served(unit: Unit, server_name: str | None) -> str:
    """The subject of the certificate HAProxy presents to a client asking for server_name (None: no SNI)."""
    sni = ["-servername", server_name] if server_name else ["-noservername"]
    hello = unit.lab.run("client", "openssl", "s_client", "-connect", "10.0.0.21:443", *sni, "-showcerts", check=False)
    assert "BEGIN CERTIFICATE" in hello.stdout, hello.stdout + hello.stderr
    first = hello.stdout[hello.stdout.index("-----BEGIN CERTIFICATE-----") :]
    first = first[: first.index("-----END CERTIFICATE-----") + 25]
    subject = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=first, capture_output=True, text=True, check=True)
    return subject.stdout.strip().removeprefix("subject=").replace(" ", "")


def test_each_name_is_answered_with_its_own_certificate_and_others_with_the_first(unit):
    assert served(unit, "www.example.test") == "CN=www.example.test"
    assert served(unit, "example.test") == "CN=www.example.test"
    assert served(unit, "api.example.test") == "CN=api.example.test"
    assert served(unit, "unknown.example.test") == "CN=www.example.test"  # the default: the first named
    assert served(unit, None) == "CN=www.example.test"
    verified = unit.lab.run(
        "client", "openssl", "s_client", "-connect", "10.0.0.21:443", "-servername", "api.example.test",
        "-CAfile", str(unit.folder / "roots.pem"), "-verify_return_error", "-verify_hostname", "api.example.test", check=False,
    )  # fmt: skip
    assert "Verify return code: 0 (ok)" in verified.stdout, verified.stdout[-600:] + verified.stderr


class HttpsLoad:
    """HTTPS_LOAD from the client until stopped: a TLS handshake per request, by serial, and every failure."""

    def __init__(self, unit: Unit, address: str = "10.0.0.21", name: str = "www.example.test", roots: Path | None = None):
        self.stop_file = unit.folder / f"stop-{time.monotonic_ns()}"
        command = [sys.executable, "-c", HTTPS_LOAD, address, name, str(roots or unit.folder / "roots.pem"), str(self.stop_file)]
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", unit.lab.ns("client"), *command], stdout=subprocess.PIPE, text=True
        )
        time.sleep(2)  # handshakes with the old certificate first

    def result(self) -> dict:
        """Stopped a second after the change: handshakes with the new certificate too."""
        time.sleep(1)
        self.stop_file.touch()
        return json.loads(self.process.communicate(timeout=60)[0])


def renewed_shop() -> tuple[bytes, str]:
    leaf = issue("www.example.test", SHOP.intermediate, names=("www.example.test", "example.test"))
    return leaf.cert_pem + SHOP.intermediate.cert_pem + leaf.key_pem, format(leaf.certificate.serial_number, "x")


def test_a_new_content_is_swapped_in_under_load_with_no_failed_request_and_no_restart(unit):
    pid = unit.haproxy.pid
    old_serial = served_serial(unit)
    data, new_serial = renewed_shop()
    load = HttpsLoad(unit)
    started = time.monotonic()
    out = unit.ok("cert", "add", "shop", "--pem", unit.write("renewed.pem", data), "--replace")
    took = time.monotonic() - started
    seen = load.result()
    print(f"swap under load: lbctl took {took:.2f} s; handshakes by serial: {seen['serials']}")
    assert "HAProxy runtime: certificate shop's new content served (set ssl cert, no reload)" in out
    assert seen["failures"] == [], seen["failures"][:5]
    assert [serial for serial, _count in seen["serials"]] == [old_serial, new_serial], seen["serials"]
    assert unit.haproxy.poll() is None and unit.haproxy.pid == pid  # the same HAProxy all along
    stored = (
        unit.root
        / "etc/lbwizard/certificates"
        / f"{model.loads((unit.root / 'etc/lbwizard/appliance.yaml').read_text()).certificates[0].fingerprint}.pem"
    )
    assert stored.read_bytes() == data
    assert f"crt {stored} " in (unit.root / "etc/haproxy/haproxy.cfg").read_text()  # the next start reads it


def test_a_swap_is_undone_when_the_change_fails_after_it(unit):
    before = served_serial(unit)
    config_before = (unit.root / "etc/lbwizard/appliance.yaml").read_text()
    data, new_serial = renewed_shop()
    failed = unit.lbctl(
        "cert", "add", "shop", "--pem", unit.write("again.pem", data), "--replace", env={"LBWIZARD_TEST_FAULT_AFTER_STEP": "2"}
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "HAProxy runtime: certificate shop's new content served" in failed.stdout
    assert served_serial(unit) == before != new_serial
    assert (unit.root / "etc/lbwizard/appliance.yaml").read_text() == config_before
    assert not (unit.root / "etc/lbwizard/certificates" / f"{certificate_fingerprint(data)}.pem").exists()


def certificate_fingerprint(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def served_serial(unit: Unit, address: str = "10.0.0.21", name: str = "www.example.test") -> str:
    hello = unit.lab.run("client", "openssl", "s_client", "-connect", f"{address}:443", "-servername", name, check=False)
    serial = subprocess.run(
        ["openssl", "x509", "-noout", "-serial"], input=hello.stdout, capture_output=True, text=True, check=True
    )
    return serial.stdout.strip().removeprefix("serial=").lstrip("0").lower()


# -- ACME with pebble ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca(unit):
    """pebble in the client's namespace (the unit's "internet"): www.example.test is the unit's 10.0.0.21, where
    the layer-7 HTTP service VIP1 answers port 80; api.example.test is 10.0.0.22, where the TLS service API has
    only port 443 (HAProxy's own challenge listener answers there)."""
    if not pebble.available():
        pytest.skip("make test installs pebble")
    started = pebble.start(unit.lab, "client", "10.0.0.31", unit.folder / "pebble")
    started.add_a("www.example.test", "10.0.0.21")
    started.add_a("api.example.test", "10.0.0.22")
    unit.ok("vs", "add", "API", "--address", "10.0.0.22", "--port", "443", "--layer", "7", "--tls", "yes")
    unit.ok("rs", "add", "API", "192.168.2.50:8080", "--name", "WEB1")
    (unit.folder / "pebble-root.pem").write_bytes(started.root())
    return started


def acme(unit: Unit, ca: pebble.Pebble, *args: str) -> subprocess.CompletedProcess:
    return unit.lbctl("cert", *args, env={"REQUESTS_CA_BUNDLE": str(ca.https_ca)})


def verified(unit: Unit, address: str, name: str) -> str:
    """openssl s_client's verdict on what address serves for name, against pebble's root."""
    hello = unit.lab.run(
        "client", "openssl", "s_client", "-connect", f"{address}:443", "-servername", name,
        "-CAfile", str(unit.folder / "pebble-root.pem"), "-verify_return_error", "-verify_hostname", name, check=False,
    )  # fmt: skip
    return next((line.strip() for line in hello.stdout.splitlines() if "Verify return code" in line), hello.stderr[-300:])


def test_an_order_is_proved_through_the_units_haproxy_renewed_under_load_and_a_failed_one_changes_nothing(unit, ca):
    account = acme(unit, ca, "account", "--directory", ca.directory, "--email", "admin@example.test")
    assert account.returncode == 0, account.stdout + account.stderr
    thumbprint = unit.config().acme.thumbprint
    assert (
        "frontend lb_acme_challenge\n    mode http\n    bind 10.0.0.22:80\n"
        in (unit.root / "etc/haproxy/haproxy.cfg").read_text()
    )
    unit.start_haproxy()  # the hand-over's reload on the unit
    answer = unit.lab.run("client", "curl", "-sS", "http://10.0.0.22/.well-known/acme-challenge/abc_DEF-1")
    assert answer.stdout == f"abc_DEF-1.{thumbprint}"
    elsewhere = unit.lab.run("client", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://10.0.0.22/index.html")
    assert elsewhere.stdout == "404"  # the listener answers the challenge path only

    issued = acme(
        unit, ca, "acme", "web", "--domain", "www.example.test", "--domain", "api.example.test", "--directory", ca.directory
    )
    assert issued.returncode == 0, issued.stdout + issued.stderr
    assert "issued certificate web (www.example.test, api.example.test, until " in issued.stdout
    unit.ok("vs", "set", "API", "--certificates", "web")
    unit.start_haproxy()
    assert verified(unit, "10.0.0.22", "api.example.test") == "Verify return code: 0 (ok)"
    assert "PRIVATE KEY" not in (unit.root / "etc/lbwizard/appliance.yaml").read_text()

    not_due = acme(unit, ca, "renew")
    assert (not_due.returncode, not_due.stdout.strip()) == (0, "no ACME certificate is due for renewal"), not_due.stderr
    before = served_serial(unit, "10.0.0.22", "api.example.test")
    load = HttpsLoad(unit, "10.0.0.22", "api.example.test", unit.folder / "pebble-root.pem")
    renewed = acme(unit, ca, "renew", "web", "--force")
    seen = load.result()
    print(f"ACME renewal under load: handshakes by serial: {seen['serials']}")
    assert renewed.returncode == 0, renewed.stdout + renewed.stderr
    assert "HAProxy runtime: certificate web's new content served (set ssl cert, no reload)" in renewed.stdout
    assert seen["failures"] == [], seen["failures"][:5]
    after = served_serial(unit, "10.0.0.22", "api.example.test")
    assert [serial for serial, _ in seen["serials"]] == [before, after] and before != after
    metrics = (unit.root / "run/lbwizard/metrics/lbwizard_certificates.prom").read_text()
    assert 'lbwizard_certificate_expiry_seconds{name="web"} ' in metrics

    failed = acme(
        unit, ca, "acme", "web", "--domain", "api.example.test", "--domain", "nowhere.example.test", "--directory", ca.directory
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert (
        "ACME order for api.example.test, nowhere.example.test failed: the CA could not verify nowhere.example.test:"
        in failed.stderr
    )
    assert "the certificate in the store keeps serving" in failed.stderr
    assert served_serial(unit, "10.0.0.22", "api.example.test") == after
    assert verified(unit, "10.0.0.22", "api.example.test") == "Verify return code: 0 (ok)"
    diagnosed = unit.lbctl("diagnose")
    assert diagnosed.returncode == 1
    line = next(line for line in diagnosed.stdout.splitlines() if "certificate web: the ACME order" in line)
    assert "for api.example.test, nowhere.example.test failed: the CA could not verify nowhere.example.test" in line
    assert "the certificate it has keeps serving" in line


def test_a_rollback_after_a_restore_finds_the_store_it_had_whole(unit):
    """A restore brings the backup's store files beside the unit's own; lbwizard rollback after it goes back
    to the configuration before the restore, whose certificate files are all still there (kept versions
    name them), and HAProxy, started on what the rollback put back, serves that content."""
    unit.ok("backup", str(unit.folder / "unit.lbbackup"))
    leaf = issue("www.example.test", SHOP.intermediate, names=("www.example.test", "example.test"))
    unit.ok(
        "cert",
        "add",
        "shop",
        "--pem",
        unit.write("before.pem", leaf.cert_pem + SHOP.intermediate.cert_pem + leaf.key_pem),
        "--replace",
    )
    before = unit.config()
    unit.ok("restore", str(unit.folder / "unit.lbbackup"))
    assert certstore_fingerprint(unit.config(), "shop") != certstore_fingerprint(before, "shop")
    back = lbwizard(unit.lab, "rollback", "--root", str(unit.root))
    assert back.returncode == 0, back.stdout + back.stderr
    assert unit.config() == before
    for certificate in before.certificates:
        data = (unit.root / "etc/lbwizard/certificates" / f"{certificate.fingerprint}.pem").read_bytes()
        assert certificate_fingerprint(data) == certificate.fingerprint, certificate.name
    unit.start_haproxy()
    assert served_serial(unit) == format(leaf.certificate.serial_number, "x")


def certstore_fingerprint(config: model.ApplianceConfig, name: str) -> str:
    return next(c.fingerprint for c in config.certificates if c.name == name)

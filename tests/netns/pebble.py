"""Debian's pebble (RFC 8555's test CA) and pebble-challtestsrv (its DNS) in a lab namespace, offline.

pebble serves its ACME directory over HTTPS with a certificate made here (for its address), resolves names
through challtestsrv's DNS (names are added as A records; any other name is 127.0.0.1, so it never reaches
the unit), proves HTTP-01 on port 80, and issues from a root of its own, read from its management port.
No sleep before validation (PEBBLE_VA_NOSLEEP), no nonce rejected for practice (PEBBLE_WFE_NONCEREJECT=0).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.certificates import issue

ACME_PORT, MANAGEMENT_PORT, DNS_PORT, DNS_MANAGEMENT_PORT = 14000, 15000, 8053, 8055


def available() -> bool:
    return bool(shutil.which("pebble") and shutil.which("pebble-challtestsrv"))


@dataclass
class Pebble:
    lab: object
    namespace: str
    address: str
    folder: Path
    https_ca: Path  # what the unit trusts pebble's own HTTPS with (REQUESTS_CA_BUNDLE)

    @property
    def directory(self) -> str:
        return f"https://{self.address}:{ACME_PORT}/dir"

    def add_a(self, name: str, address: str) -> None:
        """name resolves to address for pebble's validation."""
        body = json.dumps({"host": name, "addresses": [address]})
        url = f"http://{self.address}:{DNS_MANAGEMENT_PORT}/add-a"
        self.lab.run(self.namespace, "curl", "-sSf", "--max-time", "5", "--data", body, url)

    def root(self) -> bytes:
        """The root pebble issues from (a new one each start)."""
        url = f"https://{self.address}:{MANAGEMENT_PORT}/roots/0"
        return self.lab.run(
            self.namespace, "curl", "-sSf", "--max-time", "5", "--cacert", str(self.https_ca), url
        ).stdout.encode()


def start(lab, namespace: str, address: str, folder: Path, validity_seconds: int = 3600) -> Pebble:
    """challtestsrv and pebble in namespace (the lab stops both by PID); returns once both answer."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = issue("pebble HTTPS test CA", ca=True)
    server = issue("pebble", ca, names=("pebble",), not_after=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=2))
    server = _with_ip(server, ca, address)
    (folder / "https-ca.pem").write_bytes(ca.cert_pem)
    (folder / "cert.pem").write_bytes(server.certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(server.key_pem)
    config = {
        "pebble": {
            "listenAddress": f"{address}:{ACME_PORT}",
            "managementListenAddress": f"{address}:{MANAGEMENT_PORT}",
            "certificate": str(folder / "cert.pem"),
            "privateKey": str(folder / "key.pem"),
            "httpPort": 80,
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "certificateValidityPeriod": validity_seconds,
        }
    }
    (folder / "pebble.json").write_text(json.dumps(config))
    netns = ["ip", "netns", "exec", lab.ns(namespace)]
    dns = [
        "pebble-challtestsrv",
        f"-dns01={address}:{DNS_PORT}",
        f"-management={address}:{DNS_MANAGEMENT_PORT}",
        "-http01=",
        "-https01=",
        "-tlsalpn01=",
        "-defaultIPv6=",
    ]
    environment = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0", PEBBLE_AUTHZREUSE="0")
    logs = (folder / "challtestsrv.log").open("w"), (folder / "pebble.log").open("w")
    lab.processes.append(subprocess.Popen([*netns, *dns], stdout=logs[0], stderr=subprocess.STDOUT))
    command = ["pebble", "-config", str(folder / "pebble.json"), "-dnsserver", f"{address}:{DNS_PORT}"]
    lab.processes.append(subprocess.Popen([*netns, *command], stdout=logs[1], stderr=subprocess.STDOUT, env=environment))
    found = Pebble(lab, namespace, address, folder, folder / "https-ca.pem")
    deadline = time.monotonic() + 20
    while True:
        listening = lab.run(namespace, "ss", "-ltnH").stdout
        if all(f"{address}:{port} " in listening for port in (ACME_PORT, MANAGEMENT_PORT, DNS_MANAGEMENT_PORT)):
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"pebble did not start: {(folder / 'pebble.log').read_text()[-1500:]}")
        time.sleep(0.1)


def _with_ip(issued, ca, address: str):
    """pebble's HTTPS certificate for its address (an IP SAN), signed by ca."""
    from cryptography.hazmat.primitives import hashes

    builder = (
        x509.CertificateBuilder()
        .subject_name(issued.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(issued.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued.certificate.not_valid_before_utc)
        .not_valid_after(issued.certificate.not_valid_after_utc)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), critical=False)
    )
    return type(issued)(builder.sign(ca.key, hashes.SHA256()), issued.key)

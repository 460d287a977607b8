"""Certificates for tests, made with cryptography: a root, an intermediate, server certificates for names."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.UTC)


@dataclass
class Issued:
    certificate: Any
    key: Any

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def issue(
    common: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    names: tuple[str, ...] = (),
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    key: Any = None,
) -> Issued:
    """A certificate for common (and names as SANs), signed by issuer (None: self-signed)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(issuer.certificate.subject if issuer else _name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    certificate = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(certificate, key)


@dataclass
class Chain:
    root: Issued
    intermediate: Issued
    leaf: Issued

    def pem(self) -> bytes:
        """The usual fullchain + key file: server certificate, intermediate, key."""
        return self.leaf.cert_pem + self.intermediate.cert_pem + self.leaf.key_pem


def chain(*names: str, not_after: datetime.datetime | None = None) -> Chain:
    root = issue("Test Root", ca=True, not_after=NOW + datetime.timedelta(days=3650))
    intermediate = issue("Test Intermediate", root, ca=True, not_after=NOW + datetime.timedelta(days=1000))
    leaf = issue(names[0], intermediate, names=names, not_after=not_after)
    return Chain(root, intermediate, leaf)

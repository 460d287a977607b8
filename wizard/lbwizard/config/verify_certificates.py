"""The rules of the certificate store and of the TLS services that name its certificates.

Each certificate's content is judged when it comes in (pem.py); here, what appliance.yaml says of them
must fit together: one name and one content per certificate, every name a service gives in the store, a
service either on the store or on the older PEM path, and an ACME certificate with the names it is for.
"""

from __future__ import annotations

from collections.abc import Iterator

from .kinds import shown
from .model import ApplianceConfig


def check(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    yield from _store(config)
    yield from _services(config)


def _store(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    names: dict[str, int] = {}
    contents: dict[str, str] = {}
    for index, certificate in enumerate(config.certificates):
        field = f"certificates[{index}]"
        if certificate.name in names:
            yield (
                f"{field}.name",
                f"the name {certificate.name} is taken by certificates[{names[certificate.name]}]; choose another",
            )
        names.setdefault(certificate.name, index)
        if certificate.fingerprint in contents:
            yield (
                f"{field}.fingerprint",
                f"certificate {certificate.name} is the same content as {contents[certificate.fingerprint]}; "
                "name that one in the services instead",
            )
        contents.setdefault(certificate.fingerprint, certificate.name)
        if certificate.acme is not None and not certificate.acme.domains:
            yield f"{field}.acme.domains", f"certificate {certificate.name}: ACME needs the names it is for (--domain)"


def _services(config: ApplianceConfig) -> Iterator[tuple[str, str]]:
    known = [c.name for c in config.certificates]
    for index, service in enumerate(config.virtual_services):
        if not service.certificates:
            continue
        field = f"virtual_services[{index}].certificates"
        label = f"virtual service {service.name}"
        if not service.tls:
            yield field, f"{label}: certificates without tls: yes are never used; set tls or leave them out"
        if service.tls_certificate is not None:
            yield (
                f"virtual_services[{index}].tls_certificate",
                f"{label}: give the store's certificates or a PEM path, not both (--tls-certificate none)",
            )
        for number, name in enumerate(service.certificates):
            if name not in known:
                listed = ", ".join(known) or "none yet: lbctl cert add NAME --pem FILE"
                yield f"{field}[{number}]", f"{label}: no certificate {shown(name)} in the store (there are: {listed})"

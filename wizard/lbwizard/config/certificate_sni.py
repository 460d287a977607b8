"""Which certificate HAProxy answers a name with, against what clients accept, for a service naming several.

HAProxy indexes each certificate of a bind line by its SANs and by its subject's common name; clients (RFC
6125, every browser) look at the SANs only when there are any. So a certificate whose common name is not
among its own SANs, on a service with another certificate that holds that name (exactly, or by a wildcard,
which an exact name beats whatever the order), is what HAProxy answers that name with, and every client
refuses it. A change that makes such a service is refused by field (an EditError, before a pair's peer is
asked); one a unit already has, or goes back to (a rollback, an undo), is not. A certificate alone on its
service is the default anyway.
"""

from __future__ import annotations

from collections.abc import Iterator

from . import certstore, pem
from .edit import EditError
from .kinds import printable_text
from .model import ApplianceConfig
from .paths import Paths


def _names(paths: Paths, fingerprint: str) -> tuple[set[str], set[str]] | None:
    """(its DNS SANs, its common names not among them), lowercase as HAProxy keeps them; None: unreadable."""
    from cryptography import x509

    try:
        data = certstore.offered().get(fingerprint) or certstore.read(paths, fingerprint)
        leaf = pem.stored(data).leaf
    except (certstore.StoreError, pem.PemError):
        return None  # said by the store's own check
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None  # no SANs: clients that take it at all read its common name too
    dns = {str(n).lower() for n in sans.get_values_for_type(x509.DNSName)}
    common = {str(a.value).lower() for a in leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)}
    return dns, common - dns


def _holds(sans: set[str], name: str) -> bool:
    label, _, rest = name.partition(".")
    return name in sans or bool(label and rest and f"*.{rest}" in sans)


def problems(config: ApplianceConfig, paths: Paths) -> Iterator[tuple[str, str]]:
    contents = {c.name: c.fingerprint for c in config.certificates}
    for index, service in enumerate(config.virtual_services):
        if len(service.certificates) < 2 or not service.tls:
            continue
        read = {name: _names(paths, contents[name]) for name in service.certificates if name in contents}
        for number, name in enumerate(service.certificates):
            if read.get(name) is None:
                continue
            for stray in sorted(read[name][1]):
                holder = next(
                    (other for other, found in read.items() if other != name and found and _holds(found[0], stray)), None
                )
                if holder is not None:
                    yield (
                        f"virtual_services[{index}].certificates[{number}]",
                        f"virtual service {service.name}: certificate {name}'s common name {printable_text(stray)[:80]} "
                        f"is not among its names (SANs), yet HAProxy would answer {printable_text(stray)[:80]} with it "
                        f"rather than with {holder}, and every client refuses it for that name; have {name} issued with "
                        "that name among its SANs, or leave one of them out",
                    )


def refuse_new(previous: ApplianceConfig, new: ApplianceConfig, paths: Paths) -> ApplianceConfig:
    """new, unless it makes a service whose certificates HAProxy would pick wrongly (EditError, the first)."""
    had = {message for _field, message in problems(previous, paths)}
    for field, message in problems(new, paths):
        if message not in had:
            raise EditError(field, message)
    return new

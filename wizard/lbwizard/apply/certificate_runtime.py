"""A certificate's new content into the running HAProxy at once, without a reload (set ssl cert, commit ssl cert).

A change that replaces the content of a certificate TLS services name (lbctl cert add --replace, an ACME
renewal, the pair's peer taking either) brings the new content (config/certstore.offering). HAProxy's
entry for the certificate is the one loaded from the old content's file, else the one entry serving the old
content (found by its SHA-1: after an earlier swap its name is an older file's path); the step swaps it, and
its undo swaps that entry back, unless HAProxy already serves the old content again (a reload of the file
put back). Where HAProxy does not serve the old content, or serves it from more than one other file (two
store certificates with one server certificate and different chains: which one is this cannot be told), or
the new one is not offered, nothing is swapped and the hand-over reloads HAProxy as for any other change.
"""

from __future__ import annotations

from ..config import certstore
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..engines.access import Engines
from ..engines.errors import EngineError
from .step import Step


def used_contents(config: ApplianceConfig) -> dict[str, str]:
    """Certificate name -> fingerprint, for the certificates a layer-7 TLS service presents."""
    used = {name for s in config.virtual_services if s.layer == 7 and s.tls for name in s.certificates}
    return {c.name: c.fingerprint for c in config.certificates if c.name in used}


def sha1_of(data: bytes) -> str:
    """The SHA-1 HAProxy shows of a PEM's first certificate (show ssl cert's 'SHA1 FingerPrint')."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(data).fingerprint(hashes.SHA1()).hex()


def swaps(before: ApplianceConfig, after: ApplianceConfig, engines: Engines, paths: Paths | None) -> tuple[list[Step], set[str]]:
    """The swap steps for certificates whose content changes while the same services keep presenting them,
    and the names swapped. A name HAProxy does not serve, or whose contents cannot be read, is left to the
    reload (NotAsked in a dry run is the caller's)."""
    if paths is None:
        return [], set()
    old, new = used_contents(before), used_contents(after)
    changed = sorted(name for name in new if name in old and old[name] != new[name])
    if not changed or not engines.haproxy_reachable():
        return [], set()
    serving = engines.haproxy_certificates()
    offered = certstore.offered()
    steps, swapped = [], set()
    for name in changed:
        try:
            old_pem = offered.get(old[name]) or certstore.read(paths, old[name])
            new_pem = offered.get(new[name]) or certstore.read(paths, new[name])
        except certstore.StoreError:
            continue
        own = str(certstore.path_of(paths, old[name]))
        if _entry(serving, sha1_of(old_pem), own) is None:
            continue
        steps.append(_swap_step(engines, name, old_pem, new_pem, own))
        swapped.add(name)
    return steps, swapped


def _entry(serving: dict[str, str], serving_sha1: str, own: str) -> str | None:
    """HAProxy's entry for a certificate: the one loaded from its own file, else the only one serving its
    content; None when none serves it, or several other files do."""
    entries = [entry for entry, sha1 in serving.items() if sha1 == serving_sha1]
    if own in entries:
        return own
    return entries[0] if len(entries) == 1 else None


def _swap_step(engines: Engines, name: str, old_pem: bytes, new_pem: bytes, own: str) -> Step:
    old_sha1, new_sha1 = sha1_of(old_pem), sha1_of(new_pem)
    swapped: list[str] = []  # the entry do() swapped, which undo() swaps back

    def do() -> None:
        serving = engines.haproxy_certificates()
        entry = _entry(serving, old_sha1, own)
        if entry is None:
            if new_sha1 in serving.values():
                return  # it serves the new content already
            raise EngineError(f"HAProxy no longer serves the certificate {name} it had; it cannot be swapped")
        engines.haproxy_replace_certificate(entry, new_pem.decode())
        swapped.append(entry)

    def undo() -> None:
        if not engines.haproxy_reachable():
            return
        serving = engines.haproxy_certificates()
        entry = swapped[-1] if swapped else _entry(serving, new_sha1, own)
        if entry is not None and serving.get(entry) == new_sha1:
            engines.haproxy_replace_certificate(entry, old_pem.decode())

    return Step(f"HAProxy runtime: certificate {name}'s new content served (set ssl cert, no reload)", do, undo)


def reverted(after: ApplianceConfig, before: ApplianceConfig, names: set[str]) -> dict[str, str]:
    """after's used contents with the swapped names back at before's: what the swaps leave to the files."""
    old = used_contents(before)
    return {name: (old[name] if name in names else fingerprint) for name, fingerprint in used_contents(after).items()}

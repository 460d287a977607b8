"""Day-2 edits of the certificate store in appliance.yaml: add, replace and remove a certificate by name.

Pure functions over a config copy, as edit.py's: the content itself comes with the change
(certstore.offering), and what the admin names that is not there, or may not go, is an EditError.
"""

from __future__ import annotations

import copy

from .edit import EditError
from .kinds import KindError, shown
from .model import NAME, ApplianceConfig, Certificate, CertificateAcme

RESERVED = ("none",)  # lbctl vs set --certificates none clears the list


def checked_name(name: str) -> str:
    """A certificate's name as every path takes it (the NAME kind; 'none' is lbctl's word for no certificate)."""
    try:
        NAME.parse(name)
    except KindError as exc:
        raise EditError("name", str(exc)) from None
    if name.lower() in RESERVED:
        raise EditError("name", f"{name!r} means no certificate to lbctl vs set --certificates; choose another name")
    return name


def put(
    config: ApplianceConfig, name: str, fingerprint: str, *, replace: bool = False, acme: CertificateAcme | None = None
) -> ApplianceConfig:
    """The config with certificate name holding the content of fingerprint: added, or (replace) its content
    swapped, which the services naming it then present. An uploaded content ends ACME's renewal of it."""
    checked_name(name)
    result = copy.deepcopy(config)
    same = next((c for c in result.certificates if c.fingerprint == fingerprint), None)
    if same is not None and same.name != name:
        raise EditError("certificate", f"this content is in the store already as {same.name}; name that one instead")
    found = next((c for c in result.certificates if c.name == name), None)
    if found is None:
        result.certificates.append(Certificate(name, fingerprint, acme))
        return result
    if not replace:
        raise EditError("name", f"certificate {name} is in the store already; --replace swaps its content, or choose another")
    if found.fingerprint == fingerprint and found.acme == acme:
        raise EditError("certificate", f"certificate {name} has this content already; nothing to change")
    found.fingerprint = fingerprint
    found.acme = acme
    return result


def remove(config: ApplianceConfig, name: str) -> ApplianceConfig:
    """The config without certificate name; refused while a virtual service names it."""
    result = copy.deepcopy(config)
    found = next((c for c in result.certificates if c.name == name), None)
    if found is None:
        known = ", ".join(c.name for c in result.certificates) or "none yet"
        raise EditError("name", f"no certificate {shown(name)} in the store (there are: {known})")
    if users := [s.name for s in result.virtual_services if name in s.certificates]:
        raise EditError(
            "name",
            f"certificate {name} is used by {', '.join(users)}; give those services another first "
            f"(lbctl vs set {users[0]} --certificates ...)",
        )
    result.certificates.remove(found)
    return result

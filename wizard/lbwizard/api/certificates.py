"""The certificate store over the API, one endpoint per `lbctl cert` command, each run as lbctl runs it (so the
JSON is lbctl --json's own, and a change takes the one path: the store's file with the version naming it).

A certificate is uploaded as the request's body, the PEM itself (certificate, chain, key), read bounded at
lbctl's own limit for a PEM file and handed to `lbctl cert add NAME --pem -` on its standard input: lbctl judges
it whole (config/pem.py) before anything changes, and no key is ever in an answer.
"""

from __future__ import annotations

from starlette.responses import Response

from ..config import certstore, pem
from ..config.model import NAME
from .bodies import raw_body
from .call import Call, Endpoint, ref
from .problems import bad_input, not_found

PEM_MEDIA = "application/x-pem-file"


async def _known(call: Call) -> str:
    """The path's certificate name, 404 when the store has none of that name."""
    name = call.param("name")
    config, _ = await call.configuration()
    if certstore.find(config, name) is None:
        known = ", ".join(c.name for c in config.certificates) or "none yet"
        raise not_found("name", f"no certificate {name[:60]!r} in the store (there are: {known})")
    return name


async def list_certificates(call: Call) -> Response:
    return await call.lbctl_read(["cert", "list"])


async def show_certificate(call: Call) -> Response:
    return await call.lbctl_read(["cert", "show", "--", await _known(call)])


async def add_certificate(call: Call) -> Response:
    data = await raw_body(call.request, pem.FILE_LIMIT)
    replace = ["--replace"] if call.request.query_params.get("replace") in ("yes", "true") else []
    return await call.change(["cert", "add", "--pem=-", *replace, "--", call.param("name")], data=data)


async def remove_certificate(call: Call) -> Response:
    return await call.change(["cert", "remove", "--", await _known(call)])


async def order_certificate(call: Call) -> Response:
    body = await call.json()
    if unknown := [key for key in body if key not in ("domains", "directory", "email")]:
        raise bad_input([(key[:40], "not a setting taken here; these are: domains, directory, email") for key in unknown])
    domains, directory, email = body.get("domains"), body.get("directory"), body.get("email")
    problems = []
    if not isinstance(domains, list) or not domains or not all(isinstance(d, str) for d in domains):
        problems.append(("domains", 'expected a list of the names it is for, e.g. ["shop.example.com"]'))
    for key, value in (("directory", directory), ("email", email)):
        if value is not None and not isinstance(value, str):
            problems.append((key, "expected text"))
    if problems:
        raise bad_input(problems)
    words = ["cert", "acme", *(f"--domain={domain}" for domain in domains)]
    words += [f"--directory={directory}"] if directory is not None else []
    words += [f"--email={email}"] if email is not None else []
    return await call.change([*words, "--", call.param("name")])


CERTIFICATE_SCHEMAS = {
    "PemFile": {
        "type": "string",
        "contentMediaType": PEM_MEDIA,
        "description": f"the certificate, its chain (the nearest issuer first) and its unencrypted key, PEM; at most "
        f"{pem.FILE_LIMIT // 1024} KiB",
    },
    "CertificateRow": {
        "type": "object",
        "description": "lbctl cert list --json: a certificate of the store, never its key",
        "properties": {
            "name": NAME.json_schema(),
            "fingerprint": {"type": "string", "description": "the SHA-256 of its file in the store"},
            "used_by": {"type": "array", "items": {"type": "string"}, "description": "the TLS services that present it"},
            "acme": {"type": ["boolean", "object", "null"], "description": "issued and renewed by ACME"},
            "problem": {"type": ["string", "null"], "description": "why its file cannot be read, if it cannot"},
            "seconds_left": {"type": ["number", "null"], "description": "until it expires"},
            **{key: {"type": "string"} for key in ("subject", "issuer", "not_before", "not_after", "serial", "key")},
            "names": {"type": "array", "items": {"type": "string"}, "description": "the DNS names and addresses it is for"},
        },
    },
}
CERTIFICATE_ENDPOINTS = [
    Endpoint("GET", "/certificates", list_certificates, "The certificate store: names, issuer, expiry, users "
             "(lbctl cert list)", {"type": "array", "items": ref("CertificateRow")}),
    Endpoint("GET", "/certificates/{name}", show_certificate, "One certificate, whole but for its key (lbctl cert show)",
             ref("CertificateRow")),
    Endpoint("PUT", "/certificates/{name}", add_certificate, "Store a certificate under this name: the body is its PEM "
             "(lbctl cert add NAME --pem -; ?replace=yes swaps the content of one in the store, without a reload)",
             ref("ChangeResult"), change=True, body="PemFile", body_media=PEM_MEDIA),
    Endpoint("DELETE", "/certificates/{name}", remove_certificate, "Remove a certificate no service uses (lbctl cert "
             "remove)", ref("ChangeResult"), change=True),
    Endpoint("POST", "/certificates/{name}/acme", order_certificate, "Order it from an ACME CA by HTTP-01, and renew it "
             "at two thirds of its life (lbctl cert acme)", ref("ChangeResult"), change=True, body="CertificateAcme"),
]  # fmt: skip

"""The certificate store over the API (lbctl cert list|show|add|remove|acme): the PEM is the body, read bounded and
judged whole by lbctl before anything changes; the reads are lbctl --json's own; no key is ever in an answer."""

from __future__ import annotations

import json

from lbwizard.config import pem
from tests.api.conftest import lbctl, newest, saved_text
from tests.certificates import chain

PEM = {"Content-Type": "application/x-pem-file"}


def lbctl_json(server, *args: str) -> object:
    result = lbctl(server.root, "--json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def timeless(found):
    """lbctl's JSON without seconds_left, which the two reads take at different instants."""
    if isinstance(found, list):
        return [timeless(item) for item in found]
    return {key: value for key, value in found.items() if key != "seconds_left"}


def put(server, name: str, data: bytes, query: str = "", **extra):
    return server.request("PUT", f"/certificates/{name}{query}", raw=data, headers=PEM, **extra)


def refused(server, status: int, answer_of):
    before, version = saved_text(server.root), newest(server.root)
    answer = answer_of()
    assert answer.status == status, answer.body
    assert saved_text(server.root) == before and newest(server.root) == version
    return answer


def test_a_certificate_uploaded_listed_shown_replaced_and_removed(server):
    first, second = chain("shop.example.com", "www.shop.example.com"), chain("shop.example.com")
    answer = put(server, "shop", first.pem())
    assert answer.status == 200 and answer.body["version"] == newest(server.root), answer.body
    assert answer.body["change"].startswith("added certificate shop (shop.example.com, www.shop.example.com, until ")
    listed = server.request("GET", "/certificates", token="reader")
    assert listed.status == 200 and timeless(listed.body) == timeless(lbctl_json(server, "cert", "list"))
    shown = server.request("GET", "/certificates/shop", token="reader")
    assert shown.status == 200 and timeless(shown.body) == timeless(lbctl_json(server, "cert", "show", "shop"))
    assert shown.body["names"] == ["shop.example.com", "www.shop.example.com"]
    key_text = first.leaf.key_pem.decode().splitlines()[1]
    assert key_text not in json.dumps(listed.body) + json.dumps(shown.body)
    assert "name" in refused(server, 422, lambda: put(server, "shop", second.pem())).errors  # add never replaces
    answer = put(server, "shop", second.pem(), "?replace=yes")
    assert answer.status == 200 and answer.body["change"].startswith("replaced certificate shop"), answer.body
    assert server.request("GET", "/certificates/shop").body["fingerprint"] != shown.body["fingerprint"]
    service = {"name": "SHOPTLS", "address": "10.0.0.44", "port": 443, "layer": 7, "forwarding": "snat"}
    service |= {"scheduler": "roundrobin", "tls": True, "certificates": ["shop"]}
    assert server.request("POST", "/virtual-services", service).status == 200
    assert "name" in refused(server, 422, lambda: server.request("DELETE", "/certificates/shop")).errors  # in use
    assert server.request("DELETE", "/virtual-services/SHOPTLS").status == 200
    assert server.request("DELETE", "/certificates/shop").status == 200
    assert server.request("GET", "/certificates").body == []


def test_a_bad_pem_is_refused_naming_it_and_nothing_changes(server):
    issued = chain("bad.example.com")
    for data, word in [
        (b"not a certificate at all\n", "--pem"),
        (issued.leaf.cert_pem, "--pem"),  # no key
        (issued.leaf.cert_pem + chain("other.example.com").leaf.key_pem, "--pem"),  # a key of another certificate
    ]:
        answer = refused(server, 422, lambda data=data: put(server, "bad", data))
        assert word in answer.errors, answer.body
    assert "name" in refused(server, 422, lambda: put(server, "bad%20name", issued.pem())).errors


def test_the_body_is_read_bounded_and_the_rights_are_checked(server):
    too_big = b"-" * (pem.FILE_LIMIT + 1)
    answer = refused(server, 413, lambda: put(server, "big", too_big))
    assert f"{pem.FILE_LIMIT // 1024} KiB" in answer.body["detail"]
    assert refused(server, 422, lambda: put(server, "empty", b"")).errors == {"body": "send the file as the body"}
    refused(server, 403, lambda: put(server, "ro", chain("ro.example.com").pem(), token="reader"))
    refused(server, 401, lambda: put(server, "anon", chain("anon.example.com").pem(), token=None))
    assert server.request("GET", "/certificates/nothing").status == 404
    assert refused(server, 404, lambda: server.request("DELETE", "/certificates/nothing")).errors["name"]


def test_an_acme_order_is_lbctls_and_a_dry_run_refuses_it(server):
    answer = refused(server, 422, lambda: server.request("POST", "/certificates/web/acme", {"domains": ["www.example.com"]}))
    assert "--dry-run" in answer.errors  # lbctl's own refusal: a dry run asks no CA
    for body, field in [({}, "domains"), ({"domains": "www.example.com"}, "domains"), ({"domains": ["a"], "x": 1}, "x")]:
        assert field in refused(server, 422, lambda body=body: server.request("POST", "/certificates/web/acme", body)).errors
    assert (
        "--domain"
        in refused(server, 422, lambda: server.request("POST", "/certificates/web/acme", {"domains": ["-bad-"]})).errors
    )


def test_the_document_names_the_certificate_paths(server):
    paths = server.request("GET", "/openapi.json", token=None).body["paths"]
    put_operation = paths["/api/v1/certificates/{name}"]["put"]
    pem_file = {"schema": {"$ref": "#/components/schemas/PemFile"}}
    assert put_operation["requestBody"]["content"] == {"application/x-pem-file": pem_file}
    assert {"get", "put", "delete"} <= set(paths["/api/v1/certificates/{name}"])
    assert paths["/api/v1/certificates/{name}/acme"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CertificateAcme"
    }


def test_the_apis_own_setting_is_lbctls(server):
    shown = server.request("GET", "/listen", token="reader")
    assert shown.status == 200 and shown.body == lbctl_json(server, "api", "show") and shown.body["port"] == 9443
    answer = server.request("PUT", "/listen", {"port": 8443})
    assert answer.status == 200 and answer.body["change"] == "the API's port is now 8443", answer.body
    assert server.request("GET", "/listen").body["urls"][0] == "https://10.0.0.21:8443/"
    for body, field in [({"port": 22}, "api.port"), ({"port": "x"}, "port"), ({"enabled": "no"}, "enabled"),
                        ({"enabled": True, "port": 9443}, "body"), ({"colour": 1}, "colour")]:  # fmt: skip
        assert field in refused(server, 422, lambda body=body: server.request("PUT", "/listen", body)).errors
    assert server.request("PUT", "/listen", {"port": 9443}).status == 200

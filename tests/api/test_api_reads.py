"""The API's reads over real HTTPS: the same JSON lbctl --json prints, the configuration tagged with its
version, tokens required, and an OpenAPI document that validates and names every lbctl option."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from lbwizard.config.options import SERVER_NAME, SERVER_OPTIONS, SERVICE_OPTIONS
from tests.api.conftest import lbctl, newest


def lbctl_json(server, *args: str) -> object:
    result = lbctl(server.root, "--json", *args)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_configuration_reads_are_lbctls_json_tagged_with_the_version(server):
    version = newest(server.root)
    listed = server.request("GET", "/virtual-services")
    assert listed.status == 200 and listed.headers["etag"] == f'"{version}"'
    assert listed.body == lbctl_json(server, "vs", "list")
    one = server.request("GET", "/virtual-services/VIP1")
    assert one.body == lbctl_json(server, "vs", "show", "VIP1") and one.headers["etag"] == f'"{version}"'
    servers = server.request("GET", "/virtual-services/VIP1/real-servers")
    assert servers.body == one.body["real_servers"]
    for key in ("RIP1", "192.168.2.50", "192.168.2.50:80"):
        assert server.request("GET", f"/virtual-services/VIP1/real-servers/{key}").body == servers.body[0]
    whole = server.request("GET", "/config")
    assert whole.body["virtual_services"] == listed.body and whole.body["version"] == 1
    same = server.request("GET", "/virtual-services", headers={"If-None-Match": f'"{version}"'})
    assert same.status == 304 and same.body is None


@pytest.mark.parametrize(
    "path, field",
    [
        ("/virtual-services/NOPE", "vs"),
        ("/virtual-services/NOPE/real-servers", "vs"),
        ("/virtual-services/VIP1/real-servers/RIP99", "rs"),
        ("/history/9999", "version"),
        ("/history/x1", "version"),
        ("/history/1/diff/9999", "version"),
    ],
)
def test_what_is_not_there_is_404_naming_it(server, path, field):
    answer = server.request("GET", path)
    assert answer.status == 404 and field in answer.errors, answer.body


def test_status_diagnose_and_history_are_lbctls_json(server):
    status = server.request("GET", "/status").body
    assert status == lbctl_json(server, "status")
    assert server.request("GET", "/diagnose").body == lbctl_json(server, "diagnose")
    rows = server.request("GET", "/history").body
    assert rows == lbctl_json(server, "history") and rows[-1]["current"]


def test_one_version_and_the_difference_of_two(server):
    added = server.request("POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.99", "weight": 4})
    assert added.status == 200, added.body
    version = added.body["version"]
    one = server.request("GET", f"/history/{version}").body
    assert one["version"] == version and one["record"]["via"].startswith("api token admin")
    assert "192.168.2.99" in {s["address"] for s in one["config"]["virtual_services"][0]["real_servers"]}
    diff = server.request("GET", f"/history/{version - 1}/diff/{version}").body
    paths = [c["path"] for c in diff["changes"]]
    assert paths == ["virtual_services['VIP1'].real_servers['RIP2']"], diff
    assert diff["changes"][0]["from"] is None and diff["changes"][0]["to"]["weight"] == 4
    assert "+    address: 192.168.2.99" in diff["diff"]


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer lbw_wrong", "Basic YWRtaW46YWRtaW4=", "bearer  "])
def test_without_a_good_token_every_endpoint_is_401(server, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    for method, path in [("GET", "/status"), ("GET", "/virtual-services"), ("POST", "/rollback")]:
        answer = server.request(method, path, token=None, headers=headers)
        assert answer.status == 401 and answer.headers["www-authenticate"].startswith("Bearer"), answer.body


def test_a_removed_token_is_refused_at_once(server):
    from tests.api.conftest import token

    made = token(server.root, "short-lived")
    assert server.request("GET", "/status", token=made).status == 200
    assert lbctl(server.root, "api", "token", "remove", "short-lived").returncode == 0
    assert server.request("GET", "/status", token=made).status == 401


def test_unknown_paths_and_methods_are_problems_too(server):
    assert server.request("GET", "/nothing").status == 404
    assert server.request("DELETE", "/status").status == 405


def test_the_openapi_document_validates_and_names_every_lbctl_option(server):
    answer = server.request("GET", "/openapi.json", token=None)
    assert answer.status == 200
    document = answer.body
    validate(document)
    schemas = document["components"]["schemas"]

    def resolve(schema: dict, path: str) -> dict:
        for part in path.split("."):
            while "$ref" in schema or "anyOf" in schema:
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
                else:
                    schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
            assert part in schema["properties"], (path, sorted(schema["properties"]))
            schema = schema["properties"][part]
        return schema

    for option in SERVICE_OPTIONS:
        resolve(schemas["VirtualServiceNew"], option.path)
        resolve(schemas["VirtualServiceChange"], option.path)
    for option in [SERVER_NAME, *SERVER_OPTIONS]:
        resolve(schemas["RealServerNew"], option.path)
        resolve(schemas["RealServerChange"], option.path)
    body = document["paths"]["/api/v1/virtual-services"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/VirtualServiceNew"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "401" in operation["responses"], (method, path)
            if method != "get" and not path.endswith(("/session", "/restore/check")):  # a change of the unit
                assert {"403", "409", "412", "413", "422"} <= set(operation["responses"]), (method, path)
            elif method == "post" and path.endswith("/restore/check"):  # a check: nothing changes, nothing to lock
                assert {"403", "413", "422"} <= set(operation["responses"]), (method, path)

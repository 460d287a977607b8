"""The unit's own settings over the API, one endpoint per lbctl command (access, keys, time, logging, metrics,
pair): the JSON is lbctl --json's own, values never pass for options, and the access guards protect the
API's caller as they protect an SSH session."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.api.conftest import lbctl, newest, saved_text


def lbctl_json(server, *args: str) -> object:
    result = lbctl(server.root, "--json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def made(server, method: str, path: str, body: object = None) -> dict:
    answer = server.request(method, path, body)
    assert answer.status == 200, answer.body
    assert answer.body["ok"] and answer.body["version"] == newest(server.root)
    return answer.body


def refused(server, status: int, method: str, path: str, body: object = None, **extra):
    before, version = saved_text(server.root), newest(server.root)
    answer = server.request(method, path, body, **extra)
    assert answer.status == status, answer.body
    assert saved_text(server.root) == before and newest(server.root) == version
    return answer


@pytest.mark.parametrize(
    "path, words",
    [
        ("/access", ["access", "show"]),
        ("/access/keys", ["access", "key", "list"]),
        ("/time", ["time", "show"]),
        ("/logging", ["logging", "show"]),
        ("/metrics", ["metrics", "show"]),
        ("/pair", ["pair", "status"]),
    ],
)
def test_the_reads_are_lbctls_json(server, path, words):
    answer = server.request("GET", path, token="reader")
    assert answer.status == 200 and answer.body == lbctl_json(server, *words)


def test_the_access_guards_protect_the_api_caller_as_an_ssh_session(server):
    made(server, "PUT", "/access/networks", {"networks": ["127.0.0.0/8", "10.0.0.0/24"]})
    assert lbctl_json(server, "access", "show")["management_networks"] == ["127.0.0.0/8", "10.0.0.0/24"]
    answer = refused(server, 422, "PUT", "/access/networks", {"networks": ["10.9.0.0/24"]})
    said = answer.errors["access.management_networks"]
    assert "would cut off this API caller's connection from 127.0.0.1" in said, said  # not "this SSH session"
    made(server, "PUT", "/access/networks", {"networks": ["10.9.0.0/24"], "force": True})
    made(server, "PUT", "/access/networks", {"networks": []})  # the unit's own subnets again
    assert lbctl_json(server, "access", "show")["management_networks"] == ["10.0.0.0/24", "192.168.2.0/24"]


def test_input_rules_added_and_removed(server):
    made(server, "POST", "/access/rules", {"port": 161, "protocol": "udp", "source": "10.9.0.0/24", "comment": "--snmp"})
    rules = server.request("GET", "/access").body["input_rules"]
    assert rules[-1] == {"port": "161", "protocol": "udp", "source": "10.9.0.0/24", "comment": "--snmp"}
    for body, field in [
        ({"port": "-1"}, None),  # lbctl's own kind refuses it, named by lbctl
        ({"port": 161, "protocol": "icmp"}, "protocol"),
        ({"port": True}, "port"),
        ({"port": 161, "colour": "red"}, "colour"),
    ]:
        answer = refused(server, 422, "POST", "/access/rules", body)
        assert field is None or field in answer.errors, answer.body
    made(server, "DELETE", f"/access/rules/{len(rules)}")
    assert refused(server, 422, "DELETE", "/access/rules/99").errors
    assert "rule" in refused(server, 422, "DELETE", "/access/rules/x").errors


def public_key(tmp_path, name: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)], check=True)
    return (tmp_path / f"{name}.pub").read_text().strip()


def test_root_keys_added_and_removed_by_fingerprint_and_the_last_one_only_with_force(server, tmp_path):
    first, second = public_key(tmp_path, "admin@nms"), public_key(tmp_path, "deploy@ci")
    made(server, "POST", "/access/keys", {"key": first})
    made(server, "POST", "/access/keys", {"key": second})
    keys = server.request("GET", "/access/keys").body
    assert [k["comment"] for k in keys] == ["admin@nms", "deploy@ci"]
    assert "key" in refused(server, 422, "POST", "/access/keys", {"key": first}).errors  # already there
    assert "key" in refused(server, 422, "POST", "/access/keys", {"key": "ssh-ed25519 nonsense"}).errors
    made(server, "DELETE", f"/access/keys/{keys[1]['fingerprint']}")  # SHA256:... may hold '/'
    assert "access.ssh_authorized_keys" in refused(server, 422, "DELETE", "/access/keys/1").errors
    made(server, "DELETE", "/access/keys/admin@nms?force=yes")
    assert server.request("GET", "/access/keys").body == []


def test_time_logging_and_metrics(server):
    made(server, "PUT", "/time", {"ntp_servers": ["10.0.0.31", "ntp1.example.net"]})
    assert server.request("GET", "/time").body == {"ntp_servers": ["10.0.0.31", "ntp1.example.net"]}
    assert "servers" in refused(server, 422, "PUT", "/time", {"ntp_servers": ["-x"]}).errors
    assert "ntp_servers" in refused(server, 422, "PUT", "/time", {"ntp_servers": "10.0.0.31"}).errors
    made(server, "PUT", "/time", {"ntp_servers": []})
    made(server, "PUT", "/logging", {"syslog_server": "10.0.0.31:1514", "syslog_protocol": "tcp"})
    logging = server.request("GET", "/logging").body
    assert (logging["syslog_server"], logging["syslog_protocol"]) == ("10.0.0.31:1514", "tcp")
    assert "syslog_protocol" in refused(server, 422, "PUT", "/logging", {"syslog_server": None, "syslog_protocol": "sctp"}).errors
    made(server, "PUT", "/logging", {"syslog_server": None})
    made(server, "PUT", "/metrics", {"enabled": True})
    made(server, "PUT", "/metrics", {"node_port": 9101})
    metrics = server.request("GET", "/metrics").body
    assert (metrics["enabled"], metrics["node_port"]) == (True, 9101)
    assert "enabled" in refused(server, 422, "PUT", "/metrics", {"enabled": False, "node_port": 9100}).errors
    assert "node_port" in refused(server, 422, "PUT", "/metrics", {"node_port": "9100"}).errors
    made(server, "PUT", "/metrics", {"enabled": False})


def test_pair_sync_refuses_on_a_single_unit_and_takes_no_if_match(server):
    assert "ha.pair_key" in refused(server, 422, "POST", "/pair/sync").errors
    refused(server, 412, "POST", "/pair/sync", headers={"If-Match": f'"{newest(server.root)}"'})


def test_a_read_only_token_changes_none_of_them(server):
    for method, path, body in [
        ("PUT", "/time", {"ntp_servers": []}),
        ("PUT", "/access/networks", {"networks": []}),
        ("DELETE", "/access/keys/1", None),
        ("POST", "/pair/sync", None),
    ]:
        refused(server, 403, method, path, body, token="reader")

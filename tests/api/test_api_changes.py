"""The API's changes over real HTTPS, each through the installed lbctl: answered once made (200 with the new
version and its steps) or refused with nothing changed: 403 read-only token, 409 busy, 412 stale If-Match,
413 body too large, 422 bad input naming each field. History says who asked and what."""

from __future__ import annotations

import json
import re
import time

import pytest

from lbwizard.config import lock, model
from lbwizard.config.paths import Paths
from tests.api.conftest import lbctl, newest, saved_text

WEB = {
    "name": "WEB",
    "address": "10.0.0.21",
    "port": 8443,
    "layer": 7,
    "tls": True,
    "persistence": {"mode": "active-cookie", "timeout": 600},
    "health_check": {"type": "http", "path": "/health", "expect": 200},
}


def saved(server) -> model.ApplianceConfig:
    return model.loads(saved_text(server.root))


def service(server, name: str) -> model.VirtualService | None:
    return next((s for s in saved(server).virtual_services if s.name == name), None)


def changed(server, method: str, path: str, body: object = None, **extra) -> dict:
    answer = server.request(method, path, body, **extra)
    assert answer.status == 200, answer.body
    assert answer.body["ok"] is True and answer.body["version"] == newest(server.root)
    assert answer.headers["etag"] == f'"{answer.body["version"]}"' and answer.body["steps"]
    return answer.body


def refused(server, status: int, method: str, path: str, body: object = None, **extra):
    """The answer, having checked that the saved configuration and its history did not move."""
    before, version = saved_text(server.root), newest(server.root)
    answer = server.request(method, path, body, **extra)
    assert answer.status == status, answer.body
    assert answer.body["status"] == status and answer.body["type"].startswith("urn:lbwizard:problem:")
    assert saved_text(server.root) == before and newest(server.root) == version
    return answer


def test_a_virtual_service_added_changed_and_removed(server):
    made = changed(server, "POST", "/virtual-services", WEB)
    assert made["change"] == "added virtual service WEB"
    web = service(server, "WEB")
    assert (web.layer, web.port, web.tls, web.forwarding, web.scheduler) == (7, 8443, True, "snat", "roundrobin")
    assert (web.persistence.mode, web.persistence.timeout, web.health_check.path) == ("active-cookie", 600, "/health")
    assert "bind 10.0.0.21:8443" in (server.root / "etc/haproxy/haproxy.cfg").read_text()  # handed over, rendered
    changed(server, "PATCH", "/virtual-services/WEB", {"persistence": None, "idle_timeout": 120, "scheduler": "leastconn"})
    web = service(server, "WEB")
    assert (web.persistence, web.idle_timeout, web.scheduler) == (None, 120, "leastconn")
    changed(server, "POST", "/virtual-services/WEB/real-servers", {"address": "192.168.2.80", "port": 8080, "name": "APP1"})
    assert [(s.name, s.port) for s in service(server, "WEB").real_servers] == [("APP1", 8080)]
    changed(server, "DELETE", "/virtual-services/WEB")
    assert service(server, "WEB") is None


def test_history_records_the_token_the_address_and_the_request(server):
    body = {"address": "192.168.2.81", "weight": 2}
    spoofed = {"X-Forwarded-For": "10.9.9.9", "Forwarded": "for=10.9.9.9"}  # no header names another caller
    version = changed(server, "POST", "/virtual-services/VIP1/real-servers?message=more%20capacity", body, headers=spoofed)[
        "version"
    ]
    rows = {row["version"]: row for row in server.request("GET", "/history").body}
    row = rows[version]
    assert row["via"] == f"api token admin{server.port} from 127.0.0.1"
    assert row["command"] == 'POST /api/v1/virtual-services/VIP1/real-servers {"address":"192.168.2.81","weight":2}'
    assert row["message"] == "more capacity"


def test_a_real_server_changed_drained_offline_online_and_removed(server):
    changed(server, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.82", "name": "R82"})
    changed(server, "PATCH", "/virtual-services/VIP1/real-servers/R82", {"weight": 7, "max_conns": 100})
    changed(server, "PATCH", "/virtual-services/VIP1/real-servers/R82", {"port": 8080})
    found = next(s for s in service(server, "VIP1").real_servers if s.name == "R82")
    assert (found.address, found.port, found.weight, found.max_conns) == ("192.168.2.82", 8080, 7, 100)
    for state in ("drain", "offline", "online"):
        made = changed(server, "PUT", "/virtual-services/VIP1/real-servers/R82/state", {"state": state})
        assert made["change"] == f"real server R82 of VIP1 is now {state}"
        assert next(s for s in service(server, "VIP1").real_servers if s.name == "R82").state == state
    changed(server, "DELETE", "/virtual-services/VIP1/real-servers/192.168.2.82:8080")
    assert "R82" not in {s.name for s in service(server, "VIP1").real_servers}


@pytest.mark.parametrize(
    "path, body, fields",
    [
        ("/virtual-services", {"address": "10.0.0.21", "port": 81}, {"name"}),
        ("/virtual-services", {"name": "bad name!", "address": "10.0.0.21", "port": 81}, {"name"}),
        ("/virtual-services", {"name": "X", "port": "81", "layer": 5, "tls": "yes", "address": "10.0.0.300"},
         {"port", "layer", "tls", "address"}),
        ("/virtual-services", {"name": "X", "address": "10.0.0.21", "port": 81, "real_servers": []}, {"real_servers"}),
        ("/virtual-services", {"name": "X", "address": "10.0.0.21", "port": 81, "persistence": {"timeout": 5}},
         {"persistence.timeout"}),
        ("/virtual-services", {"name": "X", "address": "10.0.0.21", "port": 81, "health_check": None}, {"health_check"}),
        ("/virtual-services", {"name": "VIP1", "address": "10.0.0.21", "port": 81}, {"vs"}),  # exists already
        ("/virtual-services", {"name": "X", "address": "192.168.2.21", "port": 80, "layer": 7, "forwarding": "dr"},
         {"virtual_services[N].forwarding"}),  # verify's own rule, by the config's path
        ("/virtual-services/VIP1/real-servers", {"weight": 1}, {"address"}),
        ("/virtual-services/VIP1/real-servers", {"address": "192.168.2.83", "weight": 70000, "state": "drain"},
         {"weight", "state"}),
        ("/virtual-services/VIP1/real-servers", {"address": "192.168.2.50"}, {"virtual_services[N].real_servers[N].address"}),
        ("/rollback", {"version": "1"}, {"version"}),
        ("/rollback", {"version": 9999}, {"version"}),
    ],
)  # fmt: skip
def test_bad_input_is_422_naming_every_field_and_changes_nothing(server, path, body, fields):
    answer = refused(server, 422, "POST", path, body)
    assert {re.sub(r"\[[0-9]+\]", "[N]", field) for field in answer.errors} == fields, answer.body  # other tests add items
    assert all(message for message in answer.errors.values())


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("PATCH", "/virtual-services/VIP1", {}),
        ("PATCH", "/virtual-services/VIP1", {"quorum": "x"}),
        ("PUT", "/virtual-services/VIP1/real-servers/RIP1/state", {"state": "up"}),
        ("PUT", "/virtual-services/VIP1/real-servers/RIP1/state", {}),
        ("PUT", "/virtual-services/VIP1/real-servers/RIP1/state", {"state": "drain", "weight": 0}),
        ("PATCH", "/virtual-services/VIP1/real-servers/RIP1", {"port": 0}),
    ],
)
def test_bad_changes_of_what_exists_are_422(server, method, path, body):
    assert refused(server, 422, method, path, body).errors


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_a_body_that_is_no_json_object_is_422(server, raw):
    answer = refused(server, 422, "POST", "/virtual-services/VIP1/real-servers", raw=raw)
    assert set(answer.errors) == {"body"}


def test_a_change_of_what_is_not_there_is_404(server):
    refused(server, 404, "PATCH", "/virtual-services/NOPE", {"weight": 1})
    refused(server, 404, "DELETE", "/virtual-services/VIP1/real-servers/RIP99")
    refused(server, 404, "POST", "/virtual-services/NOPE/real-servers", {"address": "192.168.2.84"})


def test_a_read_only_token_reads_but_never_changes(server):
    assert server.request("GET", "/virtual-services", token="reader").status == 200
    for method, path, body in [
        ("POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.85"}),
        ("DELETE", "/virtual-services/VIP1", None),
        ("PUT", "/virtual-services/VIP1/real-servers/RIP1/state", {"state": "offline"}),
        ("POST", "/rollback", None),
    ]:
        answer = refused(server, 403, method, path, body, token="reader")
        assert "read-only" in answer.body["detail"]


def test_a_body_over_64_kib_is_413(server):
    big = {"address": "192.168.2.86", "name": "x" * (64 * 1024)}
    answer = refused(server, 413, "POST", "/virtual-services/VIP1/real-servers", big)
    assert "64 KiB" in answer.body["detail"]
    # chunked, with no Content-Length to judge by: read up to the limit, and no further
    chunks = iter([b'{"address": "192.168.2.86", "name": "', b"x" * 40000, b"x" * 40000, b'"}'])
    refused(server, 413, "POST", "/virtual-services/VIP1/real-servers", raw=chunks)


def test_if_match_must_name_the_current_version(server):
    read = server.request("GET", "/virtual-services/VIP1")
    current = read.headers["etag"]
    changed(server, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.87"}, headers={"If-Match": current})
    answer = refused(server, 412, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.88"},
                     headers={"If-Match": current})  # fmt: skip
    assert f"not {current.strip(chr(34))}" in answer.body["detail"], answer.body
    refused(server, 412, "DELETE", "/virtual-services/VIP1/real-servers/192.168.2.87", headers={"If-Match": "yesterday"})
    now = server.request("GET", "/virtual-services").headers["etag"]
    changed(server, "DELETE", "/virtual-services/VIP1/real-servers/192.168.2.87", headers={"If-Match": now})


def test_a_change_while_another_holds_the_lock_is_409_naming_it(server):
    with lock.one_change(Paths(server.root), command="test: an admin's change in progress"):
        answer = refused(server, 409, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.89"})
    assert "another change is in progress: `test: an admin's change in progress`" in answer.body["detail"], answer.body
    assert answer.headers["retry-after"] == "1"
    changed(server, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.89"})  # and then it goes


def test_rollback_to_the_one_before_and_to_a_version(server):
    before = saved_text(server.root)
    changed(server, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.90"})
    made = changed(server, "POST", "/rollback")
    assert made["change"].startswith("rolled back to version") and saved_text(server.root) == before
    changed(server, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.92"})  # not version 1's
    made = changed(server, "POST", "/rollback", {"version": 1})
    assert [s.address for s in service(server, "VIP1").real_servers] == ["192.168.2.50"]


def events(server, method: str, path: str, body: object = None) -> list[tuple[str, object]]:
    """A change asked for as server-sent events, read as a browser's EventSource reads them."""
    answer = server.request(method, path, body, headers={"Accept": "text/event-stream"}, parse=False)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/event-stream")
    found = []
    for block in answer.body.decode().split("\n\n"):
        if block.strip():
            fields = dict(line.split(": ", 1) for line in block.splitlines())
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_a_changes_steps_can_be_followed_as_they_run(server):
    sent = events(server, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.91"})
    names = [name for name, _ in sent]
    assert names[-1] == "result" and set(names[:-1]) == {"step"} and len(names) > 5
    result = sent[-1][1]
    assert result["ok"] and result["version"] == newest(server.root)
    assert [data["step"] for name, data in sent[:-1]] == result["steps"]  # the same steps, as they ran
    # the hand-over's tasks, from the playbook's events, as lbctl shows them for the same change
    tasks = [re.sub(r"\[\d+ s\]", "[N s]", step) for step in result["steps"] if step.startswith("hand-over [")]
    assert any("Keepalived configuration is written" in task for task in tasks), result["steps"]
    by_lbctl = lbctl(server.root, "rs", "add", "VIP1", "192.168.2.95")
    assert by_lbctl.returncode == 0, by_lbctl.stdout + by_lbctl.stderr
    shown = [re.sub(r"\[\d+ s\]", "[N s]", line[2:]) for line in by_lbctl.stdout.splitlines() if line.startswith("- hand-over [")]
    assert shown == tasks
    refused_change = events(server, "POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.91"})
    assert [name for name, _ in refused_change] == ["problem"]
    assert refused_change[0][1]["status"] == 422 and refused_change[0][1]["errors"]


def test_a_caller_that_goes_mid_change_leaves_it_whole_and_the_lock_free(server):
    """The stream closed after the first step: the change still ends as lbctl ends it (here: made), and the
    next change goes ahead (nothing blocked holding the lock)."""
    import http.client

    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=60)
    body = json.dumps({"address": "192.168.2.92"})
    headers = {"Authorization": f"Bearer {server.admin}", "Accept": "text/event-stream", "Content-Type": "application/json"}
    connection.request("POST", "/api/v1/virtual-services/VIP1/real-servers", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200 and b"event: step" in response.readline()
    connection.close()  # gone, the change half way
    deadline = time.monotonic() + 120
    while "192.168.2.92" not in saved_text(server.root):
        assert time.monotonic() < deadline, "the change of a caller that went never ended"
        time.sleep(0.2)
    changed(server, "DELETE", "/virtual-services/VIP1/real-servers/192.168.2.92")

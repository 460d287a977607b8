"""The endpoints the web console added to the API: tokens over the API (made through lbctl, shown once),
backup download (not for a read-only token), a restore's checks with nothing changed and then the restore
itself as one change, the charts' samples (a dry run takes none and says so), and the console's page."""

from __future__ import annotations

import gzip
import http.client
import json

import pytest
from openapi_spec_validator import validate

from lbwizard.api import openapi
from lbwizard.api.problems import Problem
from tests.api.conftest import lbctl, newest, saved_text


def test_tokens_are_made_listed_and_revoked_through_the_api(server):
    made = server.request("POST", "/tokens", {"name": "console-nms", "read_only": True})
    assert made.status == 200 and made.body["read_only"] is True and made.headers["cache-control"] == "no-store"
    listed = server.request("GET", "/tokens").body
    assert {"name": "console-nms", "read_only": True}.items() <= next(t for t in listed if t["name"] == "console-nms").items()
    assert all("token" not in row and "sha256" not in row for row in listed)
    assert json.loads(lbctl(server.root, "--json", "api", "token", "list").stdout) == listed  # lbctl's own JSON
    assert server.request("GET", "/status", token=made.body["token"]).status == 200
    assert server.request("POST", "/tokens", {"name": "x"}, token=made.body["token"]).status == 403  # read-only
    for body, field in (({"name": "a b"}, "name"), ({}, "name"), ({"name": "ok", "read_only": "yes"}, "read_only"),
                        ({"name": "ok", "extra": 1}, "extra")):  # fmt: skip
        answer = server.request("POST", "/tokens", body)
        assert answer.status == 422 and field in answer.errors, answer.body
    assert server.request("POST", "/tokens", {"name": "console-nms"}).status == 422  # taken
    assert server.request("DELETE", "/tokens/console-nms").status == 200
    assert server.request("GET", "/status", token=made.body["token"]).status == 401
    assert server.request("DELETE", "/tokens/console-nms").status == 422


def test_a_backup_downloads_and_a_read_only_token_may_not_take_one(server):
    answer = server.request("GET", "/backup", parse=False)
    assert answer.status == 200 and answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-disposition"].startswith('attachment; filename="lbmaster-')
    assert gzip.decompress(answer.body)  # a gzip'd tar, as lbctl backup writes it
    refused = server.request("GET", "/backup", token="reader")
    assert refused.status == 403 and refused.body["type"].endswith(":read-only-token")


def backup_of(server) -> bytes:
    answer = server.request("GET", "/backup", parse=False)
    assert answer.status == 200
    return answer.body


def check(server, data: bytes):
    return server.request("POST", "/restore/check", raw=data, headers={"Content-Type": "application/octet-stream"})


def test_a_restore_is_checked_first_then_made_as_one_change(server):
    data = backup_of(server)
    made = server.request("POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.81", "name": "LATER"})
    assert made.status == 200, made.body
    before, version = saved_text(server.root), newest(server.root)
    found = check(server, data)
    assert found.status == 200 and found.body["ok"] is True and found.body["refusals"] == []
    assert found.body["backup"]["hostname"] == "lbmaster" and found.body["backup"]["services"] >= 1
    later = [c for c in found.body["changes"] if c["path"] == "virtual_services['VIP1'].real_servers['LATER']"]
    assert later and later[0]["to"] is None and later[0]["from"]["address"] == "192.168.2.81", found.body["changes"]
    garbage = check(server, b"not a backup")
    assert garbage.body["ok"] is False and garbage.body["refusals"][0].startswith("backup: not a backup")
    assert saved_text(server.root) == before and newest(server.root) == version  # checking changed nothing
    restored = server.request("POST", "/restore", raw=data, headers={"Content-Type": "application/octet-stream"})
    assert restored.status == 200 and restored.body["ok"] is True, restored.body
    assert "LATER" not in saved_text(server.root)
    refused = server.request("POST", "/restore", raw=b"junk", headers={"Content-Type": "application/octet-stream"})
    assert refused.status == 422 and "backup" in refused.errors


def test_a_restore_that_would_cut_off_the_caller_is_shown_refused_before_anything_changes(server):
    # the API's caller is 127.0.0.1: a backup whose management networks leave it out, restored on a unit whose
    # networks hold it, would cut the caller off (the access guards, as for an SSH session)
    def networks(*given: str) -> None:
        answer = server.request("PUT", "/access/networks", {"networks": list(given), "force": True})
        assert answer.status == 200, answer.body

    networks("10.0.0.0/24")
    cut_off = backup_of(server)
    networks("10.0.0.0/24", "127.0.0.0/8")
    try:
        found = check(server, cut_off)
        assert found.body["ok"] is False
        assert any(r.startswith("access.management_networks:") and "127.0.0.1" in r for r in found.body["refusals"])
        assert check(server, backup_of(server)).body["ok"] is True
    finally:
        networks("default")


def test_a_dry_run_takes_no_samples_and_says_so(server):
    for path in ("/samples", "/samples/VIP1", "/samples?range=day"):
        answer = server.request("GET", path)
        assert answer.status == 200 and answer.body["sampling"] is False and "dry run" in answer.body["note"]
    assert server.request("GET", "/samples?range=week").errors == {"range": "'week' is not a range; use hour or day"}
    assert server.request("GET", "/samples/NOPE").status == 404


def test_the_document_lists_the_new_endpoints_and_still_validates():
    document = openapi.document()
    validate(document)
    paths = document["paths"]
    assert {"/api/v1/tokens", "/api/v1/tokens/{name}", "/api/v1/backup", "/api/v1/restore/check", "/api/v1/restore",
            "/api/v1/samples", "/api/v1/samples/{vs}"} <= set(paths)  # fmt: skip
    assert "application/octet-stream" in paths["/api/v1/restore"]["post"]["requestBody"]["content"]
    assert "application/octet-stream" in paths["/api/v1/backup"]["get"]["responses"]["200"]["content"]


def test_the_console_page_is_served_without_a_session(server):
    connection = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.context, timeout=30)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        page = response.read().decode()
    finally:
        connection.close()
    assert response.status == 200 and response.getheader("content-type").startswith("text/html")
    assert '<script type="module" src="/static/js/app.js">' in page and "<script>" not in page and " style=" not in page


def test_a_real_servers_setup_script_is_lbctls(server):
    answer = server.request("GET", "/virtual-services/VIP1/real-servers/RIP1/script?os=windows")
    said = json.loads(lbctl(server.root, "--json", "realserver-script", "--os=windows", "192.168.2.50").stdout)
    assert answer.status == 200 and answer.body == said and answer.body["script"]
    assert server.request("GET", "/virtual-services/VIP1/real-servers/RIP1/script?os=beos").errors["os"].startswith("'beos'")
    assert server.request("GET", "/virtual-services/VIP1/real-servers/NOPE/script").status == 404


async def test_the_pages_own_refreshes_do_not_keep_a_session_alive(tmp_path, monkeypatch):
    from starlette.requests import Request

    from lbwizard.api import auth, sessions
    from lbwizard.config.password import hash_password
    from lbwizard.config.paths import Paths

    paths = Paths(tmp_path)
    paths.admin_password_hash.parent.mkdir(parents=True)
    paths.admin_password_hash.write_text(hash_password("correct horse battery") + "\n")
    store = sessions.Sessions(paths)
    session = await store.log_in("correct horse battery", "10.9.0.5")
    now = [sessions.time.monotonic()]
    monkeypatch.setattr(sessions.time, "monotonic", lambda: now[0])

    def get(*headers: tuple[bytes, bytes]) -> auth.Caller:
        cookie = (b"cookie", f"{sessions.COOKIE}={session.id}".encode())
        scope = {"type": "http", "method": "GET", "path": "/api/v1/status", "headers": [cookie, *headers],
                 "client": ("10.9.0.5", 5555), "server": ("10.0.0.21", 9443)}  # fmt: skip
        return auth.caller(Request(scope), paths, store)

    for _ in range(3):  # a dashboard left open: a refresh every 10 minutes, nobody at the keyboard
        now[0] += 10 * 60
        if now[0] - session.seen > sessions.IDLE_SECONDS:
            break
        assert get((b"x-refresh", b"auto")).session is session
    with pytest.raises(Problem) as ended:
        get((b"x-refresh", b"auto"))
    assert ended.value.status == 401  # 20 minutes without the person: over, refreshes or not
    session = await store.log_in("correct horse battery", "10.9.0.5")
    session.started = session.seen = now[0]  # (its dataclass took the clock before the test replaced it)
    for _ in range(3):  # a person at work: each request of theirs restarts the idle time
        now[0] += 10 * 60
        assert get().session is session

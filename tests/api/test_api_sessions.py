"""Sessions for people: root's password gives a Secure, HttpOnly, SameSite=Strict cookie; a change made with
it carries the session's CSRF token or is refused; failed logins are slowed, logged and, past a count,
refused per address; an idle session ends."""

from __future__ import annotations

import time

import pytest

from lbwizard.api import sessions
from lbwizard.config.paths import Paths
from tests.api.conftest import newest, saved_text
from tests.conftest import TWO_ARM_NAT

PASSWORD = TWO_ARM_NAT["admin_password"]


def log_in(server) -> tuple[str, str]:
    answer = server.request("POST", "/session", {"password": PASSWORD}, token=None)
    assert answer.status == 200, answer.body
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"secure", "httponly", "samesite", "path"} <= attributes and "samesite=strict" in cookie.lower()
    return cookie.split(";")[0], answer.body["csrf"]


def test_a_session_reads_and_changes_with_its_csrf_token_and_ends_at_log_out(server):
    cookie, csrf = log_in(server)
    jar = {"Cookie": cookie}
    assert server.request("GET", "/virtual-services", token=None, headers=jar).status == 200
    assert server.request("GET", "/session", token=None, headers=jar).body["csrf"] == csrf
    before, version = saved_text(server.root), newest(server.root)
    body = {"address": "192.168.2.93"}
    for sent in ({}, {"X-CSRF-Token": "forged"}):
        answer = server.request("POST", "/virtual-services/VIP1/real-servers", body, token=None, headers=jar | sent)
        assert answer.status == 403 and answer.body["type"].endswith(":csrf"), answer.body
    assert saved_text(server.root) == before and newest(server.root) == version
    made = server.request("POST", "/virtual-services/VIP1/real-servers", body, token=None, headers=jar | {"X-CSRF-Token": csrf})
    assert made.status == 200, made.body
    row = server.request("GET", f"/history/{made.body['version']}").body
    assert row["record"]["via"] == "root's web session from 127.0.0.1"
    assert server.request("DELETE", "/session", token=None, headers=jar).status == 403  # logging out takes the token too
    assert server.request("DELETE", "/session", token=None, headers=jar | {"X-CSRF-Token": csrf}).status == 200
    assert server.request("GET", "/virtual-services", token=None, headers=jar).status == 401


def test_a_wrong_password_is_slowed_and_logged(server):
    start = time.monotonic()
    for _ in range(2):
        answer = server.request("POST", "/session", {"password": "wrong"}, token=None)
        assert answer.status == 401 and "set-cookie" not in answer.headers
    assert time.monotonic() - start >= 1.5  # 0.5 s, then 1 s
    assert "failed login from 127.0.0.1 (2 in 15 min)" in server.log.read_text()
    for body in ({"password": 5}, {"password": PASSWORD, "user": "root"}, {}):
        assert server.request("POST", "/session", body, token=None).status in (401, 422)
    log_in(server)  # the right one still works, and clears the address's count


@pytest.fixture
def store(tmp_path, monkeypatch):
    from lbwizard.config.password import hash_password

    paths = Paths(tmp_path)
    paths.admin_password_hash.parent.mkdir(parents=True)
    paths.admin_password_hash.write_text(hash_password(PASSWORD) + "\n")
    waited = []

    async def sleep(seconds):
        waited.append(seconds)

    monkeypatch.setattr(sessions.asyncio, "sleep", sleep)
    found = sessions.Sessions(paths)
    found.waited = waited
    return found


async def test_failed_logins_wait_longer_and_past_ten_the_address_is_refused(store):
    for _ in range(sessions.FAILURES_BEFORE_REFUSAL):
        assert await store.log_in("wrong", "10.9.0.5") is None
    assert store.waited == [0.5, 1, 2, 4, 8, 8, 8, 8, 8, 8]
    with pytest.raises(sessions.LoginRefused) as refused:
        await store.log_in(PASSWORD, "10.9.0.5")  # even the right password, for a while
    assert 0 < refused.value.retry_after <= sessions.FAILURE_WINDOW + 1
    assert await store.log_in(PASSWORD, "10.9.0.6") is not None  # another address is not held back


async def test_an_idle_session_ends(store, monkeypatch):
    session = await store.log_in(PASSWORD, "10.9.0.5")
    assert store.find(session.id) is session
    later = time.monotonic() + sessions.IDLE_SECONDS + 1
    monkeypatch.setattr(sessions.time, "monotonic", lambda: later)
    assert store.find(session.id) is None and store.open == {}

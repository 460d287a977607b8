"""A hostile client's review of the API (issue 36), against a real server: each case is an attack that once
answered 500 (a traceback in the server's log) or did what it should not, and must now be refused naming the
field, with nothing changed on the root."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lbwizard.api import sessions
from lbwizard.api.bodies import BODY_SECONDS
from lbwizard.api.deadlines import HEAD_SECONDS
from lbwizard.api.serve import CONNECTIONS_AT_ONCE
from tests.api.conftest import Server, newest, saved_text, set_up_root
from tests.conftest import TWO_ARM_NAT

RS = "/virtual-services/VIP1/real-servers"
PEM = {"Content-Type": "application/x-pem-file"}


def unchanged(server, before: tuple[str, int]) -> bool:
    return (saved_text(server.root), newest(server.root)) == before


def log_size(server) -> int:
    return len(server.log.read_text())


def no_fault(server, since: int) -> None:
    """Nothing in the server's log since then is a traceback (a 500 of ours)."""
    written = server.log.read_text()[since:]
    assert "Traceback" not in written, written[-3000:]


# -- a NUL reaching lbctl's arguments or environment -----------------------------------------------------------
# subprocess refuses a NUL in an argument or an environment value with ValueError: it was a 500, whatever the field


NUL_CASES = [
    ("DELETE", "/tokens/a%00b", None, "name"),
    ("POST", "/tokens", {"name": "a\x00b"}, "name"),
    ("PUT", "/certificates/a%00b", "PEM", "name"),
    ("POST", "/certificates/web/acme", {"domains": ["a\x00b.example.com"]}, "domains"),
    ("POST", RS + "?message=a%00b", {"address": "192.168.2.71"}, "message"),
    ("POST", "/access/rules", {"port": 161, "source": "10.0.0.0/8\x00"}, "source"),
    ("POST", "/access/rules", {"port": 161, "comment": "a\x00b"}, "comment"),
    ("DELETE", "/access/keys/a%00b", None, "key"),
    ("PUT", "/time", {"ntp_servers": ["10.0.0.31", "a\x00b"]}, "ntp_servers"),
    ("PUT", "/logging", {"syslog_server": "10.0.0.31\x00"}, "syslog_server"),
    ("PUT", "/access/networks", {"networks": ["10.0.0.0/24\x00"]}, "networks"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_CASES)
def test_a_nul_in_a_value_lbctl_would_be_given_is_422_naming_it(server, method, path, body, field):
    before, since = (saved_text(server.root), newest(server.root)), log_size(server)
    if body == "PEM":
        answer = server.request(method, path, raw=b"never read: the name is refused first", headers=PEM)
    else:
        answer = server.request(method, path, body)
    assert answer.status == 422, answer.body
    assert field in answer.errors and "NUL" in answer.errors[field], answer.body
    assert unchanged(server, before)
    no_fault(server, since)


# -- JSON bodies a parser must not trust -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [600, 3000, 30000])
def test_a_body_nested_deeper_than_any_setting_is_422(server, depth):
    before, since = (saved_text(server.root), newest(server.root)), log_size(server)
    for raw in (
        b'{"address": "192.168.2.72", "weight": ' + b"[" * depth + b"]" * depth + b"}",
        b'{"health_check": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}",
    ):
        answer = server.request("POST", RS, raw=raw)
        assert answer.status in (413, 422), answer.body
        if answer.status == 422:
            assert "nested" in answer.errors.get("body", ""), answer.body
    assert unchanged(server, before)
    no_fault(server, since)


def test_a_key_given_twice_is_422_naming_it_not_the_last_one_taken(server):
    before = (saved_text(server.root), newest(server.root))
    answer = server.request("PUT", RS + "/RIP1/state", raw=b'{"state": "drain", "state": "online"}')
    assert answer.status == 422 and "twice" in answer.errors.get("state", ""), answer.body
    assert unchanged(server, before)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_json(server, constant):
    answer = server.request("POST", RS, raw=b'{"address": "192.168.2.73", "weight": ' + constant + b"}")
    assert answer.status == 422 and constant.decode().lstrip("-") in answer.errors.get("body", ""), answer.body


SURROGATE_CASES = [
    ("POST", "/access/rules", b'{"port": 161, "comment": "x\\ud800"}', "comment"),
    ("POST", "/access/rules", b'{"port": "16\\udfff"}', "port"),
    ("PUT", "/time", b'{"ntp_servers": ["a\\ud800"]}', "ntp_servers"),
    ("POST", "/tokens", b'{"name": "a\\ud800"}', "name"),
    ("POST", "/certificates/web/acme", b'{"domains": ["a\\ud800.example.com"]}', "domains"),
    ("PUT", "/logging", b'{"syslog_server": "a\\ud800"}', "syslog_server"),
    ("PUT", "/access/networks", b'{"networks": ["10.0.0.0/24\\ud800"]}', "networks"),
    ("POST", "/access/keys", b'{"key": "ssh-ed25519 AAAA\\ud800"}', "key"),
]


@pytest.mark.parametrize(("method", "path", "raw", "field"), SURROGATE_CASES)
def test_half_a_surrogate_pair_in_a_value_is_422_naming_it(server, method, path, raw, field):
    """JSON may spell half a UTF-16 pair (\\ud800) alone; no argument or standard input can carry it (UnicodeEncodeError)."""
    before, since = (saved_text(server.root), newest(server.root)), log_size(server)
    answer = server.request(method, path, raw=raw)
    assert answer.status == 422 and "surrogate" in answer.errors.get(field, ""), answer.body
    assert unchanged(server, before)
    no_fault(server, since)


# -- options that take a value ----------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["-h", "--force", "-"])
def test_a_message_that_looks_like_an_option_is_kept_as_written(server, message):
    since = log_size(server)
    made = server.request("POST", f"{RS}?message={message}", {"address": "192.168.2.74"})
    assert made.status == 200, made.body
    assert server.request("GET", f"/history/{made.body['version']}").body["record"]["message"] == message
    assert server.request("DELETE", RS + "/192.168.2.74").status == 200
    no_fault(server, since)


# -- If-Match where no version is taken ---------------------------------------------------------------------------


def test_if_match_on_a_token_change_is_412_and_nothing_is_made_or_revoked(server):
    tagged = {"If-Match": '"1"'}
    answer = server.request("POST", "/tokens", {"name": "tagged"}, headers=tagged)
    assert answer.status == 412 and answer.body["type"].endswith(":no-precondition"), answer.body
    assert "tagged" not in [row["name"] for row in server.request("GET", "/tokens").body]
    assert server.request("POST", "/tokens", {"name": "tagged"}).status == 200
    assert server.request("DELETE", "/tokens/tagged", headers=tagged).status == 412
    assert "tagged" in [row["name"] for row in server.request("GET", "/tokens").body]
    assert server.request("DELETE", "/tokens/tagged").status == 200


# -- a session's CSRF token ------------------------------------------------------------------------------------------


def test_a_csrf_token_that_is_not_ascii_is_403_like_any_wrong_one(server):
    """hmac.compare_digest raises TypeError on a str that is not ASCII: a header of Latin-1 bytes was a 500."""
    login = server.request("POST", "/session", {"password": TWO_ARM_NAT["admin_password"]}, token=None)
    assert login.status == 200, login.body
    jar = {"Cookie": login.headers["set-cookie"].split(";")[0]}
    before, since = (saved_text(server.root), newest(server.root)), log_size(server)
    for forged in ("\u00e9t\u00e9", login.body["csrf"][:-1] + "\u00ff"):
        answer = server.request("PUT", RS + "/RIP1/state", {"state": "drain"}, token=None, headers=jar | {"X-CSRF-Token": forged})
        assert answer.status == 403 and answer.body["type"].endswith(":csrf"), answer.body
    assert unchanged(server, before)
    no_fault(server, since)


# -- logins in parallel -------------------------------------------------------------------------------------------


@pytest.fixture
def own_server(tmp_path):
    """A server of its own: this test leaves 127.0.0.1 refused for its logins."""
    started = Server(set_up_root(tmp_path))
    try:
        yield started
    finally:
        started.stop()


def test_wrong_logins_sent_at_once_are_each_counted(own_server):
    """Each login took the address's failures as they were when it began: guesses sent together all passed the
    check and were counted as one, so the limit of 10 in 15 minutes bounded nothing."""
    tries = sessions.FAILURES_BEFORE_REFUSAL + 6

    def wrong(index: int) -> int:
        return own_server.request("POST", "/session", {"password": f"guess{index}"}, token=None).status

    with ThreadPoolExecutor(tries) as pool:
        statuses = list(pool.map(wrong, range(tries)))
    assert statuses.count(401) <= sessions.FAILURES_BEFORE_REFUSAL, statuses
    assert set(statuses) <= {401, 429}, statuses
    right = own_server.request("POST", "/session", {"password": TWO_ARM_NAT["admin_password"]}, token=None)
    assert right.status == 429, right.body
    logged = own_server.log.read_text()
    assert f"({sessions.FAILURES_BEFORE_REFUSAL} in 15 min)" in logged, logged
    assert right.body["type"].endswith(":too-many-logins")


# -- connections that hold a slot without ever asking ---------------------------------------------------------------


def tls_connection(server):
    plain = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    return server.context.wrap_socket(plain, server_hostname="127.0.0.1")


def test_connections_that_never_finish_their_request_do_not_lock_everyone_out(server):
    """Half a request head on each of 64 connections made every other caller's answer 503, for as long as they
    stayed open (no token needed); a login body that never ends held its slot the same way."""
    held = []
    try:
        slow = tls_connection(server)
        held.append(slow)
        slow.sendall(b"POST /api/v1/session HTTP/1.1\r\nHost: unit\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"pass")  # fmt: skip
        time.sleep(0.5)  # its head is in: it waits for its body, in a slot of its own
        for _ in range(CONNECTIONS_AT_ONCE + 4):
            held.append(tls_connection(server))
            held[-1].sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: unit\r\n")  # the head never ends
        time.sleep(1)
        assert server.request("GET", "/status", parse=False).status == 503  # the slots are held
        deadline = time.monotonic() + HEAD_SECONDS + 15
        while (status := server.request("GET", "/status", parse=False).status) != 200 and time.monotonic() < deadline:
            time.sleep(1)
        assert status == 200, "the half-sent requests still hold every slot"
        slow.settimeout(BODY_SECONDS + 15)
        answer = b""
        while chunk := slow.recv(65536):  # until the server closes it (Connection: close)
            answer += chunk
        said = answer.decode(errors="replace")
        assert said.startswith("HTTP/1.1 408"), said
        assert "application/problem+json" in said and '"field":"body"' in said, said
    finally:
        for connection in held:
            connection.close()

"""Layer-7 persistence that keys on what the application itself hands out: the server's own session cookie
(server-cookie), the Authorization of an MSRPC client (super-http: an empty value when it sends none, 002),
and the TLS session ID (ssl-session-id). Real HAProxy with the role's rendered file in the lab's load
balancer, two real servers that answer with their names; each key is placed by the scheduler (roundrobin),
then stays on its server from whichever client address it comes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbwizard.config.model import Persistence
from tests.netns.test_haproxy_netns import (
    URL,
    runtime,
    servers,  # noqa: F401 - a fixture
    start_haproxy,
)

pytestmark = pytest.mark.skipif(not shutil.which("haproxy"), reason="make test installs haproxy")
SOURCES = ("10.0.0.31", "10.0.0.32", "10.0.0.33")


def add_client_addresses(lab) -> None:
    for address in SOURCES[1:]:
        lab.run("client", "ip", "addr", "add", f"{address}/24", "dev", "ext")


def get(lab, *options: str, source: str = SOURCES[0]) -> str:
    """One curl from a client address; the answering server's name."""
    return lab.run("client", "curl", "-sS", "--max-time", "5", "--interface", source, *options).stdout.strip()


def table_entries(tmp_path) -> list[str]:
    return [line for line in runtime(tmp_path, "show table VIP1_servers").splitlines() if "key=" in line]


def alternate(placed: list[str]) -> bool:
    """What roundrobin makes of new keys asked one after the other: RS1, RS2, RS1, ... (either first)."""
    return placed in ([["RS1", "RS2"][(n + first) % 2] for n in range(len(placed))] for first in (0, 1))


def test_server_cookie_keeps_the_applications_own_session_on_the_server_that_set_it(lab, tmp_path, servers):  # noqa: F811
    start_haproxy(lab, tmp_path, Persistence("server-cookie", 600, name="SESSIONID"))
    add_client_addresses(lab)
    jars = [tmp_path / f"jar{n}" for n in range(4)]
    # each "login" is balanced (roundrobin) and answered with the server's own SESSIONID cookie
    homes = [get(lab, "-c", str(jar), f"{URL}set-cookie/SESSIONID") for jar in jars]
    assert alternate(homes), homes
    for jar, home in zip(jars, homes, strict=True):
        assert {get(lab, "-b", str(jar), URL, source=source) for source in SOURCES} == {home}, jar.read_text()
    assert {get(lab, URL) for _ in range(4)} == {"RS1", "RS2"}  # without the cookie: balanced, not sticky
    assert {get(lab, "-H", "Cookie: SESSIONID=never-set", URL) for _ in range(4)} == {"RS1", "RS2"}
    entries = table_entries(tmp_path)
    assert len(entries) == len(jars), entries  # one per cookie the servers set, with the timeout
    assert all(0 < int(line.split(" exp=")[1].split()[0]) <= 600_000 for line in entries), entries


def test_super_http_keys_an_msrpc_client_on_its_authorization_and_an_empty_one_without(lab, tmp_path, servers):  # noqa: F811
    start_haproxy(lab, tmp_path, Persistence("super-http", 600))
    add_client_addresses(lab)
    agent = ["-H", "User-Agent: MSRPC"]
    users = [f"Basic dXNlcjEyOnB3{n}" for n in range(4)]
    homes = [get(lab, *agent, "-H", f"Authorization: {user}", URL) for user in users]
    assert alternate(homes), homes  # one MSRPC user agent, four users: placed by the scheduler, one by one
    for user, home in zip(users, homes, strict=True):
        assert {get(lab, *agent, "-H", f"Authorization: {user}", URL, source=source) for source in SOURCES} == {home}
    # MSRPC clients with no Authorization all share the empty key: one server, whatever their agent string
    # (super-http keyed on the agent string alone would spread these six)
    unauthorised = {get(lab, "-H", f"User-Agent: MSRPC outlook/{n}", URL, source=SOURCES[n % 3]) for n in range(6)}
    assert len(unauthorised) == 1, unauthorised


# A TLS 1.2 client: `sessions` new sessions, each resumed `resumes` times; which server answered each
# connection, and whether the server resumed the session (only the server that made it can).
TLS_CLIENT = r"""
import json, socket, ssl, sys
host, port, sessions, resumes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # the test's self-signed certificate
context.maximum_version = ssl.TLSVersion.TLSv1_2
def connect(session=None):
    with socket.create_connection((host, port), timeout=5) as raw, context.wrap_socket(raw, session=session) as tls:
        name, session, reused = tls.recv(100).decode().strip(), tls.session, tls.session_reused
        tls.unwrap()  # close_notify: a session closed without it can no longer be resumed
        return name, session, reused
made = []
for _ in range(sessions):
    name, session, _ = connect()
    made.append({"first": name, "again": [connect(session)[::2] for _ in range(resumes)]})
print(json.dumps(made))
"""


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "rs.crt", tmp_path / "rs.key"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"]
    subprocess.run([*command, "-subj", "/CN=rs", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_ssl_session_id_resumes_each_tls_session_on_the_server_that_made_it(lab, tmp_path):
    """HAProxy learns each session ID from the server's hello and sends the client's resumption (the ID in
    its hello) to that server, which alone can resume it. New sessions are balanced; a resumption that
    went elsewhere would be a full handshake (session_reused false)."""
    cert, key = self_signed(tmp_path)
    lab.add_real_server("rs2", "192.168.2.51")
    for name, address in (("rs1", "192.168.2.50"), ("rs2", "192.168.2.51")):
        lab.start_tls(name, address, 8080, name.upper(), cert, key)
    start_haproxy(lab, tmp_path, Persistence("ssl-session-id", 600))
    result = lab.run("client", sys.executable, "-c", TLS_CLIENT, "10.0.0.21", "80", "4", "3")
    made = json.loads(result.stdout)
    assert alternate([session["first"] for session in made]), made
    for session in made:
        assert session["again"] == [[session["first"], True]] * 3, made
    entries = table_entries(tmp_path)
    assert len(entries) == 4, entries
    assert all(0 < int(line.split(" exp=")[1].split()[0]) <= 600_000 for line in entries), entries

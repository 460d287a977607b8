"""A layer-7 change through the HTTPS API, live in the lab's load balancer, then traffic through the real
HAProxy: `lbwizard serve --root DIR` in the load balancer's namespace (no dry run), its changes made by
lbctl with the runtime API first, as an admin's lbctl makes them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from lbwizard.config import api_tokens
from lbwizard.config.model import APPLIANCE_CERTIFICATE
from lbwizard.config.paths import Paths
from tests.netns.lab import Lab
from tests.netns.test_haproxy_netns import client, servers  # noqa: F401 - servers is a fixture
from tests.netns.test_lbctl_netns import configure, start_haproxy, wait_for

PORT = 9443
# one HTTPS request from inside the load balancer's namespace, trusting the unit's certificate
REQUEST = r"""
import http.client, json, ssl, sys
method, path, token, cafile, body = sys.argv[1:6]
connection = http.client.HTTPSConnection("127.0.0.1", 9443, context=ssl.create_default_context(cafile=cafile), timeout=120)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
connection.request(method, path, body=body or None, headers=headers)
answer = connection.getresponse()
print(json.dumps({"status": answer.status, "body": json.loads(answer.read() or b"null")}))
"""


def unit_certificate(root: Path) -> Path:
    """The unit's certificate as the first boot makes it: key and certificate in one PEM (HAProxy's form)."""
    pem = root / APPLIANCE_CERTIFICATE
    pem.parent.mkdir(parents=True, exist_ok=True)
    key, cert = pem.with_suffix(".key"), pem.with_suffix(".crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=lbmaster", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    pem.write_text(cert.read_text() + key.read_text())
    key.unlink()
    return cert


def serve(lab: Lab, root: Path) -> subprocess.Popen:
    lbwizard = str(Path(sys.executable).parent / "lbwizard")
    command = ["ip", "netns", "exec", lab.ns("lb"), lbwizard, "serve", "--root", str(root), "--listen", f"127.0.0.1:{PORT}"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: f":{PORT} " in lab.run("lb", "ss", "-ltnH").stdout or server.poll() is not None, 30, "the API to listen")
    assert server.poll() is None, server.stdout.read() if server.stdout else ""
    return server


def api(lab: Lab, cert: Path, token: str, method: str, path: str, body: object = None) -> tuple[int, object]:
    data = json.dumps(body) if body is not None else ""
    answer = json.loads(lab.run("lb", sys.executable, "-c", REQUEST, method, f"/api/v1{path}", token, str(cert), data).stdout)
    return answer["status"], answer["body"]


def test_a_layer7_change_through_the_api_reaches_the_running_haproxy(lab, tmp_path, servers):  # noqa: F811
    config, root = configure(lab, tmp_path, layer7=True)
    haproxy = start_haproxy(lab, config, root)
    cert = unit_certificate(root)
    token = api_tokens.add(Paths(root), "lab", read_only=False)
    server = serve(lab, root)  # `ip netns exec` became the server: this is its PID
    try:
        assert set(client(lab, count=20)["answers"]) == {"RS1", "RS2"}
        status, body = api(lab, cert, token, "PUT", "/virtual-services/VIP1/real-servers/RS1/state", {"state": "offline"})
        assert status == 200, body
        assert "HAProxy runtime: VIP1_servers/RS1 online -> offline (no reload)" in body["steps"]
        assert set(client(lab, count=20)["answers"]) == {"RS2"}  # the running HAProxy took it
        status, body = api(lab, cert, token, "GET", "/status")
        servers_now = {s["name"]: s for s in body["services"][0]["servers"]}
        assert (servers_now["RS1"]["requested"], servers_now["RS1"]["actual"]) == ("offline", "offline"), servers_now
        status, body = api(lab, cert, token, "PUT", "/virtual-services/VIP1/real-servers/RS1/state", {"state": "online"})
        assert status == 200, body
        wait_for(lambda: "RS1" in client(lab, count=20)["answers"], 15, "RS1 to serve again")
        rows = api(lab, cert, token, "GET", "/history")[1]
        assert rows[-1]["via"] == "api token lab from 127.0.0.1" and rows[-1]["current"]
        assert haproxy.poll() is None  # one HAProxy process throughout: nothing was reloaded
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

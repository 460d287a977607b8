"""The HTTPS API on the image (issue 36): lbwizard-api.service on port 9443 of the unit's own addresses, used from
the client's namespace with curl as a script of the admin's would use it, with a token made over SSH and the unit's
own certificate (fetched over SSH, the only one curl trusts).

On the single unit: a real server added through the API serves the client; the port answers a management network
only (narrowed to one host through the API itself, another host's connection times out); the API moved to another
port through itself is restarted there by lbwizard-api.path once the change is answered, and moved back; history
says the change was the token's, from the client's address. On the pair: a change through the master's API is
on the backup too, and so is its removal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.e2e.steps import lbctl_json, wait_until

UNIT = "10.0.0.21"
API_PORT = 9443
CERTIFICATE = "sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' /etc/haproxy/certs/appliance.pem"
CURL_TIMED_OUT = 28
API_DOCUMENT = f"https://{UNIT}:{API_PORT}/api/v1/openapi.json"  # public: answers whenever the server listens


@dataclass
class Answer:
    status: int  # 0: no HTTP answer at all (curl's exit code in `failed`)
    body: object
    failed: int = 0


@dataclass
class HttpsApi:
    """The unit's API as curl in a namespace reaches it: its token, and its certificate pinned by name."""

    lab: object
    token: str
    certificate: Path
    address: str = UNIT

    @property
    def name(self) -> str:
        """The certificate's own name (made at first boot for the image's host name): curl checks it."""
        found = x509.load_pem_x509_certificate(self.certificate.read_bytes())
        return found.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value

    def request(self, method: str, path: str, body: object = None, *, source: str | None = None,
                port: int = API_PORT, timeout: float = 600, token: bool = True) -> Answer:  # fmt: skip
        command = ["curl", "-sS", "--max-time", str(timeout), "--connect-timeout", "10", "-X", method]
        command += ["--cacert", str(self.certificate), "--resolve", f"{self.name}:{port}:{self.address}"]
        command += ["-H", f"Authorization: Bearer {self.token}"] if token else []
        command += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)] if body is not None else []
        command += ["--interface", source] if source else []
        command += ["-w", "\n%{http_code}", f"https://{self.name}:{port}/api/v1{path}"]
        done = self.lab.run("client", *command, check=False, timeout=timeout + 30)
        if done.returncode != 0:
            return Answer(0, done.stderr, done.returncode)
        text, _, code = done.stdout.rpartition("\n")
        return Answer(int(code), json.loads(text) if text.strip() else None)

    def ok(self, method: str, path: str, body: object = None, **options) -> object:
        answer = self.request(method, path, body, **options)
        assert answer.status == 200, (method, path, answer)
        return answer.body


def over_ssh(lab, key: Path, command: str, host: str = UNIT) -> str:
    """command's standard output, run as root over SSH from the client namespace (the admin's key)."""
    ssh = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    ssh += ["-o", "ConnectTimeout=20", "-i", str(key), "-o", "IdentitiesOnly=yes", f"root@{host}", command]
    done = lab.run("client", *ssh, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def api_is_up(guest) -> bool:
    return guest.shell("systemctl is-active lbwizard-api")[1].split()[-1:] == ["active"]


def made_over_ssh(lab, guest, key: Path) -> HttpsApi:
    """The API once lbwizard-api.service is up: a token from `lbctl api token add` over SSH, the certificate too."""
    wait_until(lambda: api_is_up(guest), 180, "lbwizard-api.service active")
    token = over_ssh(lab, key, "lbctl api token add e2e").strip()
    certificate = lab.workdir / "unit-certificate.pem"
    certificate.write_text(over_ssh(lab, key, CERTIFICATE))
    return HttpsApi(lab, token, certificate)


def served_by(lab, body: str, tries: int = 30) -> bool:
    return any(lab.fetch("client", f"http://{UNIT}/", timeout=3) == body for _ in range(tries))


def https_api_on_the_unit(lab, guest) -> None:
    """The single unit (issue 36's e2e): see the module's docstring."""
    api = made_over_ssh(lab, guest, lab.workdir / "admin_key")
    assert api.request("GET", "/status", token=False).status == 401
    status = api.ok("GET", "/status")
    assert [s["name"] for s in status["services"]] == ["VIP1"], status
    made = api.ok("POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.51"})
    assert made["ok"] and made["version"] == lbctl_json(guest, "history")[-1]["version"], made
    assert any(step.startswith("hand-over [") for step in made["steps"]), made["steps"]
    wait_until(lambda: served_by(lab, "rs2\n"), 120, "the client served by the server added through the API")
    record = lbctl_json(guest, "history")[-1]
    assert record["via"] == "api token e2e from 10.0.0.31", record

    # the management networks narrowed to one client host through the API itself: the port answers it alone
    api.ok("PUT", "/access/networks", {"networks": ["10.0.0.31/32", "192.168.2.0/24"]})
    refused = api.request("GET", "/status", source="10.0.0.32", timeout=15)
    assert refused.status == 0 and refused.failed == CURL_TIMED_OUT, refused  # dropped, never refused or answered
    assert api.request("GET", "/status", source="10.0.0.31").status == 200
    api.ok("PUT", "/access/networks", {"networks": []})  # the unit's own subnets again
    assert api.request("GET", "/status", source="10.0.0.32").status == 200

    # moved to another port through itself: answered first, then lbwizard-api.path starts it again there
    assert api.ok("PUT", "/listen", {"port": 9444})["ok"]
    wait_until(lambda: api.request("GET", "/status", port=9444, timeout=20).status == 200, 180, "the API on port 9444")
    assert api.request("GET", "/status", timeout=20).status == 0  # nothing listens on 9443 any more
    assert api.ok("PUT", "/listen", {"port": API_PORT}, port=9444)["ok"]
    wait_until(lambda: api.request("GET", "/status", timeout=20).status == 200, 180, "the API back on port 9443")
    journal = guest.shell("journalctl -b -u lbwizard-api-follow -o cat --no-pager | tail -5")[1]
    assert api.ok("GET", "/listen")["port"] == API_PORT, journal

    name = next(s["name"] for s in api.ok("GET", "/virtual-services/VIP1/real-servers") if s["address"] == "192.168.2.51")
    api.ok("DELETE", f"/virtual-services/VIP1/real-servers/{name}")
    wait_until(lambda: not served_by(lab, "rs2\n", tries=10), 60, "the removed server no longer serving")


def a_change_through_the_masters_api_reaches_the_peer(lab, master, backup, servers) -> None:
    """The pair (issue 36's e2e): a server added and removed through the master's API is on the backup too."""
    wait_until(lambda: api_is_up(master), 180, "lbwizard-api.service active on the master")
    status, said = master.shell("lbctl api token add e2e-pair 2>/dev/null")
    assert status == 0, said
    token = said.strip().splitlines()[-1]
    certificate = lab.workdir / "master-certificate.pem"
    status, text = master.shell(CERTIFICATE)
    assert status == 0, text
    certificate.write_text(text[text.index("-----BEGIN CERTIFICATE-----") :].replace("\r", ""))
    api = HttpsApi(lab, token, certificate)
    made = api.ok("POST", "/virtual-services/VIP1/real-servers", {"address": "192.168.2.63", "name": "FROMAPI"})
    assert any(step.startswith("peer 10.0.0.22:") for step in made["steps"]), made["steps"]
    assert ("192.168.2.63", "online") in servers(backup)
    api.ok("DELETE", "/virtual-services/VIP1/real-servers/FROMAPI")
    assert "192.168.2.63" not in [address for address, _ in servers(backup)]
    assert servers(master) == servers(backup)

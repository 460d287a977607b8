"""What the e2e scenarios do again and again with a guest: wait for a condition, for the VIP to serve,
for an answers disk to configure the unit, and apply a config carried on that disk; read a real server's
IPVS weight and a lab namespace's MAC."""

from __future__ import annotations

import copy
import json
import sys
import time

from lbwizard.config.model import ApplianceConfig
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem

VIP_URL = "http://10.0.0.21/"
BOOT = 180  # TCG: a first boot reaches its banner in about 30 s here; generous for a loaded CI machine
# the certificate a TLS client is shown (its SHA-256 over the DER form), from the client namespace
CERTIFICATE_FINGERPRINT = (
    "import hashlib, ssl, sys; pem = ssl.get_server_certificate((sys.argv[1], int(sys.argv[2])));"
    " print(hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest())"
)
APPLY_FROM_ANSWERS_DISK = (
    "mount -o ro LABEL=LBANSWERS /mnt && lbwizard apply --config /mnt/{name}; done=$?; umount /mnt; (exit $done)"
)


def wait_until(condition, timeout: float, what: str, poll: float = 0.5) -> float:
    """Until condition() is true; the seconds it took, or AssertionError naming what did not happen."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        time.sleep(poll)
    return time.monotonic() - start


def wait_served(lab, url: str = VIP_URL, expected: str = "rs1\n", timeout: float = 120) -> None:
    """Until the client gets the real server's page through the VIP."""
    deadline = time.monotonic() + timeout
    while (body := lab.fetch("client", url)) != expected:
        assert time.monotonic() < deadline, f"client got {body!r} from {url}, not {expected!r}"
        time.sleep(1)


def wait_configured(guest, timeout: float = BOOT + 240) -> None:
    """Until lbwizard-answers says the answers disk configured the unit (first boot, TCG)."""
    guest.wait_output(rb"configured from the answers disk", timeout=timeout)


def apply_from_answers_disk(guest, name: str = "scenario.yaml") -> None:
    """`lbwizard apply --config` of a file the host put on the answers disk, as root in the guest."""
    status, output = guest.shell(APPLY_FROM_ANSWERS_DISK.format(name=name), timeout=600)
    assert status == 0, output


def answered_config(answers: dict) -> ApplianceConfig:
    """The config an answers file makes (the host computes the same one the guest's wizard does)."""
    return Flow(LiveSystem()).run_answers(copy.deepcopy(answers))


SCANNER = r"""
import asyncio, sys
host, ports = sys.argv[1], [int(p) for p in sys.argv[2].split(",")]
async def one(port, gate):
    async with gate:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
        except (OSError, asyncio.TimeoutError):
            return None
        writer.close()
        return port
async def main():
    gate = asyncio.Semaphore(512)
    found = await asyncio.gather(*(one(port, gate) for port in ports))
    print(",".join(str(port) for port in found if port))
asyncio.run(main())
"""
# every port below 1025, and the ones this appliance's daemons or a careless admin might open
SCANNED_PORTS = [*range(1, 1025), 1936, 2222, 3306, 5000, 8000, 8080, 8081, 8405, 8443, 8848, 9000, 9100, 9101, 9443]
SCANNED_PORTS += [10000, 11211]


def open_ports(lab, namespace: str, host: str) -> set[int]:
    """A TCP connect scan from a namespace: the ports that accept a connection (dropped ones time out)."""
    ports = ",".join(map(str, SCANNED_PORTS))
    result = lab.run(namespace, sys.executable, "-c", SCANNER, host, ports, timeout=120)
    return {int(port) for port in result.stdout.split(",") if port.strip()}


def lbctl_json(guest, command: str, timeout: float = 60):
    """An lbctl command's --json answer, read back over the serial console as one line."""
    status, output = guest.shell(f"lbctl {command} --json | tr -d '\\n'", timeout=timeout)
    assert status == 0, output
    start = min(i for i in (output.find("["), output.find("{")) if i >= 0)
    return json.loads(output[start:].strip())


def weight(guest, real_server: str, service: str = "") -> int | None:
    """The IPVS weight of a real server (in the IPVS service whose line starts with `service`, "FWM  1"
    say): keepalived sets 0 when its check fails (inhibit_on_failure, so connections already open can
    finish), None when it is not in the table at all."""
    inside = not service
    for line in guest.shell("ipvsadm -Ln")[1].splitlines():
        fields = line.split()
        if fields and fields[0] in ("TCP", "UDP", "FWM"):
            inside = not service or " ".join(fields).startswith(" ".join(service.split()))
        elif inside and len(fields) >= 4 and fields[1] == real_server:
            return int(fields[3])
    return None


def mac(lab, name: str) -> str:
    """The MAC address of a lab namespace's eth0."""
    return lab.run(name, "cat", "/sys/class/net/eth0/address").stdout.strip()

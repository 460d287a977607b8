"""What the HTTPS API costs on the unit itself (issue 36: "measure its import time and memory on the unit"): the
image booted under TCG from the quick start's answers (1 GiB guest), then on its console the import of what
`lbwizard serve` loads against the bare interpreter's start (best of 3 each), lbwizard-api.service's resident
memory (its main process, and the service's cgroup) idle and after 20 reads of /api/v1/status from the client's
namespace, and the guest's memory in use with and without the API running. Under TCG every time is several
times a real machine's; the memory figures are the same as on one."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from image.lab import GuestLab, answers_disk
from tests.conftest import TWO_ARM_NAT
from tests.e2e.https_api import CERTIFICATE, HttpsApi, api_is_up
from tests.e2e.steps import wait_configured, wait_until

PYTHON = "/opt/lbwizard/bin/python"
SERVE_IMPORTS = "import lbwizard.cli, lbwizard.api.app, uvicorn"


def seconds(guest, code: str) -> float:
    """The best of three starts of the unit's Python running code (bash's time, real seconds)."""
    status, output = guest.shell(f"TIMEFORMAT=%R; for i in 1 2 3; do time {PYTHON} -c '{code}'; done 2>&1", timeout=300)
    assert status == 0, output
    return min(float(found) for found in re.findall(r"^(\d+\.\d+)\s*$", output, re.M))


def number(guest, command: str) -> int:
    status, output = guest.shell(command, timeout=60)
    assert status == 0, output
    return int(re.findall(r"^(\d+)\s*$", output, re.M)[-1])


def api_memory(guest) -> tuple[int, int]:
    """(the server's resident KiB, its service's cgroup KiB)."""
    rss = number(guest, "grep VmRSS /proc/$(systemctl show -P MainPID lbwizard-api)/status | tr -dc 0-9; echo")
    cgroup = number(guest, "systemctl show -P MemoryCurrent lbwizard-api") // 1024
    return rss, cgroup


def used_kib(guest) -> int:
    return number(guest, "free -k | awk '/^Mem:/ {print $3}'")


def main() -> None:
    lab = GuestLab().build()
    try:
        guest = lab.boot(drives=[answers_disk(lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT))])
        wait_configured(guest, timeout=600)
        guest.login(TWO_ARM_NAT["admin_password"])
        wait_until(lambda: api_is_up(guest), 300, "lbwizard-api.service active")
        bare, loaded = seconds(guest, "pass"), seconds(guest, SERVE_IMPORTS)
        print(f"on the unit (TCG): the interpreter starts in {bare:.2f} s; with lbwizard serve's imports {loaded:.2f} s "
              f"(+{loaded - bare:.2f} s)")  # fmt: skip
        rss, cgroup = api_memory(guest)
        print(f"lbwizard-api idle: RSS {rss} KiB, its cgroup {cgroup} KiB")
        status, token = guest.shell("lbctl api token add bench 2>/dev/null | tail -1")
        status_cert, text = guest.shell(CERTIFICATE)
        assert status == 0 and status_cert == 0, (token, text)
        certificate = lab.workdir / "unit-certificate.pem"
        certificate.write_text(text[text.index("-----BEGIN CERTIFICATE-----") :].replace("\r", ""))
        api = HttpsApi(lab, token.strip().splitlines()[-1], certificate)
        for _ in range(20):
            api.ok("GET", "/status")
        rss, cgroup = api_memory(guest)
        print(f"lbwizard-api after 20 GET /status: RSS {rss} KiB, its cgroup {cgroup} KiB")
        with_api = used_kib(guest)
        guest.shell("systemctl stop lbwizard-api", timeout=120)
        without = used_kib(guest)
        print(f"the guest's memory in use: {with_api} KiB with the API, {without} KiB without (1 GiB guest)")
    finally:
        lab.close()


if __name__ == "__main__":
    main()

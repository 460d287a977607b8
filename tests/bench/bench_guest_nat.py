"""Issue 6's figures for two-arm NAT in the guest (TCG): time from `lbctl rs add` (a second real
server, through the lbwizard apply path) to that server serving, and from a pulled cable to the health
check taking it out of service and back. Health check: TCP_CHECK every 6 s, connect_timeout 3 s (the model's defaults)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from image.lab import GuestLab, answers_disk
from tests.conftest import TWO_ARM_NAT
from tests.e2e.steps import wait_configured, wait_served, wait_until
from tests.e2e.test_nat_scenarios import weight


def until(condition, what: str) -> float:
    """Seconds until condition() holds, polled every 0.2 s (finer than the tests need)."""
    return wait_until(condition, 300, what, poll=0.2)


def main() -> None:
    lab = GuestLab().build()
    try:
        lab.add_real_server("rs2", "192.168.2.51")
        guest = lab.boot(drives=[answers_disk(lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT))])
        wait_configured(guest, timeout=600)
        wait_served(lab)
        guest.login(TWO_ARM_NAT["admin_password"])
        start = time.monotonic()
        status, _ = guest.shell("lbctl rs add VIP1 192.168.2.51 >/dev/null", timeout=600)
        applied = time.monotonic() - start
        serving = applied + until(lambda: lab.fetch("client", "http://10.0.0.21/", timeout=2) == "rs2\n", "rs2 serving")
        print(f"lbctl rs add (second real server), hand-over included:  {applied:6.1f} s (exit {status})")
        print(f"  ... to the second real server answering the client:   {serving:6.1f} s")
        lab.run("sw", "ip", "link", "set", "rs2-port", "down")
        out = until(lambda: weight(guest, "192.168.2.51:80") == 0, "rs2 out of service")
        print(f"pulled cable -> rs2 weight 0 (out of service):          {out:6.1f} s")
        lab.run("sw", "ip", "link", "set", "rs2-port", "up")
        back = until(lambda: weight(guest, "192.168.2.51:80") == 1, "rs2 back in service")
        print(f"cable back   -> rs2 weight 1 (in service again):        {back:6.1f} s")
    finally:
        lab.close()


if __name__ == "__main__":
    main()

"""Two-arm NAT in the guest (TCG), issue 19's day-2 figures: `lbctl rs add` end to end, and separately the
time from its start until the added server answers the client (IPVS takes it first, by ipvsadm, before
the hand-over makes it durable); then `lbctl rs drain` (in effect, and end to end), and a pulled cable
until the health check takes the server out and back. Health check: TCP_CHECK every 6 s,
connect_timeout 3 s (the model's defaults). Goal: rs add end to end <= 15 s (51 s before issue 19)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from image.lab import GuestLab, answers_disk
from tests.conftest import TWO_ARM_NAT
from tests.e2e.steps import wait_configured, wait_served, wait_until
from tests.e2e.test_single_unit import weight

END = re.compile(rb"__LB_END_(\d+)__")


def until(condition, what: str) -> float:
    """Seconds until condition() holds, polled every 0.2 s (finer than the tests need)."""
    return wait_until(condition, 300, what, poll=0.2)


def while_running(guest, command: str, effect) -> tuple[float, float | None, int]:
    """Start command on the console and poll effect() (which must not use the console) until it holds and
    the command has ended: (seconds to the end, seconds to the effect, exit status)."""
    mark = len(guest.raw)
    start = time.monotonic()
    guest.send(f"{command} >/dev/null; echo __LB_END_$?__\r")
    effect_at = ended_at = None
    status = -1
    while ended_at is None or effect_at is None:
        guest.pump(timeout=0.05)
        now = time.monotonic() - start
        if effect_at is None and effect():
            effect_at = now
        if ended_at is None and (match := END.search(bytes(guest.raw), mark)):
            ended_at, status = now, int(match.group(1))
        assert now < 300, f"{command}: no end or effect within 300 s"
    guest.wait_output(rb"# ", 30, since=len(guest.raw) - 2)
    return ended_at, effect_at, status


def main() -> None:
    lab = GuestLab().build()
    try:
        lab.add_real_server("rs2", "192.168.2.51")
        guest = lab.boot(drives=[answers_disk(lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT))])
        wait_configured(guest, timeout=600)
        wait_served(lab)
        guest.login(TWO_ARM_NAT["admin_password"])
        served_by_rs2 = lambda: lab.fetch("client", "http://10.0.0.21/", timeout=1) == "rs2\n"
        end, effect, status = while_running(guest, "lbctl rs add VIP1 192.168.2.51", served_by_rs2)
        print(f"lbctl rs add (second real server), hand-over included:  {end:6.1f} s end to end (exit {status}; goal <= 15)")
        print(f"  ... the second real server answering the client after: {effect:6.1f} s from the command's start")
        # read from the client's side only: the console is busy with the command
        drained = lambda: {lab.fetch("client", "http://10.0.0.21/", timeout=1) for _ in range(4)} == {"rs1\n"}
        end, effect, status = while_running(guest, "lbctl rs drain VIP1 RIP2", drained)
        print(f"lbctl rs drain: only rs1 answering after {effect:.1f} s, end to end {end:.1f} s (exit {status})")
        guest.shell("lbctl rs online VIP1 RIP2 >/dev/null", timeout=300)
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

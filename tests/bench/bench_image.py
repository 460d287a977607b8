"""The appliance image: sizes, build time (cached and, with --cold, from an empty cache), boot to the
wizard banner under TCG, and an answers-disk first boot to the VIP serving.

Goals (the image issue): qcow2 and ISO <= 250 MB; cold build <= 10 min; banner <= 30 s under TCG;
answers disk to the VIP serving <= 180 s. Run as root after `make image`. Prints absolute figures and,
for the boot, where the time goes (firmware + kernel + initramfs until systemd starts, then systemd).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from image.lab import IMAGE, GuestLab, answers_disk
from tests.conftest import TWO_ARM_NAT

ROOT = Path(__file__).resolve().parents[2]


def megabytes(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.0f} MB"


def build(cache: str | None) -> float:
    env = {**os.environ, **({"LB_IMAGE_CACHE": cache} if cache else {})}
    start = time.perf_counter()
    subprocess.run([str(ROOT / "image/build"), str(ROOT / "build")], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def boot_to_banner() -> tuple[float, float]:
    lab = GuestLab().build()
    try:
        guest = lab.boot()
        start = time.monotonic()
        guest.wait_output(rb"Welcome to .*Debian", timeout=180)
        systemd = time.monotonic() - start
        guest.wait_screen("Press Enter to configure this load balancer", timeout=180)
        return systemd, time.monotonic() - start
    finally:
        lab.close()


def answers_to_serving() -> float:
    lab = GuestLab().build()
    try:
        disk = answers_disk(lab.workdir / "answers.img", yaml.safe_dump(TWO_ARM_NAT))
        guest = lab.boot(drives=[disk])
        start = time.monotonic()
        while lab.fetch("client", "http://10.0.0.21/", timeout=1) != "rs1\n":
            guest.pump(0.5)
            if time.monotonic() - start > 600:
                raise RuntimeError("the VIP did not serve within 600 s")
        return time.monotonic() - start
    finally:
        lab.close()


def main() -> None:
    if "--cold" in sys.argv:
        with tempfile.TemporaryDirectory(prefix="lb-cold-cache-") as cache:
            print(f"build, cold (empty cache):       {build(cache):7.1f} s   goal <= 600 s")
    print(f"build, cached base stage:        {build(None):7.1f} s")
    print(f"qcow2: {megabytes(IMAGE)}   ISO: {megabytes(IMAGE.with_suffix('.iso'))}   goal <= 250 MB each")
    systemd, banner = boot_to_banner()
    print(f"boot to the wizard banner (TCG): {banner:7.1f} s   goal <= 30 s  (systemd started at {systemd:.1f} s)")
    print(f"answers disk to the VIP serving: {answers_to_serving():7.1f} s   goal <= 180 s")


if __name__ == "__main__":
    main()

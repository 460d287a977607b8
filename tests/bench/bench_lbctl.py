"""lbctl speed in the lab's namespaces, with a real HAProxy: how long an `rs add` takes end to end, and
how soon a drain takes effect compared with how long the whole command runs (the runtime API acts
before the transaction's file steps and the hand-over finish). Needs root."""

from __future__ import annotations

import copy
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lbwizard.config import model
from lbwizard.config.model import RealServer
from lbwizard.engines import haproxy
from lbwizard.setup.flow import Flow
from lbwizard.setup.live import LiveSystem
from tests.conftest import TWO_ARM_NAT
from tests.netns.lab import Lab, lbwizard
from tests.roles.render import render


def lbctl(lab: Lab, root: Path, *args: str) -> subprocess.Popen:
    command = ["ip", "netns", "exec", lab.ns("lb"), sys.executable, "-m", "lbwizard.manage.lbctl", "--root", str(root), *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main() -> None:
    lab = Lab().build()
    try:
        lab.add_real_server("rs2", "192.168.2.51")
        config = Flow(LiveSystem()).run_answers(copy.deepcopy(TWO_ARM_NAT | {"method": "snat"}))
        config.virtual_services[0].real_servers = [RealServer("RS1", "192.168.2.50", 8080)]
        work = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True, check=True).stdout.strip())
        root, path = work / "root", work / "appliance.yaml"
        path.write_text(model.dumps(config))
        assert lbwizard(lab, "apply", "--config", str(path), "--root", str(root), "--no-handover").returncode == 0
        for name, address in (("rs1", "192.168.2.50"), ("rs2", "192.168.2.51")):
            lab.start_http(name, address, 8080, name)
        sock = root / "run/haproxy/admin.sock"
        sock.parent.mkdir(parents=True)
        cfg = work / "haproxy.cfg"
        cfg.write_text(render("haproxy", config, haproxy_stats_socket=str(sock)))
        lab.start_haproxy(cfg, sock)

        start = time.perf_counter()
        added = lbctl(lab, root, "rs", "add", "VIP1", "192.168.2.51:8080", "--name", "RS2")
        assert added.wait() == 0, added.stdout.read() if added.stdout else ""
        add_seconds = time.perf_counter() - start
        print(f"lbctl rs add, end to end (verify, network/firewall re-applied, files, hand-over render): {add_seconds:.2f} s")

        start = time.perf_counter()
        drain = lbctl(lab, root, "rs", "drain", "VIP1", "RS1")
        effect = None
        while drain.poll() is None:
            row = haproxy.haproxy_stats(sock).get(("VIP1_servers", "RS1"), {})
            if effect is None and row.get("status", "").startswith("DRAIN"):
                effect = time.perf_counter() - start
            time.sleep(0.005)
        total = time.perf_counter() - start
        assert drain.returncode == 0
        print(
            f"lbctl rs drain: in effect in HAProxy after {effect:.3f} s, command done after {total:.2f} s "
            f"(ratio {effect / total:.2f}); no reload"
        )
    finally:
        lab.close()


if __name__ == "__main__":
    main()

"""The fault matrix's runtime steps: each one's undo, run against an engine that already has the state the
undo asks for, and against one that does not.

A day-2 change reaches the running engines first (apply/runtime.py: ipvsadm for IPVS's destinations,
HAProxy's runtime API for its servers' states), and its undo runs after the hand-over's undo, whose reload
may already have put the engine back: keepalived re-adds a destination an `ipvsadm -d` removed, in its own
time (issue 35: `lbctl rs offline VIP1 RIP1` then ended "the rollback is INCOMPLETE: ... ipvsadm -a ...
Destination already exists"). Each change here is held after its runtime step (the transaction's pause
hook); the test either plays that reload (the engine put back as it was before the change) or leaves the
engine as the step left it; then SIGTERM: the change must undo itself, exit 130, never say INCOMPLETE,
and leave the whole picture (files, namespace, HAProxy's servers, the IPVS table) exactly as before.

The lab of the power-cut matrix: VIP1 (layer 4, two-arm NAT, RIP1) and WEB (layer 7, RS1 and RS2) with a
real HAProxy on the root's haproxy.cfg. The host kernel has no IPVS, so ipvsadm is a stand-in over a table
file (tests/netns/ipvsadm_stand_in.py) that keeps ipvsadm's refusals; the e2e tier has the real one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lbwizard.apply.runtime import _haproxy_state
from lbwizard.config import model
from lbwizard.engines.haproxy import haproxy_set, server_settings
from lbwizard.render.rolevars import keepalived_virtual_servers
from tests.netns import ipvsadm_stand_in
from tests.netns.lab import finish
from tests.netns.test_power_cut_matrix import SOCKET, Unit, mismatch, paused, picture

RUNTIME_STEP = 2  # the rollback record is step 1; the runtime steps come next, before anything else
TO = "IPVS TCP 10.0.0.21:80 -> 192.168.2"  # the start of each IPVS step's line
RS2 = "HAProxy runtime: WEB_servers/RS2"
RESTART = ["(restart HAProxy from the root's haproxy.cfg, as a boot does)"]
CASES = {
    # name: (changes made first, whole; the change held after its runtime step; the start of that step's line)
    "ipvs add": ([], ["rs", "add", "VIP1", "192.168.2.51"], f"{TO}.51:80: add with weight 1"),
    "ipvs remove (the only server offline)": ([], ["rs", "offline", "VIP1", "RIP1"], f"{TO}.50:80: remove"),
    "ipvs weight": ([], ["rs", "set", "VIP1", "RIP1", "--weight", "3"], f"{TO}.50:80: weight 1 -> 3"),
    "haproxy drain": ([], ["rs", "drain", "WEB", "RS1"], "HAProxy runtime: WEB_servers/RS1 online -> drain"),
    "haproxy offline": ([], ["rs", "offline", "WEB", "RS1"], "HAProxy runtime: WEB_servers/RS1 online -> offline"),
    "haproxy online": ([["rs", "offline", "WEB", "RS2"]], ["rs", "online", "WEB", "RS2"], f"{RS2} offline -> online"),
    # HAProxy started from a file where RS2 is disabled: its admin state has the configuration's maintenance bit,
    # which "ready" leaves set while the server serves (show servers state: 5, then 4)
    "haproxy online, offline in the file": (
        [["rs", "offline", "WEB", "RS2"], RESTART], ["rs", "online", "WEB", "RS2"], f"{RS2} offline -> online"
    ),
}  # fmt: skip
HAPROXY_WORD = {"online": "ready", "drain": "drain", "offline": "maint"}


class Engines:
    """The stand-in IPVS table (keepalived's part played by the test) beside the lab's real HAProxy."""

    def __init__(self, unit: Unit, tmp_path: Path) -> None:
        self.unit, self.table, self.bin = unit, tmp_path / "ipvs/table.json", tmp_path / "ipvs/bin"
        ipvsadm_stand_in.install(self.bin, self.table)
        self.log = self.table.parent / "ipvsadm.log"

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}:{os.environ['PATH']}"}

    def load_saved(self) -> None:
        """The table keepalived loads from the unit's saved configuration."""
        saved = model.loads((self.unit.root / "etc/lbwizard/appliance.yaml").read_text())
        ipvsadm_stand_in.write_table(self.table, ipvsadm_stand_in.table_of(keepalived_virtual_servers(saved)))

    def picture(self) -> dict:
        return picture(self.unit.lab, self.unit.root) | {"ipvs": ipvsadm_stand_in.read_table(self.table)}

    def put_back(self, old: dict) -> None:
        """The engines as they were before the change, as the hand-over's undo (a reload) makes them."""
        ipvsadm_stand_in.write_table(self.table, old["ipvs"])
        sock = self.unit.root / SOCKET
        for where, wanted in old["haproxy"].items():
            if server_settings(sock).get(where) != wanted:
                haproxy_set(sock, f"set weight {where} {wanted['weight']}")
                haproxy_set(sock, f"set server {where} state {HAPROXY_WORD[_haproxy_state(wanted)]}")
        assert self.picture()["haproxy"] == old["haproxy"]

    def edits(self) -> list[str]:
        """The ipvsadm commands that changed the table, in order (reads are not edits)."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [line for line in lines if line.split()[:1] in (["-a"], ["-d"], ["-e"])]


def lbctl(unit: Unit, engines: Engines, *args: str, pause: int | None = None) -> subprocess.Popen:
    """lbctl in the load balancer's namespace, ipvsadm the stand-in, optionally held after step `pause`."""
    command = ["ip", "netns", "exec", unit.lab.ns("lb"), sys.executable, "-m", "lbwizard.manage.lbctl", "--root", str(unit.root)]
    hold = {"LBWIZARD_TEST_PAUSE_AFTER_STEP": str(pause)} if pause else {}
    env = {**os.environ, **engines.env(), **hold}
    return subprocess.Popen([*command, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.long
@pytest.mark.parametrize("case", sorted(CASES))
def test_each_runtime_steps_undo_succeeds_whether_or_not_the_engine_is_already_back(lab, tmp_path, case):
    first, change, step = CASES[case]
    unit = Unit(lab, tmp_path)
    engines = Engines(unit, tmp_path)
    for already_back in (True, False):
        unit.reset()
        engines.load_saved()
        for earlier in first:
            if earlier == RESTART:
                unit.power_off_haproxy()
                unit.start_haproxy()
                continue
            done = lbctl(unit, engines, *earlier)
            out, err = done.communicate(timeout=120)
            assert done.returncode == 0, out + err
        old = engines.picture()
        held = lbctl(unit, engines, *change, pause=RUNTIME_STEP)
        paused(held, RUNTIME_STEP)
        took = engines.picture()
        assert (took["ipvs"], took["haproxy"]) != (old["ipvs"], old["haproxy"]), f"{case}: the engine did not take the step"
        if already_back:
            engines.put_back(old)
        edits = len(engines.edits())
        held.send_signal(signal.SIGTERM)
        out, err = finish(held, f"{case}: SIGTERM after its runtime step")
        said = f"{case} (engine {'already back' if already_back else 'as the step left it'}):\n{out}{err}"
        assert [line for line in out.splitlines() if line.startswith("- ")][RUNTIME_STEP - 1].startswith(f"- {step}"), said
        assert held.returncode == 130 and "INCOMPLETE" not in err, said
        left = engines.picture()
        assert left == old, f"{said}\nleft: {mismatch(left, old)}; IPVS {left['ipvs']} / {old['ipvs']}"
        if already_back:  # it looked before it acted: nothing was left to edit
            assert engines.edits()[edits:] == [], said


# The same steps against the stand-in alone, where keepalived moves the table at the worst moments.
ENTRY = {"protocol": "TCP", "address": "10.0.0.21", "port": 80, "fwmark": None, "lb_kind": "NAT"}
WITH_RIP1 = {"TCP 10.0.0.21:80": {"scheduler": "wlc", "destinations": {"192.168.2.50:80": ["Masq", 1]}}}


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """LiveEngines over the stand-in ipvsadm; `before_each_edit` runs just before each ipvsadm edit."""
    from lbwizard.engines.access import LiveEngines

    table = tmp_path / "table.json"
    ipvsadm_stand_in.install(tmp_path / "bin", table)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")

    class Racing(LiveEngines):
        before_each_edit = staticmethod(lambda: None)

        def ipvsadm(self, *args: str) -> None:
            Racing.before_each_edit()
            super().ipvsadm(*args)

    return Racing(tmp_path / "no.sock"), table


def test_keepalived_putting_the_destination_back_between_look_and_act_is_no_failure(stand_in):
    from lbwizard.apply.runtime import _ipvs_set

    engines, table = stand_in
    ipvsadm_stand_in.write_table(table, {"TCP 10.0.0.21:80": {"scheduler": "wlc", "destinations": {}}})
    engines.before_each_edit = lambda: ipvsadm_stand_in.write_table(table, WITH_RIP1)  # keepalived, just then
    _ipvs_set(engines, ENTRY, ("192.168.2.50", 80), 1)  # ipvsadm -a: "Destination already exists"; looked again
    assert ipvsadm_stand_in.read_table(table) == WITH_RIP1


def test_an_undo_waits_for_keepalived_to_load_the_service_again_then_puts_the_destination_back(stand_in):
    import threading

    from lbwizard.apply.runtime import _ipvs_set

    engines, table = stand_in
    ipvsadm_stand_in.write_table(table, {})  # the reload that loads the service again is on its way
    empty = {"TCP 10.0.0.21:80": {"scheduler": "wlc", "destinations": {}}}
    threading.Timer(0.6, lambda: ipvsadm_stand_in.write_table(table, empty)).start()
    _ipvs_set(engines, ENTRY, ("192.168.2.50", 80), 1)
    assert ipvsadm_stand_in.read_table(table) == WITH_RIP1


def test_a_service_keepalived_never_loads_again_is_named_when_its_destination_cannot_be_put_back(stand_in, monkeypatch):
    from lbwizard.apply import runtime
    from lbwizard.engines.errors import EngineError

    engines, table = stand_in
    ipvsadm_stand_in.write_table(table, {})
    monkeypatch.setattr(runtime, "IPVS_SERVICE_WAIT", 0.5)
    with pytest.raises(EngineError, match=r"IPVS has no service TCP 10.0.0.21:80, so 192.168.2.50:80 cannot be put back"):
        runtime._ipvs_set(engines, ENTRY, ("192.168.2.50", 80), 1)
    runtime._ipvs_set(engines, ENTRY, ("192.168.2.50", 80), None)  # not there is what a removal asks: done

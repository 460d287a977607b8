"""lbwizard-vrrp-state, keepalived's VRRP event reader, fed through a real FIFO as keepalived feeds it: the
state kept is the last one written, however fast the transitions come, and no line names a file outside
its directory. (The pair's netns tests run it under a real keepalived; this one drives the order.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.e2e.steps import wait_until

READER = Path(__file__).resolve().parents[2] / "rootfs-overlay/usr/local/sbin/lbwizard-vrrp-state"
STATES = ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER", "BACKUP", "STOP", "BACKUP"]


def started_reader(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    run = tmp_path / "run/lbwizard"
    run.mkdir(parents=True)
    fifo = run / "vrrp-events"
    os.mkfifo(fifo)
    reader = subprocess.Popen([str(READER), str(run / "vrrp"), str(fifo)])
    return reader, run, fifo


def test_every_transition_in_a_burst_is_kept_in_order_and_the_last_one_stays(tmp_path):
    reader, run, fifo = started_reader(tmp_path)
    try:
        lines = [f'INSTANCE "VI_EXTERNAL" {state} 100\nGROUP "VG_LB" {state}\n' for state in STATES * 25]
        with open(fifo, "w") as keepalived:  # one write per event, as keepalived does
            for line in lines:
                keepalived.write(line)
                keepalived.flush()
            keepalived.write('INSTANCE "VI_EXTERNAL" MASTER_RX_LOWER_PRI 100\nINSTANCE "VI_EXTERNAL" MASTER_PRIORITY 90\n')
        state = run / "vrrp/VI_EXTERNAL"
        metrics = run / "metrics/vrrp_VI_EXTERNAL.prom"
        # the reader reopens the FIFO after keepalived closes it; a second writer is read as well
        with open(fifo, "w") as keepalived:
            keepalived.write('INSTANCE "VI_INTERNAL" FAULT 100\n')
        # its metrics file is the last one an event writes
        wait_until(lambda: (run / "metrics/vrrp_VI_INTERNAL.prom").exists(), 10, "the second writer's event kept", poll=0.02)
        assert state.read_text() == f"{STATES[-1]}\n"
        assert f'lbwizard_vrrp_state{{instance="VI_EXTERNAL",state="{STATES[-1]}"}} 1' in metrics.read_text()
        assert metrics.read_text().count("} 1\n") == 1
        assert oct(metrics.stat().st_mode & 0o777) == "0o644"  # the node exporter reads it as its own user
        assert sorted(p.name for p in (run / "vrrp").iterdir()) == ["VI_EXTERNAL", "VI_INTERNAL"]
        assert reader.poll() is None
    finally:
        reader.kill()
        reader.wait()


def test_a_line_naming_a_path_writes_nothing_and_the_reader_goes_on(tmp_path):
    reader, run, fifo = started_reader(tmp_path)
    try:
        with open(fifo, "w") as keepalived:
            for name in ("../../escaped", "/tmp/escaped", ".hidden", "", "a/b"):
                keepalived.write(f'INSTANCE "{name}" MASTER 100\n')
            keepalived.write('INSTANCE "VI_EXTERNAL" MASTER 100\n')
        wait_until(lambda: (run / "metrics/vrrp_VI_EXTERNAL.prom").exists(), 10, "the plain name's event kept", poll=0.02)
        written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
        assert written == ["run/lbwizard/metrics/vrrp_VI_EXTERNAL.prom", "run/lbwizard/vrrp/VI_EXTERNAL"]
        assert reader.poll() is None
    finally:
        reader.kill()
        reader.wait()


def test_keepalived_stopping_marks_the_instance_stop(tmp_path):
    """notify_stop's form: keepalived ends the reader before it stops, so each instance says STOP itself."""
    run = tmp_path / "run/lbwizard"
    (run / "vrrp").mkdir(parents=True)
    (run / "vrrp/VI_EXTERNAL").write_text("MASTER\n")
    subprocess.run([str(READER), str(run / "vrrp"), "--stopped", "VI_EXTERNAL"], check=True)
    assert (run / "vrrp/VI_EXTERNAL").read_text() == "STOP\n"
    refused = subprocess.run([str(READER), str(run / "vrrp"), "--stopped", "../x"])
    assert refused.returncode == 2
    assert not (run / "x").exists()

"""Is the unit's clock synchronised? chrony's own answer (`chronyc -c tracking`), for lbctl status and
diagnose: logs, certificates and the pair's history all lean on the time being right.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

NOT_SYNCHRONISED = "Not synchronised"
CHRONY_SOCKET = Path("/run/chrony/chronyd.sock")  # root's chronyc talks to chronyd here (no UDP command port)


@dataclass
class ClockState:
    synchronised: bool
    source: str = ""  # the server chrony follows (its address or name), "" when none
    stratum: int = 0
    offset: float = 0.0  # seconds the system clock is ahead of NTP time (negative: behind)
    leap: str = NOT_SYNCHRONISED  # chrony's leap status: Normal, Insert second, Delete second, Not synchronised
    error: str = ""  # why chrony could not be asked, when it could not

    def as_json(self) -> dict:
        return asdict(self)


def parse_tracking(csv_line: str) -> ClockState:
    """`chronyc -c tracking`: reference id, its name, stratum, ref time, system time offset, ..., leap status."""
    fields = csv_line.strip().split(",")
    if len(fields) < 14:
        return ClockState(False, error=f"chronyc said {csv_line.strip()!r}")
    leap = fields[-1]
    synchronised = fields[0] != "00000000" and leap != NOT_SYNCHRONISED
    return ClockState(synchronised, fields[1], int(fields[2] or 0), float(fields[4] or 0), leap)


def clock_state(socket: Path = CHRONY_SOCKET) -> ClockState:
    """chrony's tracking now; not synchronised, saying why, when chrony cannot be asked."""
    if shutil.which("chronyc") is None:
        return ClockState(False, error="chrony is not installed")
    if not socket.exists():  # chronyc would fall back to the network and wait
        return ClockState(False, error="chronyd is not running (systemctl status chrony)")
    try:
        command = ["chronyc", "-h", str(socket), "-c", "-n", "tracking"]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=5)
    except subprocess.TimeoutExpired:
        return ClockState(False, error="chronyd did not answer within 5 s")
    if result.returncode != 0:
        return ClockState(False, error=f"chronyc: {(result.stderr or result.stdout).strip() or result.returncode}")
    return parse_tracking(result.stdout)


def as_text(state: ClockState, ntp_servers: list[str]) -> str:
    """One line for lbctl status."""
    if state.synchronised:
        return f"clock: synchronised to {state.source} (stratum {state.stratum}, offset {state.offset:+.6f} s)"
    if not ntp_servers:
        return "clock: NOT synchronised: no NTP server is configured (lbctl time servers ADDRESS ...)"
    why = state.error or f"chrony has not reached {', '.join(ntp_servers)} yet"
    return f"clock: NOT synchronised: {why}"

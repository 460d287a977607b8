"""make test's pytest step in two lanes side by side: the guest tier (QEMU boots of the image, one core busy
under TCG) and the host tiers (unit, tui, cli, roles, netns: mostly waiting on daemons in namespaces). Run one
after the other they took 1059 s and 935 s on a 2-core machine; side by side the suite takes about as long as
the longer lane. Each lane is a whole pytest run of its own (its namespaces are named by its pid, so they cannot
meet), its lines prefixed with its name; the step fails if either lane fails."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-q"]


@dataclass
class Lane:
    """One pytest run and what it printed; started and streamed by run()."""

    name: str
    args: list[str]
    started: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, width: int) -> threading.Thread:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [*PYTEST, *self.args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        thread = threading.Thread(target=self._stream, args=(f"[{self.name}]".ljust(width + 2),), daemon=True)
        thread.start()
        return thread

    def _stream(self, prefix: str) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            sys.stdout.write(prefix + " " + line)
            sys.stdout.flush()
        self.returncode = self.process.wait()
        self.seconds = time.monotonic() - self.started


OUTCOME = {0: "passed", 5: "no test selected"}  # pytest's exit codes that are not a failure (5: a -k left a lane empty)
LANES = [
    Lane("guests", ["tests/e2e"]),
    Lane("host", ["--ignore=tests/e2e", "-p", "no:cacheprovider"]),
]


def main(extra: list[str]) -> int:
    started = time.monotonic()
    width = max(len(lane.name) for lane in LANES)
    for lane in LANES:
        lane.args += extra
    threads = [lane.start(width) for lane in LANES]
    for thread in threads:
        while thread.is_alive():  # a Ctrl-C reaches the lanes' pytest runs too: they tear down, then end
            try:
                thread.join()
            except KeyboardInterrupt:
                print("interrupted: waiting for the lanes to stop what they started", flush=True)
    lanes = ", ".join(f"{lane.name} {lane.seconds:.0f} s ({OUTCOME.get(lane.returncode, 'FAILED')})" for lane in LANES)
    print(f"time: pytest lanes side by side: {lanes}; wall {time.monotonic() - started:.0f} s")
    return 0 if all(lane.returncode in OUTCOME for lane in LANES) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

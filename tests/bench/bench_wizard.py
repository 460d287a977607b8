"""Wizard speed: cold start to the first screen, and an answers run, against bare baselines.

Prints medians (seconds) and ratios measured in this one run; goals from the lbwizard issue are
<= 0.5 s for both. Not a test: numbers go into the issue note.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.conftest import TWO_ARM_NAT

RUNS = 7
BARE_APP = """
from textual.app import App
from textual.widgets import Button, Input, Label
class Bare(App):
    def compose(self):
        yield Label("Load balancer setup wizard")
        yield Input()
        yield Button("Next")
Bare().run()
"""


def time_to_screen(command: list[str], marker: str) -> float:
    """Seconds from spawn until marker is drawn on an 80x24 TERM=linux pty; then Ctrl-C."""
    start = time.perf_counter()
    child = pexpect.spawn(command[0], command[1:], dimensions=(24, 80), env={"TERM": "linux", "PATH": "/usr/bin:/bin"})
    child.expect(marker, timeout=30)
    elapsed = time.perf_counter() - start
    child.sendcontrol("q")  # quits both apps (Textual 8 leaves ctrl+c to copy)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    return elapsed


def time_command(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def median(fn, *args) -> float:
    fn(*args)  # warm the page cache once, as a second boot would be
    return statistics.median(fn(*args) for _ in range(RUNS))


def main() -> None:
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="lbwizard-bench-"))
    answers = work / "answers.yaml"
    answers.write_text(yaml.safe_dump(TWO_ARM_NAT))

    wizard_start = median(
        time_to_screen, [python, "-m", "lbwizard.cli", "--dry-run", "--root", str(work / "tui")], "setup wizard"
    )
    bare_start = median(time_to_screen, [python, "-c", BARE_APP], "setup wizard")

    def answers_run() -> float:
        root = Path(tempfile.mkdtemp(dir=work))
        return time_command(
            [python, "-m", "lbwizard.cli", "--answers", str(answers), "--no-handover", "--dry-run", "--root", str(root)]
        )

    answers_time = median(answers_run)
    interpreter = median(time_command, [python, "-c", "import yaml"])

    print(
        f"cold start to first screen: lbwizard {wizard_start:.3f} s, bare Textual app {bare_start:.3f} s, "
        f"ratio {wizard_start / bare_start:.2f} (goal <= 0.5 s)"
    )
    print(
        f"answers run (--dry-run, no hand-over): {answers_time:.3f} s, python+yaml start {interpreter:.3f} s, "
        f"ratio {answers_time / interpreter:.2f} (goal <= 0.5 s)"
    )


if __name__ == "__main__":
    main()

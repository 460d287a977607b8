"""Wizard speed: cold start to the first screen, and an answers run, against bare baselines.

Prints medians (seconds) and ratios measured in this one run; goals from the lbwizard issue are
<= 0.5 s for both, and (issue 34) neither gets slower than at an earlier commit: `--baseline REF` measures
that commit's code in the same run (a git worktree on PYTHONPATH, the same virtualenv), interleaved with
this one's. Also the import of the settings' declarations (config/model.py with its kinds and reader), the
schema library the appliance uses instead of pydantic. Not a test: numbers go into the issue note.
"""

from __future__ import annotations

import argparse
import os
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


def time_to_screen(command: list[str], marker: str, env: dict | None = None) -> float:
    """Seconds from spawn until marker is drawn on an 80x24 TERM=linux pty; then Ctrl-C."""
    start = time.perf_counter()
    child = pexpect.spawn(
        command[0], command[1:], dimensions=(24, 80), env={"TERM": "linux", "PATH": "/usr/bin:/bin", **(env or {})}
    )
    child.expect(marker, timeout=30)
    elapsed = time.perf_counter() - start
    child.sendcontrol("q")  # quits both apps (Textual 8 leaves ctrl+c to copy)
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    return elapsed


def time_command(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - start


def median(fn, *args) -> float:
    fn(*args)  # warm the page cache once, as a second boot would be
    return statistics.median(fn(*args) for _ in range(RUNS))


def baseline_tree(ref: str) -> Path:
    """The code of an earlier commit, checked out beside this one (a git worktree), for PYTHONPATH."""
    top = Path(__file__).resolve().parents[2]
    tree = Path(tempfile.gettempdir()) / f"lbwizard-baseline-{ref}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(top), "worktree", "add", "--detach", str(tree), ref], check=True, capture_output=True)
    return tree / "wizard"


def measure(python: str, work: Path, answers: Path, env: dict) -> dict[str, float]:
    def answers_run() -> float:
        root = Path(tempfile.mkdtemp(dir=work))
        command = [python, "-m", "lbwizard.cli", "--answers", str(answers), "--no-handover", "--dry-run", "--root", str(root)]
        return time_command(command, env)

    imports = [python, "-c", "import lbwizard.config.model, lbwizard.config.verify"]
    return {
        "start": median(
            time_to_screen, [python, "-m", "lbwizard.cli", "--dry-run", "--root", str(work / "tui")], "setup wizard", env
        ),
        "answers": median(answers_run),
        "declarations": median(time_command, imports, env),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", metavar="REF", help="also measure this commit's code, in the same run")
    args = parser.parse_args()
    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="lbwizard-bench-"))
    answers = work / "answers.yaml"
    answers.write_text(yaml.safe_dump(TWO_ARM_NAT))

    here = measure(python, work, answers, {})
    bare_start = median(time_to_screen, [python, "-c", BARE_APP], "setup wizard")
    interpreter = median(time_command, [python, "-c", "import yaml"])
    print(
        f"cold start to first screen: lbwizard {here['start']:.3f} s, bare Textual app {bare_start:.3f} s, "
        f"ratio {here['start'] / bare_start:.2f} (goal <= 0.5 s)"
    )
    print(
        f"answers run (--dry-run, no hand-over): {here['answers']:.3f} s, python+yaml start {interpreter:.3f} s, "
        f"ratio {here['answers'] / interpreter:.2f} (goal <= 0.5 s)"
    )
    print(f"import of the model, its declarations and verify: {here['declarations']:.3f} s (python+yaml {interpreter:.3f} s)")
    if args.baseline:
        then = measure(python, work, answers, {"PYTHONPATH": str(baseline_tree(args.baseline))})
        again = measure(python, work, answers, {})  # interleaved, so a machine getting busier shows
        for key, what in (("start", "cold start"), ("answers", "answers run"), ("declarations", "model + verify import")):
            now = min(here[key], again[key])
            print(f"{what}: now {now:.3f} s, at {args.baseline} {then[key]:.3f} s, ratio {now / then[key]:.2f} (goal <= 1.0)")


if __name__ == "__main__":
    main()

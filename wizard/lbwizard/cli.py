"""lbwizard's command line: the interactive wizard, the answers-file run, and their dry runs.

Every path is load -> verify -> plan -> apply; a verify failure prints one `field: message` line per
problem and exits 2 with nothing written. The root every file goes under is chosen here, once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import yaml

from . import apply, files, live
from .apply import transaction
from .flow import AnswersError, Flow, summary_lines
from .guidance import next_steps
from .model import ConfigFormatError
from .paths import Paths

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_ABORTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lbwizard",
        description="Set up this load balancer: the quick start's questions, then the changes, in one transaction.",
    )
    parser.add_argument("--answers", metavar="FILE", type=Path, help="answer the questions from a YAML file, no screen")
    parser.add_argument("--dry-run", action="store_true", help="change nothing live; write every file under --root")
    parser.add_argument("--root", metavar="DIR", type=Path, help="write files under DIR instead of /")
    return parser


def _paths(args: argparse.Namespace) -> Paths:
    if args.dry_run and args.root is None:
        raise SystemExit("lbwizard: --dry-run needs --root DIR, the directory that receives the files")
    if args.root is None and os.geteuid() != 0:
        raise SystemExit("lbwizard: run as root to configure this unit, or try it with --dry-run --root DIR")
    return Paths(args.root or Path("/"))


def _flow(paths: Paths) -> Flow:
    """A flow with defaults from the saved config and the live system."""
    try:
        previous = files.load_config(paths)
    except ConfigFormatError as exc:
        print(f"lbwizard: the saved configuration is unreadable, starting afresh: {exc}", file=sys.stderr)
        previous = None
    return Flow(live=live.probe(paths.root), previous=previous, first_boot=previous is None)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_answers(answers_file: Path, paths: Paths) -> int:
    """The unattended wizard: same questions and checks, every problem at once, nothing written on error."""
    try:
        data = yaml.safe_load(answers_file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        print(f"answers: cannot read {answers_file}: {exc}")
        return EXIT_BAD_INPUT
    flow = _flow(paths)
    try:
        config = flow.run_answers(data)
    except AnswersError as exc:
        for problem in exc.problems:
            print(problem)
        return EXIT_BAD_INPUT
    try:
        transaction.run(apply.plan(config, paths, flow.admin_password_hash()))
    except KeyboardInterrupt:
        print("lbwizard: interrupted; every change was undone", file=sys.stderr)
        return EXIT_ABORTED
    except Exception as exc:
        print(f"lbwizard: apply failed and was undone: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(summary_lines(config)))
    print(f"\nApplied. Configuration saved to {paths.appliance_yaml}.\nNext steps:")
    for step in next_steps(config):
        print(f"  - {step}")
    return EXIT_OK


def run_interactive(paths: Paths) -> int:
    """The Textual wizard on this terminal."""
    from .tui.app import WizardApp
    from .tui.console import prepare_terminal

    prepare_terminal()
    flow = _flow(paths)
    result = WizardApp(flow, paths).run()
    if result == "applied":
        print(f"Applied. Configuration saved to {paths.appliance_yaml}.")
        return EXIT_OK
    if result == "failed":
        return EXIT_FAILED
    print("lbwizard: aborted; nothing was changed.")
    return EXIT_ABORTED


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    paths = _paths(args)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    if args.answers is not None:
        return run_answers(args.answers, paths)
    return run_interactive(paths)


if __name__ == "__main__":
    sys.exit(main())

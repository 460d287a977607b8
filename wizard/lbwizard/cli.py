"""lbwizard's command line: the interactive wizard, the answers-file run, and their dry runs.

Every path is load -> verify -> plan -> apply; a verify failure prints one `field: message` line per
problem and exits 2 with nothing written. The root every file goes under is chosen here, once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from .apply import confirm, rollback, state
from .apply.handover import started_ahead as handover_ahead
from .apply.plan import plan
from .config import document, files
from .config.backup import BackupError
from .config.lock import Busy, one_change
from .config.model import ApplianceConfig, ConfigFormatError
from .config.paths import Paths
from .config.provenance import ssh_client
from .config.verify import verify
from .config.verify_access import guards
from .engines.access import LiveEngines
from .manage import boot as booting
from .manage import restore as restoring
from .manage.changes import EXIT_ABORTED, EXIT_BAD_INPUT, EXIT_BUSY, EXIT_FAILED, EXIT_OK, run_steps
from .manage.changes import apply_config as _apply
from .manage.process_end import end_process
from .setup.flow import AnswersError, Flow, summary_lines
from .setup.guidance import next_steps
from .setup.live import Probed

BOOT_LOCK_WAIT = 600.0  # seconds the boot apply waits for a change already running (a hand-over at most)


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="change nothing live; write every file under --root")
    parser.add_argument("--root", metavar="DIR", type=Path, help="write files under DIR instead of /")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lbwizard",
        description="Set up this load balancer: the quick start's questions, then the changes, in one transaction.",
    )
    parser.add_argument("--answers", metavar="FILE", type=Path, help="answer the questions from a YAML file, no screen")
    parser.add_argument("--no-handover", action="store_true", help="do not run the keepalived/HAProxy hand-over")
    parser.add_argument("--setup", action="store_true", help="the setup wizard even on a unit already set up")
    _add_target_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    apply_parser = commands.add_parser("apply", help="apply a saved config live (network, kernel, firewall)")
    apply_parser.add_argument("--config", metavar="FILE", type=Path, help="the config to apply (default: the saved one)")
    apply_parser.add_argument("--no-handover", action="store_true", help="do not run the keepalived/HAProxy hand-over")
    apply_parser.add_argument(
        "--boot",
        action="store_true",
        help="the boot-time apply: converges on the NICs and config this machine has, holds the engines when not all applies",
    )
    apply_parser.add_argument(
        "--confirm-timeout", metavar="SECONDS", type=float, help="roll back unless `lbwizard confirm` comes in time"
    )
    apply_parser.add_argument(
        "--force", action="store_true", help="even if the config cuts off this SSH session or leaves root without an SSH key"
    )
    _add_target_options(apply_parser)
    rollback_parser = commands.add_parser("rollback", help="put back the state before the last apply")
    rollback_parser.add_argument("--root", metavar="DIR", type=Path, help="files under DIR instead of /")
    confirm_parser = commands.add_parser("confirm", help="keep the last apply (stop the confirm timer)")
    confirm_parser.add_argument("--root", metavar="DIR", type=Path, help="files under DIR instead of /")
    schema_parser = commands.add_parser("schema", help="print the JSON Schema of appliance.yaml or of an answers file")
    schema_parser.add_argument("document", nargs="?", choices=("config", "answers"), default="config")
    serve_parser = commands.add_parser("serve", help="the HTTPS API (lbctl api token add NAME makes its tokens)")
    serve_parser.add_argument("--listen", metavar="ADDR:PORT", help="default: api.port of this unit's own addresses")
    serve_parser.add_argument(
        "--ready", action="store_true", help="exit 0 if the API should serve now, 1 while it is off, 3 until root can log in"
    )
    _add_target_options(serve_parser)
    timer_parser = commands.add_parser("confirm-timer", help=argparse.SUPPRESS)
    timer_parser.add_argument("--seconds", type=float, required=True)
    timer_parser.add_argument("--root", metavar="DIR", type=Path)
    return parser


def _paths(args: argparse.Namespace) -> Paths:
    if getattr(args, "dry_run", False) and args.root is None:
        raise SystemExit("lbwizard: --dry-run needs --root DIR, the directory that receives the files")
    if args.root is None and os.geteuid() != 0:
        raise SystemExit("lbwizard: run as root to configure this unit, or try it with --dry-run --root DIR")
    # absolute: the hand-over runs Ansible in the roles' directory, where a relative root would put the
    # daemon files beside the roles
    return Paths((args.root or Path("/")).absolute())


def _flow(paths: Paths) -> Flow:
    """A flow with defaults from the saved config and the live system."""
    try:
        previous = files.load_config(paths)
    except ConfigFormatError as exc:
        print(f"lbwizard: the saved configuration is unreadable, starting afresh: {exc}", file=sys.stderr)
        previous = None
    return Flow(live=Probed(paths.root), previous=previous, first_boot=previous is None)


def _saved(paths: Paths) -> ApplianceConfig | None:
    try:
        return files.load_config(paths)
    except ConfigFormatError:
        return None


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_rollback(paths: Paths) -> int:
    """Put back the state recorded before the last live apply, then check it really is back."""
    with one_change(paths):
        return _rollback(paths)


def _rollback(paths: Paths) -> int:
    record = rollback.load(paths)
    if record is None:
        print(f"rollback: nothing to roll back ({paths.rollback_record} does not exist)")
        return EXIT_BAD_INPUT
    confirm.cancel(paths)
    engines = LiveEngines(paths.haproxy_socket)  # a rollback is always live
    result = run_steps(rollback.plan(record, paths, engines))
    if result != EXIT_OK:
        return result
    now = lambda: state.capture_like(record["picture"], paths, engines)
    left = state.settled_comparison(now)(record["picture"], now())
    paths.rollback_record.unlink()
    if left:
        print("lbwizard: rolled back, but these differ from before the apply:\n  " + "\n  ".join(left), file=sys.stderr)
        return EXIT_FAILED
    print("Rolled back to the state before the last apply.")
    return EXIT_OK


def run_confirm(paths: Paths) -> int:
    """Keep the last apply, or say truthfully why there is nothing to keep."""
    with one_change(paths):  # the timer takes it too: one of them wins, and the other sees it
        found = confirm.confirm(paths)
    if found.get("state") == "pending":
        print("Confirmed: the last apply stays.")
        return EXIT_OK
    if found.get("state") in ("rolled back", "rollback failed"):
        at = time.strftime("%H:%M:%S", time.localtime(found["at"]))
        if found["state"] == "rolled back":
            print(f"confirm: too late: the timer ran out and the change was rolled back at {at}; apply it again to keep it")
        else:
            print(f"confirm: too late: the timer ran out at {at}, and its rollback FAILED (see `lbctl diagnose`)")
        return EXIT_FAILED
    print("confirm: no change is waiting for confirmation")
    return EXIT_BAD_INPUT


def run_confirm_timer(paths: Paths, seconds: float) -> int:
    """The commit-confirm timer's end: roll back unless a confirm came first."""
    time.sleep(seconds)
    with one_change(paths, "lbwizard confirm-timer (the commit-confirm timeout)", wait=BOOT_LOCK_WAIT):
        if not confirm.expired(paths):
            return EXIT_OK
        result = _rollback(paths)
        confirm.rolled_back(paths, result == EXIT_OK)
        return result


def run_apply(
    config_file: Path | None,
    paths: Paths,
    live: bool,
    handover: bool,
    confirm_timeout: float | None,
    boot: bool = False,
    force: bool = False,
) -> int:
    # at boot nothing may be lost to a refusal: wait as long as a change can take
    recovering = boot and live and config_file is None  # booting.boot() takes a cut-off restore back first
    with one_change(paths, wait=BOOT_LOCK_WAIT if boot else None, recovering=recovering), handover_ahead(handover and not boot):
        if recovering:
            return booting.boot(paths)
        return _apply_saved(config_file, paths, live, handover, confirm_timeout, boot, force)


def _apply_saved(
    config_file: Path | None, paths: Paths, live: bool, handover: bool, confirm_timeout: float | None, boot: bool, force: bool
) -> int:
    """lbwizard apply: a saved config made real (after lbctl changes, or a config file of the admin's).

    The live boot apply is manage/boot.py's; a dry run with --boot renders no hand-over and keeps the
    rollback record of the last change, as the boot does.
    """
    try:
        previous = files.load_config(paths)
        config = files.load_config_file(config_file, "config") if config_file else previous
    except (OSError, ConfigFormatError) as exc:
        for field, message in getattr(exc, "problems", [("config", str(exc))]):
            print(f"{field}: {message}")
        return EXIT_BAD_INPUT
    if config is None:
        print(f"config: nothing to apply; {paths.appliance_yaml} does not exist (run lbwizard first)")
        return EXIT_BAD_INPUT
    problems = [str(p) for p in verify(config)]
    if not problems and not boot:  # the guards every change path applies (the boot re-applies what is saved)
        problems = [f"{field}: {message}" for field, message in guards(previous, config, ssh_client(), force)]
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_BAD_INPUT
    result = _apply(config, paths, live, handover and not boot, previous=previous, record=not boot)
    if result == EXIT_OK and live and not boot:
        confirm.forget(paths)  # a new change: an earlier confirmation's outcome is history
    if result == EXIT_OK and confirm_timeout and live:
        try:
            how = confirm.start(paths, confirm_timeout)
        except confirm.ArmingFailed as exc:  # unguarded, the change must not stay
            print(f"lbwizard: {exc}; undoing the change it was to guard", file=sys.stderr)
            _rollback(paths)
            return EXIT_FAILED
        print(f"Applied; rolls back in {confirm_timeout:g} s unless `lbwizard confirm` comes first ({how}).")
    return result


def run_answers(answers_file: Path, paths: Paths, live: bool, handover: bool) -> int:
    """The unattended wizard: same questions and checks, every problem at once, nothing written on error."""
    try:
        data = document.load_file(answers_file, document.ANSWERS_LIMIT, "answers")
    except document.DocumentError as exc:
        print(exc)
        return EXIT_BAD_INPUT
    if isinstance(data, dict) and "restore" in data:
        return run_restore_answers(data, answers_file, paths, live, handover)
    with one_change(paths):  # the saved config it builds on is read under the lock
        return _apply_answers(data, paths, live, handover)


def _apply_answers(data: object, paths: Paths, live: bool, handover: bool) -> int:
    flow = _flow(paths)
    try:
        config = flow.run_answers(data)
    except AnswersError as exc:
        for problem in exc.problems:
            print(problem)
        return EXIT_BAD_INPUT
    identity = flow.identity_to_write()
    result = _apply(
        config, paths, live, handover, flow.admin_password_hash(), flow.previous, pair_identity=identity, to_peer=True
    )
    if result != EXIT_OK:
        return result
    print("\n".join(summary_lines(config)))
    print(f"\nApplied. Configuration saved to {paths.appliance_yaml}.\nNext steps:")
    for step in next_steps(config):
        print(f"  - {step}")
    return EXIT_OK


def run_restore_answers(data: dict, answers_file: Path, paths: Paths, live: bool, handover: bool) -> int:
    """answers.yaml `restore: FILE`: that backup (beside the answers file, or an absolute path) restored
    instead of the questions, SSH host keys included when it has them. Alone: any other answer is an error."""
    problems = [f"{key}: an answers file with restore takes no other answer; remove it" for key in data if key != "restore"]
    if not isinstance(data["restore"], str) or not data["restore"].strip():
        problems.append("restore: expected the name of a backup file (made by lbctl backup) beside the answers file")
    if problems:
        print("\n".join(problems))
        return EXIT_BAD_INPUT
    try:
        found = restoring.read_backup(answers_file.parent / data["restore"].strip())
    except BackupError as exc:
        print(f"restore: {exc}")
        return EXIT_BAD_INPUT
    result = restoring.restore(found, paths, live=live, handover=handover, client=ssh_client())
    if result == EXIT_OK:
        print("\n".join(summary_lines(found.config)))
        print(f"\nRestored the backup of {found.describe()}. Configuration saved to {paths.appliance_yaml}.")
    return result


def run_interactive(paths: Paths, live: bool, handover: bool, setup: bool = False) -> int:
    """The Textual wizard on this terminal; on a unit already set up, the management screens first."""
    from .tui.app import WizardApp
    from .tui.console import prepare_terminal

    prepare_terminal()
    flow = _flow(paths)
    if flow.previous is not None and not setup:
        from .manage.operations import Operations
        from .tui.manage import ManageApp

        if ManageApp(Operations.start(paths, live, handover)).run() != "wizard":
            return EXIT_OK
        flow = _flow(paths)  # the management screens may have changed the saved config

    def planner(config, hashed):
        identity = flow.identity_to_write()
        return plan(
            config, paths, hashed, live=live, previous=flow.previous, handover=handover, pair_identity=identity, to_peer=True
        )

    @contextmanager
    def guard() -> Iterator[None]:
        """The apply holds the change lock, and builds on the config the wizard opened with, no other."""
        with one_change(paths, "lbwizard (setup wizard on a console)"):
            if _saved(paths) != flow.previous:
                raise Busy("the configuration was changed (lbctl, another console) while the wizard was open; nothing was "
                           "changed here: run the wizard again to build on it")  # fmt: skip
            yield

    engines = LiveEngines(paths.haproxy_socket)

    def picture(config: ApplianceConfig) -> dict:
        return state.capture(config, paths, engines)

    result = WizardApp(flow, paths, planner, picture if live else None, guard).run()
    if result == "applied":
        print(f"Applied. Configuration saved to {paths.appliance_yaml}.")
        return EXIT_OK
    if result == "failed":
        return EXIT_FAILED
    print("lbwizard: aborted; nothing was changed.")
    return EXIT_ABORTED


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":
        return print_schema(args.document)
    paths = _paths(args)
    if args.command == "serve":  # uvicorn handles its own signals: SIGTERM ends it gracefully
        from .api.serve import serve

        return serve(paths, getattr(args, "dry_run", False), args.listen, ready_only=args.ready)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # Ctrl-C undoes, even when this was started with SIGINT ignored (a background job of a shell, some
    # service managers): Python then leaves SIGINT ignored, and the change would go on (CI saw it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return _run(args, paths)
    except Busy as exc:
        print(f"lbwizard: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except KeyboardInterrupt:  # outside a transaction (one undoes and says so itself): waiting on a FIFO, say
        print("lbwizard: interrupted", file=sys.stderr)
        return EXIT_ABORTED


def _run(args: argparse.Namespace, paths: Paths) -> int:
    live = not getattr(args, "dry_run", False)
    handover = not getattr(args, "no_handover", False)
    if args.command == "apply":
        return run_apply(args.config, paths, live, handover, args.confirm_timeout, args.boot, args.force)
    if args.command == "rollback":
        return run_rollback(paths)
    if args.command == "confirm":
        return run_confirm(paths)
    if args.command == "confirm-timer":
        return run_confirm_timer(paths, args.seconds)
    if args.answers is not None:
        return run_answers(args.answers, paths, live, handover)
    return run_interactive(paths, live, handover, args.setup)


def print_schema(document_name: str) -> int:
    """`lbwizard schema [config|answers]`: made from the declarations the loaders read with (no root needed)."""
    import json

    if document_name == "answers":
        from .setup.answers_schema import schema

        print(json.dumps(schema(), indent=1))
    else:
        from .config.declare import json_schema

        print(json.dumps(json_schema(ApplianceConfig, "lbwizard appliance.yaml", ApplianceConfig.__doc__ or ""), indent=1))
    return EXIT_OK


def run() -> NoReturn:
    """The lbwizard command: main's exit code, with no interpreter teardown after it (manage/process_end.py)."""
    end_process(main())


if __name__ == "__main__":
    run()

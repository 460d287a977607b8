"""lbctl: day-2 operations from a shell or a script, over the same model / verify / apply path as lbwizard.

Every change makes a new version of appliance.yaml: edited (edit.py), verified (every problem at
once, exit 2, nothing written), applied as one transaction and handed over to the engines. Drain,
offline and online also reach the running engines directly, without a reload. --json prints what a
script needs on stdout; the step-by-step progress then goes to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import yaml

from ..config import document, edit, history, json_options, lock, model, provenance, sshkeys, verify_access
from ..config.certificate_sni import refuse_new
from ..config.kinds import Integer, KindError, shown
from ..config.model import ApplianceConfig, ConfigFormatError, RealServer, VirtualService
from ..config.options import SERVER_NAME, SERVER_OPTIONS, SERVICE_OPTIONS, Option, read_options
from ..config.paths import Paths
from ..engines import diagnose, persist_refresh, response_weights
from ..engines.errors import EngineError
from ..render import realserver
from . import api_commands, backup_commands, cert_commands, host_commands, pair_commands
from .changes import EXIT_ABORTED, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from .operations import Operations
from .process_end import end_process


def _add_options(parser: argparse.ArgumentParser, table: list[Option]) -> None:
    """The settings' own options (config/options.py); their text is read by each setting's kind after
    parsing, so a wrong value is a `--flag: message` problem (exit 2, --json too), not argparse's usage."""
    for option in table:
        parser.add_argument(
            option.flag,
            dest=f"opt:{option.path}",
            metavar=option.kind.metavar or None,
            default=argparse.SUPPRESS,
            help=option.help + (" (or none)" if option.clear and "(or none)" not in option.help else ""),
        )
    # the HTTPS API's request body, read by the same declarations (config/json_options.py); not for people
    parser.add_argument("--options-json", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _options(args: argparse.Namespace, table: list[Option], cls: type) -> dict[str, object]:
    """The model settings the admin gave, by model path, each read by its kind (EditError naming the flag);
    with --options-json, those of a JSON object too (the API's body; its problems name the model path)."""
    given = {key[4:]: value for key, value in vars(args).items() if key.startswith("opt:")}
    options, problems = read_options(table, given)
    if hasattr(args, "options_json"):
        typed, json_problems = json_options.read(cls, table, _json_document(args.options_json))
        options, problems = typed | options, json_problems + problems
    if problems:
        raise OptionsError(problems)
    return options | {key: value for key, value in given.items() if key not in {o.path for o in table}}


def _json_document(name: str) -> object:
    """--options-json FILE or - (standard input), bounded; text that is not JSON is a problem of that option."""
    try:
        if name == "-":
            text = sys.stdin.read(JSON_LIMIT + 1)
        else:  # read to the bound, not whole and then cut (/dev/zero, a FIFO that never ends)
            text = document.decode(document.read_bounded(Path(name), JSON_LIMIT, "--options-json"), "--options-json")
        if len(text) > JSON_LIMIT:
            raise ValueError(f"more than {JSON_LIMIT} characters")
        return json.loads(text)
    except document.DocumentError as exc:
        raise OptionsError([("--options-json", exc.message)]) from None
    except (OSError, ValueError) as exc:
        raise OptionsError([("--options-json", f"not a JSON object of settings: {exc}")]) from None


JSON_LIMIT = 256 * 1024


class OptionsError(ValueError):
    """lbctl arguments not of their settings' kinds: (option, message) pairs, every one at once."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))
        self.problems = problems


VERSION_NUMBER = Integer(low=0, what="a version number", metavar="N")
RULE_NUMBER = Integer(low=1, what="a rule number (as lbctl access show numbers them)", metavar="N")


def _whole(kind: Integer) -> Callable[[str], int]:
    """An argument read by its kind, as every setting's option is: argparse's int() takes 03, +3, 3_0 and
    Unicode digits (rollback ٢ acted on version 2)."""

    def read(text: str) -> int:
        try:
            return kind.parse_text(text)
        except KindError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    read.__name__ = kind.what  # argparse names the type in its message when the reader has no words of its own
    return read


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dry-run", action="store_true", default=argparse.SUPPRESS, help="change nothing live; files under --root"
    )
    common.add_argument("--root", metavar="DIR", type=Path, default=argparse.SUPPRESS, help="files under DIR instead of /")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output on stdout")
    common.add_argument(
        "--message", "-m", metavar="TEXT", default=argparse.SUPPRESS, help="why: kept with the version in lbctl history"
    )
    common.add_argument(
        "--no-handover", action="store_true", default=argparse.SUPPRESS, help="do not hand over to keepalived/HAProxy"
    )
    common.add_argument(  # the API's If-Match: checked under the change lock (manage/operations.py)
        "--if-version",
        metavar="N",
        type=_whole(VERSION_NUMBER),
        default=argparse.SUPPRESS,
        help="change only if the configuration is version N",
    )
    parser = argparse.ArgumentParser(
        prog="lbctl", parents=[common], description="Day-2 operations of this load balancer (lbwizard sets it up)."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    vs = commands.add_parser("vs", help="virtual services").add_subparsers(dest="action", metavar="ACTION", required=True)
    vs.add_parser("list", parents=[common], help="every virtual service, a line each")
    vs.add_parser("show", parents=[common], help="one virtual service, whole").add_argument("vs")
    for action, text in (("add", "a new virtual service"), ("set", "change a virtual service")):
        sub = vs.add_parser(action, parents=[common], help=text)
        sub.add_argument("vs", help="its name")
        _add_options(sub, SERVICE_OPTIONS)
    vs.add_parser("remove", parents=[common], help="remove a virtual service and its real servers").add_argument("vs")

    rs = commands.add_parser("rs", help="real servers").add_subparsers(dest="action", metavar="ACTION", required=True)
    add = rs.add_parser("add", parents=[common], help="a new real server of VS")
    add.add_argument("vs")
    add.add_argument("endpoint", metavar="ADDRESS[:PORT]", help="the port defaults to the VIP's")
    _add_options(add, [SERVER_NAME, *SERVER_OPTIONS])
    change = rs.add_parser("set", parents=[common], help="change a real server")
    change.add_argument("vs")
    change.add_argument("rs", help="name, address or address:port")
    change.add_argument("--address", dest="opt:endpoint", metavar="ADDRESS[:PORT]", default=argparse.SUPPRESS)
    _add_options(change, [SERVER_NAME, *SERVER_OPTIONS])
    for action, text in (
        ("remove", "remove a real server"),
        ("drain", "no new connections; current ones finish (weight 0)"),
        ("offline", "out of service now: no new connections, current ones cut"),
        ("online", "back in service"),
    ):
        sub = rs.add_parser(action, parents=[common], help=text)
        sub.add_argument("vs")
        sub.add_argument("rs", help="name, address or address:port")

    access = commands.add_parser("access", help="who may reach this unit itself (the default-deny firewall)")
    access_actions = access.add_subparsers(dest="action", metavar="ACTION", required=True)
    access_actions.add_parser("show", parents=[common], help="the management networks and the admin's input rules")
    networks = access_actions.add_parser("networks", parents=[common], help="where SSH and management may come from")
    networks.add_argument("networks", nargs="+", metavar="NETWORK", help='e.g. 10.9.0.0/24 2001:db8::/32, or "default"')
    networks.add_argument("--force", action="store_true", help="even if it cuts off this SSH session")
    allow = access_actions.add_parser("allow", parents=[common], help="open a port of this unit (an input rule)")
    allow.add_argument("port", help='a port or a list, e.g. 161 or "8000-8080, 9002"')
    allow.add_argument("--protocol", default="tcp", choices=("tcp", "udp"))
    allow.add_argument("--source", default="any", help="a network, or any (default)")
    allow.add_argument("--comment", default="", help="why, shown by iptables -L")
    remove = access_actions.add_parser("remove", parents=[common], help="remove input rule N (as access show numbers them)")
    remove.add_argument("number", type=_whole(RULE_NUMBER))
    key = access_actions.add_parser("key", help="root's SSH keys").add_subparsers(
        dest="key_action", metavar="ACTION", required=True
    )
    key.add_parser("list", parents=[common], help="the keys that may log in as root, with their fingerprints")
    key_add = key.add_parser("add", parents=[common], help="a key that may log in as root")
    key_add.add_argument("key", help='the line of a .pub file, or "-" to read it from standard input')
    key_remove = key.add_parser("remove", parents=[common], help="a key, by its number, fingerprint or comment")
    key_remove.add_argument("key")
    key_remove.add_argument("--force", action="store_true", help="even if it is the last key (SSH is then closed to root)")

    commands.add_parser("status", parents=[common], help="requested and actual state, weights, connections")
    commands.add_parser("motd", parents=[common], help="the login banner: version, addresses, services, problems")
    commands.add_parser("diagnose", parents=[common], help="the reference's diagnosis steps, with fixes")
    script = commands.add_parser("realserver-script", parents=[common], help="print a real server's setup script")
    script.add_argument("rs", help="the real server's name (or address)")
    script.add_argument(
        "--os", choices=("linux", "windows", "windows-2003"), default="linux", help="windows: Server 2012 and later"
    )
    script.add_argument("--undo", action="store_true", help="the script that takes the setup back")
    commands.add_parser(
        "refresh-persist", parents=[common], help="renew the layer-7 persistence of clients with a live connection (hourly timer)"
    )
    commands.add_parser(
        "response-weights", parents=[common], help="layer 7: weights from the checks' response times (15 s timer)"
    )
    pair_commands.add_parser(commands, common)
    backup_commands.add_parser(commands, common)
    host_commands.add_parser(commands, common)
    cert_commands.add_parser(commands, common)
    api_commands.add_parser(commands, common)
    commands.add_parser("history", parents=[common], help="the applied versions of the configuration")
    back = commands.add_parser("rollback", parents=[common], help="apply an earlier version again (default: the one before)")
    back.add_argument("version", nargs="?", type=_whole(VERSION_NUMBER))
    return parser


class Ctl:
    """One lbctl run: where the files are, whether it is live, how to print."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.json = getattr(args, "json", False)
        self.dry_run = getattr(args, "dry_run", False)
        self.handover = not getattr(args, "no_handover", False)
        root = getattr(args, "root", None)
        if self.dry_run and root is None:
            raise SystemExit("lbctl: --dry-run needs --root DIR, the directory that receives the files")
        if root is None and os.geteuid() != 0:
            raise SystemExit("lbctl: run as root, or try it with --dry-run --root DIR")
        self.paths = Paths((root or Path("/")).absolute())  # absolute: Ansible runs in the roles' directory
        self.operations = Operations.start(self.paths, live=not self.dry_run, handover=self.handover)
        self.operations.expected_version = getattr(args, "if_version", None)

    def out(self, text: str, data: object) -> None:
        print(json.dumps(data, indent=1) if self.json else text)

    def problems(self, problems: list[tuple[str, str]]) -> int:
        """Bad input: one `field: message` line each (or JSON), exit 2, nothing written."""
        if self.json:
            print(json.dumps({"ok": False, "problems": [{"field": f, "message": m} for f, m in problems]}, indent=1))
        else:
            for field, message in problems:
                print(f"{field}: {message}")
        return EXIT_BAD_INPUT

    def config(self) -> ApplianceConfig:
        return self.operations.config()

    def run(self, change: Callable[..., tuple[int, list[tuple[str, str]]]], what: str | Callable[[], str]) -> int:
        """Run one change (Operations.change or .rollback, given echo and failure) and report it. what may be
        worked out once the change is made (the name the new server got, under the change lock)."""
        steps: list[str] = []
        errors: list[str] = []

        def echo(line: str) -> None:
            steps.append(line)
            print(f"- {line}", file=sys.stderr if self.json else sys.stdout, flush=True)

        def failure(line: str) -> None:
            errors.append(line)
            print(f"lbctl: {line}", file=sys.stderr, flush=True)

        result, problems = change(echo, failure)
        if problems:
            return self.problems(problems)
        if callable(what):
            what = what() if result == EXIT_OK else "not changed"
        if result == EXIT_OK:
            version = self.operations.saved_version
            self.out(f"{what}; saved as version {version}.", {"ok": True, "change": what, "version": version, "steps": steps})
        elif self.json:
            print(json.dumps({"ok": False, "change": what, "steps": steps, "error": " ".join(errors)}))
        return result

    def commit(
        self,
        make: Callable[[ApplianceConfig], ApplianceConfig],
        what: str | Callable[[ApplianceConfig], str],
        force: bool = False,
    ) -> int:
        """Edit, verify, then apply as one transaction and hand over; nothing is written if verify objects.
        what: the change's line, or made from the configuration the change saved."""
        made: list[ApplianceConfig] = []

        def making(current: ApplianceConfig) -> ApplianceConfig:
            made.append(make(current))
            return made[-1]

        told = (lambda: what(made[-1])) if callable(what) else what
        return self.run(lambda echo, failure: self.operations.change(making, echo, failure, force=force), told)


def _service_line(service: model.VirtualService) -> str:
    persistence = f"{service.persistence.mode} {service.persistence.timeout}s" if service.persistence else "-"
    states = [s.state for s in service.real_servers]
    servers = f"{len(states)} real server(s)" + "".join(f", {states.count(x)} {x}" for x in ("drain", "offline") if x in states)
    return (
        f"{service.name:<12} {service.address}:{service.port:<6} layer {service.layer} {service.forwarding.upper():<4} "
        f"{service.scheduler:<10} persistence {persistence:<18} {servers}"
    )


def cmd_vs(ctl: Ctl, args: argparse.Namespace) -> int:
    if args.action == "list":
        config = ctl.config()
        lines = [_service_line(s) for s in config.virtual_services] or ["no virtual service yet: lbctl vs add NAME ..."]
        return ctl.out("\n".join(lines), [dataclasses.asdict(s) for s in config.virtual_services]) or EXIT_OK
    if args.action == "show":
        from ..engines.status import not_in_ipvs_because

        found = edit.find_service(ctl.config(), args.vs)
        service = dataclasses.asdict(found)
        left_out = not_in_ipvs_because(found)  # a YAML comment: the text stays the service's YAML
        note = f"\n# not in IPVS: {left_out}" if left_out else ""
        return ctl.out(yaml.safe_dump(service, sort_keys=False).rstrip() + note, service) or EXIT_OK
    options = _options(args, SERVICE_OPTIONS, VirtualService)
    if args.action == "add":
        return ctl.commit(
            lambda current: refuse_new(current, edit.add_service(current, args.vs, options), ctl.paths),
            f"added virtual service {args.vs}",
        )
    if args.action == "set":
        return ctl.commit(
            lambda current: refuse_new(current, edit.set_service(current, args.vs, options), ctl.paths),
            f"changed virtual service {args.vs}",
        )
    return ctl.commit(lambda current: edit.remove_service(current, args.vs), f"removed virtual service {args.vs}")


def cmd_rs(ctl: Ctl, args: argparse.Namespace) -> int:
    options = _options(args, [SERVER_NAME, *SERVER_OPTIONS], RealServer)
    vs, rs = args.vs, getattr(args, "rs", None)
    if args.action == "add":

        def added(saved: ApplianceConfig) -> str:
            """The name and port the new server got (RIP<n>, the VIP's) in the configuration made under the lock."""
            server = edit.find_service(saved, vs).real_servers[-1]
            return f"added real server {server.name} ({server.address}:{server.port}) to {vs}"

        return ctl.commit(lambda current: edit.add_server(current, vs, args.endpoint, options), added)
    if args.action == "set":
        return ctl.commit(lambda current: edit.set_server(current, vs, rs, options), f"changed real server {rs} of {vs}")
    if args.action == "remove":
        return ctl.commit(lambda current: edit.remove_server(current, vs, rs), f"removed real server {rs} from {vs}")
    what = f"real server {rs} of {vs} is now {args.action}"
    return ctl.commit(lambda current: edit.set_server_state(current, vs, rs, args.action), what)


def cmd_access(ctl: Ctl, args: argparse.Namespace) -> int:
    if args.action == "show":
        config = ctl.config()
        own = "" if config.access.management_networks else " (this unit's own subnets)"
        lines = [f"management networks (SSH): {', '.join(model.management_networks(config))}{own}"]
        rules = config.access.input_rules
        lines += [
            f"{i:>3}  {r.protocol}/{r.port} from {r.source}" + (f"  # {r.comment}" if r.comment else "")
            for i, r in enumerate(rules, 1)
        ] or ["no input rules of the admin's: everything else but the services' ports is dropped"]
        data = {"management_networks": model.management_networks(config), "input_rules": [dataclasses.asdict(r) for r in rules]}
        return ctl.out("\n".join(lines), data) or EXIT_OK
    if args.action == "networks":
        wanted = verify_access.parse_networks(args.networks)
        what = f"management networks are now {' '.join(args.networks)}"
        return ctl.commit(lambda current: edit.set_management_networks(current, wanted), what, force=args.force)
    if args.action == "key":
        return _cmd_key(ctl, args)
    if args.action == "allow":
        rule = model.InputRule(args.port, args.protocol, args.source, args.comment)
        what = f"opened {args.protocol}/{args.port} from {args.source}"
        return ctl.commit(lambda current: edit.add_input_rule(current, rule), what)
    return ctl.commit(lambda current: edit.remove_input_rule(current, args.number), f"removed input rule {args.number}")


def _cmd_key(ctl: Ctl, args: argparse.Namespace) -> int:
    if args.key_action == "list":
        keys = ctl.config().access.ssh_authorized_keys
        rows = [
            {"number": i, "fingerprint": sshkeys.fingerprint(k), "type": k.split()[0], "comment": " ".join(k.split()[2:])}
            for i, k in enumerate(keys, 1)
        ]
        lines = [f"{r['number']:>3}  {r['fingerprint']}  {r['type']}  {r['comment']}" for r in rows]
        return ctl.out("\n".join(lines) or "no SSH key: root logs in at the console only (lbctl access key add)", rows) or EXIT_OK
    if args.key_action == "add":
        try:
            # standard input to a bound: a key's line is at most MAX_KEY_LENGTH characters (/dev/zero ran out of memory)
            text = _stdin_text(sshkeys.MAX_KEY_LENGTH * 4, "key") if args.key == "-" else args.key
            if len(text.strip()) > sshkeys.MAX_KEY_LENGTH:
                raise sshkeys.SSHKeyError(f"longer than {sshkeys.MAX_KEY_LENGTH} characters; one key is one line of a .pub file")
            key = sshkeys.parse_key(text.strip())
        except document.DocumentError as exc:
            return ctl.problems([(exc.field, exc.message)])
        except sshkeys.SSHKeyError as exc:
            return ctl.problems([("key", str(exc))])
        return ctl.commit(lambda current: edit.add_ssh_key(current, key), f"added SSH key {sshkeys.fingerprint(key)}")
    return ctl.commit(lambda current: edit.remove_ssh_key(current, args.key), f"removed SSH key {args.key}", force=args.force)


def _stdin_text(limit: int, where: str) -> str:
    """Standard input as UTF-8 text, read to limit bytes; more, or not UTF-8, is a DocumentError naming where."""
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise document.DocumentError(where, f"standard input holds more than {limit // 1024} KiB; this is not what it takes")
    return document.decode(data, where)


def cmd_status(ctl: Ctl, args: argparse.Namespace) -> int:
    snapshot = ctl.operations.status_snapshot()
    ctl.out(ctl.operations.status_text(snapshot), ctl.operations.status_json(snapshot))
    return EXIT_OK


def cmd_motd(ctl: Ctl, args: argparse.Namespace) -> int:
    """What lbwizard-motd.timer keeps in /run/lbwizard/motd for pam_motd to show at login."""
    sys.stdout.write(ctl.operations.motd_text())
    return EXIT_OK


def cmd_diagnose(ctl: Ctl, args: argparse.Namespace) -> int:
    """Exit 1 when a problem was found, so a script can act on it."""
    findings = ctl.operations.diagnose_findings()
    ctl.out(diagnose.as_text(findings), diagnose.as_json(findings))
    return EXIT_FAILED if any(f.severity == "problem" for f in findings) else EXIT_OK


def cmd_refresh_persist(ctl: Ctl, args: argparse.Namespace) -> int:
    """002's Refresh Persist at layer 7 (engines/persist_refresh.py); nothing to do where no service asks for it."""
    config = ctl.config()
    try:
        renewed = persist_refresh.refresh(config, ctl.paths.haproxy_socket)
    except (OSError, EngineError) as exc:
        print(f"lbctl: refresh-persist: HAProxy's runtime API: {exc}", file=sys.stderr)
        return EXIT_FAILED
    lines = [f"{service}: renewed the entry of {client}" for service, client in renewed]
    ctl.out("\n".join(lines) or "No live client to renew.", [{"service": s, "client": c} for s, c in renewed])
    return EXIT_OK


def cmd_response_weights(ctl: Ctl, args: argparse.Namespace) -> int:
    """002's Weighted Response Time at layer 7 (engines/response_weights.py). It holds the change lock, so a
    change's picture never sees weights move under it; while a change runs, this round is skipped."""
    config = ctl.config()
    try:
        with lock.one_change(ctl.paths, wait=1):
            weights = response_weights.layer7(config, ctl.paths.haproxy_socket)
    except lock.Busy as exc:
        print(f"lbctl: response-weights: skipped this round: {exc}", file=sys.stderr)
        return EXIT_OK
    except (OSError, EngineError) as exc:
        print(f"lbctl: response-weights: HAProxy's runtime API: {exc}", file=sys.stderr)
        return EXIT_FAILED
    lines = [f"{service}/{server}: weight {weight}" for service, server, weight in weights]
    ctl.out(
        "\n".join(lines) or "No service weighs by response time.",
        [{"service": s, "server": r, "weight": w} for s, r, w in weights],
    )
    return EXIT_OK


def cmd_realserver_script(ctl: Ctl, args: argparse.Namespace) -> int:
    config = ctl.config()
    hosts = realserver.find(config, args.rs)
    if len(hosts) != 1:
        listed = hosts or realserver.hosts(config)
        known = ", ".join(f"{'/'.join(h.names)} ({h.address}, file {h.file})" for h in listed) or "none"
        if hosts:
            return ctl.problems([("rs", f"{shown(args.rs)} names more than one real server: {known}; give its address")])
        return ctl.problems([("rs", f"no layer-4 real server {shown(args.rs)} (there are: {known}); layer 7 needs no setup")])
    host = hosts[0]
    if args.os == "linux":
        text = realserver.linux_script(host)
        if args.undo:
            text = text.replace("set -eu\n", 'set -eu\nset -- --undo "$@"  # lbctl realserver-script --undo\n', 1)
    elif args.os == "windows-2003":
        text = realserver.windows_2003_script(host)
        if args.undo:
            text = text.replace('if "%1"=="undo" goto undo\r\n', "goto undo\r\nrem lbctl realserver-script --undo\r\n", 1)
    else:
        text = realserver.windows_script(host)
        if args.undo:
            text = text.replace('$ErrorActionPreference = "Stop"\n', '$ErrorActionPreference = "Stop"\n$Undo = $true\n', 1)
    if ctl.json:
        ctl.out(
            "", {"name": host.name, "address": host.address, "file": host.file, "os": args.os, "undo": args.undo, "script": text}
        )
    else:
        sys.stdout.write(text)  # byte for byte, so `lbctl realserver-script RIP1 | ssh rs1 sh` runs the same file
    return EXIT_OK


def cmd_history(ctl: Ctl, args: argparse.Namespace) -> int:
    rows = history.rows(ctl.paths)
    ctl.out("\n".join(history.row_text(r) for r in rows) or "no version saved yet", rows)
    return EXIT_OK


def cmd_rollback(ctl: Ctl, args: argparse.Namespace) -> int:
    """Apply an earlier version as the newest one: history only grows, so a rollback can be rolled back."""
    wanted, _ = history.rollback_target(ctl.paths, args.version)  # for the message; rollback() refuses a bad one
    return ctl.run(lambda echo, failure: ctl.operations.rollback(args.version, echo, failure), f"rolled back to version {wanted}")


COMMANDS = {
    "access": cmd_access,
    "vs": cmd_vs,
    "rs": cmd_rs,
    "status": cmd_status,
    "diagnose": cmd_diagnose,
    "motd": cmd_motd,
    "realserver-script": cmd_realserver_script,
    "history": cmd_history,
    "refresh-persist": cmd_refresh_persist,
    "response-weights": cmd_response_weights,
    "rollback": cmd_rollback,
    "pair": pair_commands.cmd_pair,
    "backup": backup_commands.cmd_backup,
    "restore": backup_commands.cmd_restore,
    "time": host_commands.cmd_time,
    "logging": host_commands.cmd_logging,
    "metrics": host_commands.cmd_metrics,
    "cert": cert_commands.cmd_cert,
    "api": api_commands.cmd_api,
}


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    """SIGTERM undoes a change in progress, as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ctl = Ctl(args)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # Ctrl-C undoes, even when this was started with SIGINT ignored (a background job of a shell, some
    # service managers): Python then leaves SIGINT ignored, and the change would go on (CI saw it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    message = getattr(args, "message", None)
    try:
        if message is not None:
            provenance.MESSAGE.parse(message)
    except KindError as exc:
        return ctl.problems([("--message", str(exc))])
    try:
        with provenance.saying(message=message):
            return COMMANDS[args.command](ctl, args)
    except edit.EditError as exc:
        return ctl.problems([(exc.field, exc.message)])
    except verify_access.NetworkError as exc:
        return ctl.problems([("networks", str(exc))])
    except OptionsError as exc:
        return ctl.problems(exc.problems)
    except ConfigFormatError as exc:
        return ctl.problems(exc.problems)
    except KeyboardInterrupt:  # outside a transaction (one undoes and says so itself): waiting on a FIFO, say
        print("lbctl: interrupted", file=sys.stderr)
        return EXIT_ABORTED


def run() -> NoReturn:
    """The lbctl command: main's exit code, with no interpreter teardown after it (process_end.py)."""
    end_process(main())


if __name__ == "__main__":
    run()

"""`lbctl api token add NAME [--read-only] | list | remove NAME`: who may use the HTTPS API (lbwizard serve);
`lbctl api show | on | off | port PORT`: whether and where lbwizard-api.service serves it (appliance.yaml `api`,
a change like any other: the firewall opens the port to the management networks, and the service follows).

The token is printed once, when it is made; only its SHA-256 is kept (config/api_tokens.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..config import api_tokens, verify_host
from ..config.declare import spec_of
from ..config.kinds import KindError
from ..config.model import Api
from .changes import EXIT_OK
from .host_commands import changed_copy


def add_parser(commands, common: argparse.ArgumentParser) -> None:
    api = commands.add_parser("api", help="the HTTPS API (lbwizard serve): its tokens, whether and where it serves")
    api_actions = api.add_subparsers(dest="action", metavar="ACTION", required=True)
    api_actions.add_parser("show", parents=[common], help="where the API and web console listen")
    for action, text in (("on", "serve the API on this unit's own addresses"), ("off", "serve no API (SSH stays)")):
        api_actions.add_parser(action, parents=[common], help=text)
    # the text as typed, read by the setting's own kind (argparse's int() takes 0443, +9443 and Unicode digits)
    api_actions.add_parser("port", parents=[common], help="its TCP port (9443 by default)").add_argument("port")
    token = api_actions.add_parser("token", help="API tokens")
    actions = token.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    add = actions.add_parser("add", parents=[common], help="make a token; it is printed once and stored only as a hash")
    add.add_argument("name", help="whose or what it is for, e.g. nms or deploy-script")
    add.add_argument("--read-only", action="store_true", help="it may read, never change")
    actions.add_parser("list", parents=[common], help="the tokens' names, rights and dates (never the tokens)")
    actions.add_parser("remove", parents=[common], help="revoke a token at once").add_argument("name")


def cmd_api(ctl, args: argparse.Namespace) -> int:
    if args.action != "token":
        return _settings(ctl, args)
    try:
        return _token(ctl, args)
    except api_tokens.TokenError as exc:
        return ctl.problems([(exc.field, exc.message)])


def _token(ctl, args: argparse.Namespace) -> int:
    if args.token_action == "add":
        token = api_tokens.add(ctl.paths, args.name, args.read_only)
        rights = "read-only" if args.read_only else "read and change"
        if not ctl.json:  # beside the token, so TOKEN=$(lbctl api token add NAME) takes the token alone
            print(f"API token {args.name} ({rights}), shown this once: send it as 'Authorization: Bearer TOKEN'", file=sys.stderr)
        return ctl.out(token, {"name": args.name, "read_only": args.read_only, "token": token}) or EXIT_OK
    if args.token_action == "list":
        rows = [{"name": t.name, "read_only": t.read_only, "created": t.created} for t in api_tokens.load(ctl.paths)]
        lines = [f"{r['name']:<32} {'read-only' if r['read_only'] else 'read and change':<16} {r['created']}" for r in rows]
        return ctl.out("\n".join(lines) or "no API token yet: lbctl api token add NAME", rows) or EXIT_OK
    api_tokens.remove(ctl.paths, args.name)
    return ctl.out(f"removed API token {args.name}", {"removed": args.name}) or EXIT_OK


def _settings(ctl, args: argparse.Namespace) -> int:
    if args.action == "show":
        config = ctl.config()
        api = config.api
        addresses = verify_host.own_addresses(config) if api.enabled else []
        urls = [f"https://{a}:{api.port}/" for a in addresses]
        text = "\n".join(urls) if api.enabled else "the API is off (lbctl api on)"
        return ctl.out(text, dataclasses.asdict(api) | {"addresses": addresses, "urls": urls}) or EXIT_OK
    if args.action in ("on", "off"):
        enabled = args.action == "on"
        return ctl.commit(changed_copy(lambda config: setattr(config.api, "enabled", enabled)), f"the API is {args.action}")
    try:
        port = spec_of(Api, "port").kind.parse(args.port)
    except KindError as exc:
        return ctl.problems([("api.port", str(exc))])
    return ctl.commit(changed_copy(lambda config: setattr(config.api, "port", port)), f"the API's port is now {port}")

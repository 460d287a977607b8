"""lbctl cert acme and cert renew: certificates issued by an ACME CA (RFC 8555) and renewed at two thirds of
their life (lbwizard-certificates.timer runs `lbctl cert renew` hourly).

An order is asked outside the change lock (a CA may take a minute); its certificate then comes in as one
change like `lbctl cert add --replace`: written to the store, swapped into the running HAProxy without a
reload, saved as a version (history, rollback, backup see it) and, in a pair, taken by the peer first over
the pair's channel. A failed order changes nothing: the certificate in the store keeps serving, and the
reason is kept for lbctl diagnose and the motd (manage/acme_state.py). In a pair only the unit keepalived
has made MASTER orders (the CA's challenges reach the VIP's holder); the other's timer does nothing.
"""

from __future__ import annotations

import argparse
import copy
import sys
from datetime import UTC, datetime

from ..config import certificate_edit, certstore, pem
from ..config.edit import EditError
from ..config.kinds import KindError, Listed
from ..config.model import ACME_DIRECTORY, DOMAIN, EMAIL, LETS_ENCRYPT, AcmeAccount, ApplianceConfig, CertificateAcme
from ..engines import acme_client
from ..pair import view
from ..render.rolevars import keepalived_vrrp
from . import acme_state, certificate_findings
from .changes import EXIT_FAILED, EXIT_OK

DOMAINS = Listed(what="the domains", item=DOMAIN, max_items=100)
RENEW_AT = 2 / 3  # of a certificate's life


def add_actions(actions, common: argparse.ArgumentParser) -> None:
    acme = actions.add_parser("acme", parents=[common], help="a certificate issued (and renewed) by an ACME CA, HTTP-01")
    acme.add_argument("name", help="what TLS services will call it")
    acme.add_argument("--domain", action="append", metavar="DOMAIN", required=True, help="a name it is for (again for more)")
    acme.add_argument(
        "--directory", metavar="URL", default=LETS_ENCRYPT, help=f"the CA's ACME directory (default {LETS_ENCRYPT})"
    )
    acme.add_argument("--email", metavar="EMAIL", help="where the CA may write about this unit's account")
    account = actions.add_parser(
        "account", parents=[common], help="this unit's ACME account at a CA; HAProxy answers its HTTP-01 challenges from now on"
    )
    account.add_argument(
        "--directory", metavar="URL", default=LETS_ENCRYPT, help=f"the CA's ACME directory (default {LETS_ENCRYPT})"
    )
    account.add_argument("--email", metavar="EMAIL", help="where the CA may write about this unit's account")
    renew = actions.add_parser("renew", parents=[common], help="renew the ACME certificates at two thirds of their life")
    renew.add_argument("name", nargs="?", help="only this one")
    renew.add_argument("--force", action="store_true", help="renew now, due or not")


def _problems(args: argparse.Namespace) -> list[tuple[str, str]]:
    found = []
    for flag, check in (
        ("name", lambda: certificate_edit.checked_name(args.name)),
        ("--domain", lambda: DOMAINS.check(args.domain)),
        ("--directory", lambda: ACME_DIRECTORY.parse(args.directory)),
        ("--email", lambda: args.email is None or EMAIL.parse(args.email)),
    ):
        try:
            check()
        except EditError as exc:
            found.append((exc.field, exc.message))
        except KindError as exc:
            found.append((flag, str(exc)))
    return found


def orders_here(ctl, config: ApplianceConfig) -> bool:
    """A single unit orders; in a pair, the unit keepalived made MASTER (else, before keepalived said, the master)."""
    if config.ha is None:
        return True
    state = view.keepalived_state(ctl.paths, keepalived_vrrp(config))
    return state == "MASTER" if state is not None else config.ha.role == "master"


def cmd_acme(ctl, args: argparse.Namespace) -> int:
    if problems := _problems(args):
        return ctl.problems(problems)
    if ctl.dry_run:
        return ctl.problems([("--dry-run", "an ACME order asks a CA over the network, which a dry run never does")])
    config = ctl.config()
    found = certstore.find(config, args.name)
    if found is not None and found.acme is None:
        return ctl.problems(
            [("name", f"certificate {args.name} was uploaded; lbctl cert remove it first, or choose another name")]
        )
    if not orders_here(ctl, config):
        return ctl.problems(
            [("ha", f"only the pair's MASTER orders certificates (the CA's challenges reach it); run this on {config.ha.peer}")]
        )
    wanted = CertificateAcme(list(args.domain), args.directory, args.email)
    return order(ctl, args.name, wanted)


def cmd_account(ctl, args: argparse.Namespace) -> int:
    """The account alone: registered at the CA, and HAProxy answering its challenges (before DNS points here)."""
    problems = []
    for flag, kind, value in (("--directory", ACME_DIRECTORY, args.directory), ("--email", EMAIL, args.email)):
        try:
            value is None or kind.parse(value)
        except KindError as exc:
            problems.append((flag, str(exc)))
    if problems:
        return ctl.problems(problems)
    if ctl.dry_run:
        return ctl.problems([("--dry-run", "an ACME account is made at a CA over the network, which a dry run never does")])
    result = _account_ready(ctl, CertificateAcme([], args.directory, args.email))
    if result == EXIT_OK:
        ctl.out(f"this unit's ACME account at {args.directory}: thumbprint {ctl.config().acme.thumbprint}", {"ok": True})
    return result


def _account_ready(ctl, wanted: CertificateAcme) -> int:
    """This unit's account at the CA, and HAProxy answering its challenges (a change, the first time)."""
    try:
        account = acme_client.register(ctl.paths, wanted.directory, wanted.email)
    except acme_client.AcmeError as exc:
        print(f"lbctl: ACME: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if ctl.config().acme == AcmeAccount(account.thumbprint):
        return EXIT_OK

    def answering(current: ApplianceConfig) -> ApplianceConfig:
        changed = copy.deepcopy(current)
        changed.acme = AcmeAccount(account.thumbprint)
        return changed

    return ctl.commit(answering, "this unit answers ACME HTTP-01 challenges for its account on port 80")


def order(ctl, name: str, wanted: CertificateAcme) -> int:
    """Order name's certificate for wanted's domains and, once issued, make it the store's content of name."""
    if (ready := _account_ready(ctl, wanted)) != EXIT_OK:
        return ready
    is_new = certstore.find(ctl.config(), name) is None
    try:
        chain, key = acme_client.issue(ctl.paths, wanted.domains, wanted.directory, wanted.email)
        issued = pem.from_parts(chain, key)
    except (acme_client.AcmeError, pem.PemError) as exc:
        acme_state.record_failure(ctl.paths, name, wanted.domains, str(exc), is_new)
        kept = "nothing was stored" if is_new else "the certificate in the store keeps serving"
        print(f"lbctl: ACME order for {', '.join(wanted.domains)} failed: {exc}; {kept}", file=sys.stderr)
        return EXIT_FAILED
    data = issued.pem()
    fingerprint = certstore.fingerprint_of(data)
    until = f"{issued.leaf.not_valid_after_utc:%Y-%m-%d}"
    what = f"{'issued' if is_new else 'renewed'} certificate {name} ({', '.join(wanted.domains)}, until {until}) by ACME"
    with certstore.offering({fingerprint: data}):
        result = ctl.commit(lambda current: certificate_edit.put(current, name, fingerprint, replace=True, acme=wanted), what)
    if result == EXIT_OK:
        acme_state.record_success(ctl.paths, name)
    return result


def due(entry: certstore.Entry, now: datetime) -> bool:
    """At two thirds of its life (a file that cannot be read is due too)."""
    if entry.info is None or entry.not_after is None:
        return True
    not_before = datetime.fromisoformat(entry.info["not_before"])
    return now >= not_before + (entry.not_after - not_before) * RENEW_AT


def cmd_renew(ctl, args: argparse.Namespace) -> int:
    """What the hourly timer runs: every ACME certificate due (or NAME, or all with --force) renewed, then the
    metrics written. Exit 1 when an order failed."""
    config = ctl.config()
    now = datetime.now(UTC)
    acme = {c.name: c for c in config.certificates if c.acme is not None}
    if args.name is not None and args.name not in acme:
        known = ", ".join(acme) or "none"
        return ctl.problems([("name", f"no ACME certificate {args.name!r} in the store (ACME ones: {known})")])
    if not ctl.dry_run:
        certificate_findings.write_metrics(config, ctl.paths)
    if not orders_here(ctl, config):
        ctl.out("this unit is the pair's BACKUP: the MASTER renews, and the pair's sync brings the result", {"renewed": []})
        return EXIT_OK
    entries = {e.name: e for e in certstore.inventory(config, ctl.paths)}
    wanted = [name for name in acme if args.name in (None, name) and (args.force or due(entries[name], now))]
    if not wanted:
        ctl.out("no ACME certificate is due for renewal", {"renewed": []})
        return EXIT_OK
    if ctl.dry_run:
        return ctl.problems([("--dry-run", f"would renew {', '.join(wanted)} from its CA, which a dry run never asks")])
    results = {name: order(ctl, name, acme[name].acme) for name in wanted}
    if not ctl.dry_run:
        certificate_findings.write_metrics(ctl.config(), ctl.paths)
    failed = [name for name, code in results.items() if code != EXIT_OK]
    return EXIT_FAILED if failed else EXIT_OK

"""What the unit says of its certificates' expiry: lbctl diagnose's findings (a problem 21 days before a
certificate a service presents expires, and a failed ACME order with its reason), lines for lbctl status and
the motd, and the node exporter's textfile metrics (seconds to expiry per certificate, a gauge)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..config import certstore
from ..config.files import atomic_write
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..engines.diagnose import Finding
from ..render.host_services import METRICS_TEXTFILE_DIR
from . import acme_state

WARNING_DAYS = 21
DAY = 86400
METRICS_FILE = "lbwizard_certificates.prom"


def _days(seconds: float) -> int:
    return int(seconds // DAY)


def _renewal_fix(entry: certstore.Entry) -> str:
    if entry.acme:
        return f"lbctl cert renew {entry.name} (the hourly timer renews it at two thirds of its life; a failed order is below)"
    return f"lbctl cert add {entry.name} --pem NEW.pem --replace (HAProxy takes it without a reload)"


def findings(config: ApplianceConfig, paths: Paths, now: datetime | None = None) -> list[Finding]:
    """One finding per certificate of the store, and one per ACME order that failed since its last success."""
    now = now or datetime.now(UTC)
    found = []
    for entry in certstore.inventory(config, paths):
        subject = f"certificate {entry.name}"
        used = ", ".join(entry.users)
        severity = "problem" if entry.users else "note"
        proof = f"lbctl cert show {entry.name}"
        if entry.problem is not None or entry.not_after is None:
            fix = f"lbctl cert add {entry.name} --pem FILE --replace, or lbctl rollback to a version whose file is there"
            found.append(Finding("problem", subject, f"cannot be read: {entry.problem}", fix=fix, proof=proof))
            continue
        left = entry.seconds_left(now) or 0.0
        until = f"{entry.not_after:%Y-%m-%d %H:%M} UTC"
        if left <= 0:
            what = f"EXPIRED on {until}" + (f": clients of {used} refuse it" if used else "")
            found.append(Finding(severity, subject, what, fix=_renewal_fix(entry), proof=proof))
        elif left < WARNING_DAYS * DAY:
            what = f"expires in {_days(left)} days ({until})" + (f"; {used} present it" if used else "")
            found.append(Finding(severity, subject, what, fix=_renewal_fix(entry), proof=proof))
        else:
            found.append(Finding("ok", subject, f"valid until {until} ({_days(left)} days)", proof=proof))
    for name, failure in sorted(acme_state.failures(paths).items()):
        if certstore.find(config, name) is None and not failure.get("new"):
            continue
        kept = "the certificate it has keeps serving" if certstore.find(config, name) else "nothing was stored"
        found.append(
            Finding(
                "problem",
                f"certificate {name}",
                f"the ACME order of {failure.get('at', '?')} for {', '.join(failure.get('domains', []))} failed: "
                f"{failure.get('error', '?')}; {kept}",
                fix="each name must resolve to a VIP of this unit whose port 80 reaches it (the unit answers the CA's "
                f"HTTP-01 challenge there); then lbctl cert renew {name} --force",
                proof=f"lbctl cert renew {name} --force",
            )
        )
    return found


def status_lines(config: ApplianceConfig, paths: Paths, now: datetime | None = None) -> list[str]:
    """lbctl status and the motd: each certificate, until when, and who presents it."""
    now = now or datetime.now(UTC)
    lines = []
    for entry in certstore.inventory(config, paths):
        if entry.not_after is None:
            lines.append(f"  {entry.name:<16} CANNOT BE READ: {entry.problem}")
            continue
        left = entry.seconds_left(now) or 0.0
        state = "EXPIRED" if left <= 0 else (f"{_days(left)} days" + (" LEFT, RENEW IT" if left < WARNING_DAYS * DAY else ""))
        used = ", ".join(entry.users) or "no service"
        lines.append(f"  {entry.name:<16} until {entry.not_after:%Y-%m-%d} ({state}); {used}")
    return [f"Certificates ({len(lines)}):", *lines] if lines else []


def metrics_text(config: ApplianceConfig, paths: Paths, now: datetime | None = None) -> str:
    """The textfile collector's lines: seconds to expiry (a gauge, as of now) and the expiry time itself."""
    now = now or datetime.now(UTC)
    lines = [
        "# HELP lbwizard_certificate_expiry_seconds Seconds until the store certificate expires (negative: expired).",
        "# TYPE lbwizard_certificate_expiry_seconds gauge",
    ]
    entries = [e for e in certstore.inventory(config, paths) if e.not_after is not None]
    lines += [f'lbwizard_certificate_expiry_seconds{{name="{e.name}"}} {int(e.seconds_left(now) or 0)}' for e in entries]
    lines += [
        "# HELP lbwizard_certificate_not_after_timestamp_seconds When the store certificate expires (Unix time).",
        "# TYPE lbwizard_certificate_not_after_timestamp_seconds gauge",
    ]
    lines += [
        f'lbwizard_certificate_not_after_timestamp_seconds{{name="{e.name}"}} {int(e.not_after.timestamp())}' for e in entries
    ]
    return "\n".join(lines) + "\n"


def write_metrics(config: ApplianceConfig, paths: Paths) -> None:
    """For the node exporter's textfile collector (names are NAME-kind words: nothing to escape in a label)."""
    atomic_write(paths.root / METRICS_TEXTFILE_DIR.lstrip("/") / METRICS_FILE, metrics_text(config, paths))

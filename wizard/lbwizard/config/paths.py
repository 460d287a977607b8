"""Where the appliance's files live, under one root chosen at start-up (/ live, DIR for --root).

Dry runs and namespace tests differ from a live run only in this root: no `if dry_run:` elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """The files lbwizard reads and writes, relative to root."""

    root: Path = Path("/")

    @property
    def is_live_root(self) -> bool:
        return self.root.resolve() == Path("/")

    @property
    def config_dir(self) -> Path:
        return self.root / "etc/lbwizard"

    @property
    def appliance_yaml(self) -> Path:
        return self.config_dir / "appliance.yaml"

    @property
    def history_dir(self) -> Path:
        return self.config_dir / "history"

    @property
    def admin_password_hash(self) -> Path:
        """Where a non-live root records the admin password hash (a live root sets /etc/shadow)."""
        return self.config_dir / "admin-password.hash"

    @property
    def rollback_record(self) -> Path:
        """The state before the last live apply, for `lbwizard rollback`."""
        return self.config_dir / "rollback.json"

    @property
    def handover_record(self) -> Path:
        """What the last hand-over left: per role, a digest of its variables, its code and the file it wrote."""
        return self.config_dir / "handover.json"

    @property
    def engines_held(self) -> Path:
        """Present when the boot apply could not apply the config: keepalived's and HAProxy's units do not start."""
        return self.root / "run/lbwizard/engines-held"

    @property
    def boot_report(self) -> Path:
        """What the boot apply found wrong, for the consoles, lbctl status and diagnose (this boot only)."""
        return self.root / "run/lbwizard/boot.json"

    @property
    def vrrp_state_dir(self) -> Path:
        """keepalived's state of each VRRP instance, one file per instance (its event reader, lbwizard-vrrp-state)."""
        return self.root / "run/lbwizard/vrrp"

    @property
    def keepalived_pid(self) -> Path:
        """Written by keepalived when it starts: a state file older than it is from an earlier run."""
        return self.root / "run/keepalived.pid"

    @property
    def confirm_timer_pid(self) -> Path:
        """The pending commit-confirm timer (a detached process) when there is no systemd."""
        return self.root / "run/lbwizard/confirm-timer.pid"

    @property
    def realservers_dir(self) -> Path:
        return self.config_dir / "realservers"

    @property
    def certificate_store(self) -> Path:
        """The certificates' PEM files, each named by its SHA-256 (config/certstore.py); never in a picture."""
        return self.config_dir / "certificates"

    @property
    def acme_dir(self) -> Path:
        """This unit's ACME account key, and what its last orders said (engines/acme.py)."""
        return self.config_dir / "acme"

    @property
    def rules_v4(self) -> Path:
        return self.config_dir / "rules.v4"

    @property
    def authorized_keys(self) -> Path:
        """root's SSH keys from appliance.yaml (sshd's AuthorizedKeysFile /etc/lbwizard/authorized_keys/%u)."""
        return self.config_dir / "authorized_keys/root"

    @property
    def pair_dir(self) -> Path:
        """The pair's SSH identity, the peer's host key as first seen, and what the peer has acknowledged."""
        return self.config_dir / "pair"

    @property
    def pair_identity(self) -> Path:
        return self.pair_dir / "id_ed25519"

    @property
    def pair_known_hosts(self) -> Path:
        return self.pair_dir / "known_hosts"

    @property
    def pair_peer_state(self) -> Path:
        """The last shared version the peer took (JSON), for "peer behind by N versions"."""
        return self.pair_dir / "peer.json"

    @property
    def rules_v6(self) -> Path:
        return self.config_dir / "rules.v6"

    @property
    def resolv_conf(self) -> Path:
        return self.root / "etc/resolv.conf"

    @property
    def haproxy_socket(self) -> Path:
        """HAProxy's runtime API (the role's haproxy_stats_socket), for drain/offline/online and status."""
        return self.root / "run/haproxy/admin.sock"

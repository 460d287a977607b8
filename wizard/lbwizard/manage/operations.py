"""Day-2 operations for the management screens, over the very path lbctl uses (edit -> verify -> apply).

Kept free of Textual, so what a screen does can be checked without one, and so the screens and lbctl
cannot drift apart: both edit with edit.py, change engines with runtime.py and commit with changes.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..apply.handover import started_ahead as handover_ahead
from ..apply.runtime import RuntimeChange, runtime_change
from ..config import certstore, edit, files, history, provenance
from ..config.lock import Busy, one_change
from ..config.model import ApplianceConfig, ConfigFormatError
from ..config.paths import Paths
from ..config.verify_access import guards
from ..engines import clock, diagnose, status
from ..engines.access import Engines, for_run
from ..engines.errors import NotAsked
from ..pair import shared, sync, view
from . import boot, certificate_findings, motd, pair_findings
from .changes import EXIT_BAD_INPUT, EXIT_BUSY, EXIT_FAILED, EXIT_OK, EXIT_PEER_REFUSED, EXIT_STALE, commit

Edit = Callable[[ApplianceConfig], ApplianceConfig]


@dataclass
class Operations:
    """What a day-2 change needs: where the files are, whether it is live, and the engines it may talk to."""

    paths: Paths
    live: bool
    engines: Engines
    handover: bool = True
    saved_version: int | None = None  # the history version the last successful change saved
    # the address the admin works from (an SSH session's; the API's caller), whom no change may cut off
    client: str | None = field(default_factory=provenance.ssh_client)
    # change only if the configuration is still this history version (the API's If-Match), judged under the lock
    expected_version: int | None = None

    @classmethod
    def start(cls, paths: Paths, live: bool, handover: bool = True) -> Operations:
        """The start-up choice, made once: a live run talks to the engines, a dry run to nobody."""
        return cls(paths, live, for_run(paths.haproxy_socket, live), handover)

    def config(self) -> ApplianceConfig:
        loaded = files.load_config(self.paths)
        if loaded is None:
            raise ConfigFormatError([("config", f"{self.paths.appliance_yaml} does not exist; run lbwizard first")])
        return loaded

    def change(
        self,
        make: Edit,
        echo: Callable[[str], None],
        failure: Callable[[str], None] | None = None,
        *,
        peer: bool = True,
        wait: float | None = None,
        on_verified: Callable[[], None] | None = None,
        force: bool = False,
    ) -> tuple[int, list[tuple[str, str]]]:
        """Edit the saved config and commit it; (exit code, problems). What the engines can take at once
        (servers added, removed, reweighted, drained, offline, online) reaches them first. In a paired
        unit a change of the shared part is a change of the pair: the peer takes it first (peer=False:
        this is the peer's request being taken). wait: how long to wait for another change here.
        on_verified: called once verify is content, before anything is applied (the peer's ACCEPTED).

        failure gets the line saying why an apply failed; by default echo, as on a screen nothing
        printed would be seen. force: past the guards of the admin's own access (lbctl --force).
        """
        try:
            # from reading the saved config to the last step; Ansible loads meanwhile, for the hand-over
            with one_change(self.paths, wait=wait), handover_ahead(self.handover):
                if self.expected_version is not None and (now := history.newest(self.paths)) != self.expected_version:
                    (failure or echo)(f"the configuration is version {now}, not {self.expected_version}: it changed "
                                      "meanwhile, so nothing was changed; read it again")  # fmt: skip
                    return EXIT_STALE, []
                previous = self.config()
                new = make(previous)
                pending = None
                if peer and shared.paired(previous) and shared.paired(new) and shared.differs(previous, new):
                    from ..config.verify import verify  # as commit() does: only a change pays for verify's import

                    problems = [(p.field, p.message) for p in verify(new)]  # judged here before the peer is asked
                    if problems := problems or guards(previous, new, self.client, force):
                        return EXIT_BAD_INPUT, problems
                    new = shared.stepped(new, shared.version(previous))
                    pending = sync.PeerChange(self.paths, previous, new, echo)
                    if not pending.wait_accepted():
                        answer = pending.result()
                        if answer.reached and not answer.ok:
                            return self._refused(answer, new, echo, failure)

                def taken_now() -> RuntimeChange:
                    if on_verified:
                        on_verified()
                    return runtime_change(previous, new, self.engines, self.paths)

                result = commit(
                    previous, new, self.paths, self.live, self.handover, taken_now, echo, failure or echo, self.client, force
                )
                if pending is not None:
                    answer = pending.result()
                    if result[0] == EXIT_OK and answer.reached and not answer.ok:  # accepted, then failed there
                        return self._undo_here(previous, new, answer, echo, failure)
                    sync.after_here(self.paths, previous, new, answer, result[0] == EXIT_OK, echo)
                self.saved_version = history.newest(self.paths) if result[0] == EXIT_OK else None
                return result
        except edit.EditError as exc:
            return EXIT_BAD_INPUT, [(exc.field, exc.message)]
        except sync.Refused as exc:
            return EXIT_PEER_REFUSED, [(exc.field, exc.message)]
        except ConfigFormatError as exc:
            return EXIT_BAD_INPUT, exc.problems
        except Busy as exc:
            (failure or echo)(str(exc))
            return EXIT_BUSY, []

    def _refused(self, answer, new: ApplianceConfig, echo, failure) -> tuple[int, list[tuple[str, str]]]:
        """The peer did not take the change, and nothing was done here."""
        assert new.ha is not None
        if answer.problems and not answer.refused:  # its verify objects: bad input, by field
            return EXIT_BAD_INPUT, [(f"peer {new.ha.peer}: {f}", m) for f, m in answer.problems]
        why = "; ".join(message for _, message in answer.problems) or answer.error
        (failure or echo)(f"the peer refused the change, so neither unit has it: {why}")
        return EXIT_PEER_REFUSED, []

    def _undo_here(self, previous: ApplianceConfig, new: ApplianceConfig, answer, echo, failure) -> tuple[int, list]:
        """The peer accepted the change and then failed to apply it (and undid its part): so this unit undoes
        its own, as a change back to the previous configuration."""
        assert new.ha is not None
        echo(f"the peer {new.ha.peer} could not apply it ({answer.error}); undo it here too")
        undone = commit(
            new,
            previous,
            self.paths,
            self.live,
            self.handover,
            lambda: runtime_change(new, previous, self.engines, self.paths),
            echo,
            failure or echo,
        )
        done = "so neither unit has it" if undone[0] == EXIT_OK else "and undoing it here FAILED: run lbctl rollback"
        (failure or echo)(f"the change failed on the peer {new.ha.peer}, {done}")
        return EXIT_FAILED, []

    def rollback(
        self, version: int | None, echo: Callable[[str], None], failure: Callable[[str], None] | None = None
    ) -> tuple[int, list[tuple[str, str]]]:
        """Apply a saved version as the newest (default: the one before); history only grows."""

        def back(current: ApplianceConfig) -> ApplianceConfig:
            wanted, why = history.rollback_target(self.paths, version)  # read under the lock, as any change
            if wanted is None:
                raise edit.EditError("version", why or "")
            old = history.load(self.paths, wanted)
            if old == current:
                raise edit.EditError("version", f"version {wanted} is what is applied now; nothing to roll back")
            return old

        return self.change(back, echo, failure=failure)

    def local_addresses(self) -> set[str] | None:
        """This unit's addresses now (None in a dry run, which asks nothing)."""
        try:
            return self.engines.local_addresses()
        except NotAsked:
            return None

    def pair_view(self, config: ApplianceConfig) -> view.PairView | None:
        """Both units of the pair as each says now (None: not paired)."""
        return view.collect(self.paths, config, self.local_addresses(), live=self.live)

    def clock_state(self) -> clock.ClockState | str:
        """chrony's view of the clock; in a dry run, what a live run would ask."""
        try:
            return self.engines.clock_state()
        except NotAsked as exc:
            return f"clock: not asked (dry run): would {exc.what}"

    def status_snapshot(self) -> tuple[ApplianceConfig, list[status.ServiceStatus], view.PairView | None, object]:
        """The config, each service's status, the pair's view and the clock, read once, for a text and its JSON."""
        config = self.config()
        return config, status.collect(config, self.engines), self.pair_view(config), self.clock_state()

    def status_text(self, snapshot: tuple | None = None) -> str:
        """The boot's banner, both units of the pair, the clock and each service's status (read now unless given)."""
        config, statuses, pair, clock_now = self.status_snapshot() if snapshot is None else snapshot
        clock_line = clock_now if isinstance(clock_now, str) else clock.as_text(clock_now, config.time.ntp_servers)
        services = status.as_text(statuses, config)
        certificates = "".join(f"\n{line}" for line in certificate_findings.status_lines(config, self.paths))
        return boot.banner(self.paths) + view.as_text(pair) + clock_line + "\n" + services + certificates

    def status_json(self, snapshot: tuple | None = None) -> dict:
        config, statuses, pair, clock_now = self.status_snapshot() if snapshot is None else snapshot
        now = datetime.now(UTC)
        return {
            "boot_problems": boot.report(self.paths),
            "pair": pair.as_json() if pair else None,
            "clock": None if isinstance(clock_now, str) else clock_now.as_json(),
            "services": status.as_json(statuses),
            "certificates": [entry.as_json(now) for entry in certstore.inventory(config, self.paths)],
        }

    def diagnose_findings(self) -> list[diagnose.Finding]:
        """The boot's problems, the pair's and each service's, in that order."""
        config = self.config()
        found = boot.findings(self.paths) + pair_findings.findings(self.pair_view(config)) + diagnose.run(config, self.engines)
        return found + certificate_findings.findings(config, self.paths)

    def motd_text(self) -> str:
        """The login banner (manage/motd.py): version, addresses, clock, services, diagnose's problems."""
        config, statuses, _pair, clock_now = self.status_snapshot()
        return motd.text(self.paths, config, statuses, clock_now, self.diagnose_findings())

    def diagnose_text(self) -> str:
        return diagnose.as_text(self.diagnose_findings())

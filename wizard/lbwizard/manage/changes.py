"""One change, made the one way: plan it, run it as a transaction, report each step, undo all on failure.

lbwizard (the wizard, answers files, apply) and lbctl (day-2 edits) both end here, so a change made
from a script is exactly as safe as one made at first boot.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..apply import state, transaction
from ..apply.plan import plan
from ..apply.runtime import RuntimeChange
from ..apply.step import Step

# a transaction's own exit codes, by its Outcome: applied 0, failed and undone 1, rollback incomplete 4,
# interrupted and undone 130 (named here too, with the others, for the commands)
from ..apply.transaction import EXIT_ABORTED as EXIT_ABORTED
from ..apply.transaction import EXIT_FAILED as EXIT_FAILED
from ..apply.transaction import EXIT_OK as EXIT_OK
from ..apply.transaction import EXIT_UNDO_INCOMPLETE as EXIT_UNDO_INCOMPLETE
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..config.verify_access import guards
from ..engines.access import for_run

EXIT_BAD_INPUT = 2
EXIT_BUSY = 75  # another change holds the lock (sysexits' EX_TEMPFAIL: try again later)
EXIT_PEER_REFUSED = 3  # the HA peer refused the change: neither unit has it
EXIT_STALE = 5  # --if-version (the API's If-Match) named a version that is no longer the current one


def print_step(line: str) -> None:
    print(f"- {line}", flush=True)


def print_failure(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def apply_config(
    config: ApplianceConfig,
    paths: Paths,
    live: bool,
    handover: bool,
    password_hash: str | None = None,
    previous: ApplianceConfig | None = None,
    record: bool = True,
    runtime: RuntimeChange | None = None,
    echo: Callable[[str], None] = print_step,
    failure: Callable[[str], None] = print_failure,
    pair_identity: str | None = None,
    to_peer: bool = False,
) -> int:
    """Run the plan as one transaction, reporting each step; undo everything on failure or interrupt.
    to_peer: the setup wizard's change, made on a paired unit's peer first (apply/pair_steps.py)."""
    steps = plan(
        config,
        paths,
        password_hash,
        live=live,
        previous=previous,
        handover=handover,
        record=record,
        runtime=runtime,
        pair_identity=pair_identity,
        to_peer=to_peer,
    )
    engines = for_run(paths.haproxy_socket, live)
    return run_steps(steps, (lambda: state.capture(config, paths, engines)) if live else None, echo, failure)


def run_steps(
    steps: list[Step],
    capture=None,
    echo: Callable[[str], None] = print_step,
    failure: Callable[[str], None] = print_failure,
) -> int:
    """failure receives the one line that says what went wrong (stderr for a command, the screen for a TUI);
    the exit code is the outcome's (transaction.Outcome: every caller renders that one)."""
    compare = state.settled_comparison(capture) if capture else None
    outcome = transaction.attempt(steps, echo, capture=capture, compare=compare)
    if not outcome.ok:
        failure(outcome.line())
    return outcome.exit_code


def commit(
    previous: ApplianceConfig,
    new: ApplianceConfig,
    paths: Paths,
    live: bool,
    handover: bool,
    runtime: Callable[[], RuntimeChange] | None = None,
    echo: Callable[[str], None] = print_step,
    failure: Callable[[str], None] = print_failure,
    client: str | None = None,
    force: bool = False,
) -> tuple[int, list[tuple[str, str]]]:
    """A day-2 change (lbctl, the management screens): verify, then apply and hand over as one transaction.
    client and force: for the guards every path applies (verify_access.guards: no cut-off session, no last key).

    runtime() says, once verify is content, what the running engines can take at once. Returns the exit
    code and, when verify objects, its (field, message) problems: nothing is written then.
    """
    from ..config.verify import verify

    problems = [(p.field, p.message) for p in verify(new)] or guards(previous, new, client, force)
    if problems:
        return EXIT_BAD_INPUT, problems
    taken_now = runtime() if runtime else None
    return apply_config(new, paths, live, handover, previous=previous, runtime=taken_now, echo=echo, failure=failure), []

"""The lbwizard and lbctl commands' first steps: a command that will make a change with a hand-over starts
the playbook's process before anything else is imported (apply/playbook_process.start_early), so Ansible
loads while the rest of lbwizard is imported and the change is read and checked. Under TCG the imports
alone are more than a second of every change.

Which commands change is judged from the words of the command line only (parsing it properly needs the
imports this saves). A change not named here only misses the early start (its transaction starts the
process as before); a command named here that ends up changing nothing ends the process unused.
"""

from __future__ import annotations

import sys
from typing import NoReturn

# lbctl's commands that change the configuration: (command, action); None: any action
LBCTL_CHANGES = {
    ("vs", "add"),
    ("vs", "set"),
    ("vs", "remove"),
    ("rs", None),  # add, set, remove, drain, offline, online: all change
    ("access", "networks"),
    ("access", "allow"),
    ("access", "remove"),
    ("access", "key"),  # key add, key remove (key list is the one that does not)
    ("time", "servers"),
    ("logging", "server"),
    ("metrics", "on"),
    ("metrics", "off"),
    ("metrics", "ports"),
    ("rollback", None),
    ("restore", None),
    ("pair", "join"),
    ("cert", "add"),
    ("cert", "remove"),
    ("cert", "acme"),
    ("cert", "account"),
}
# options of either command that take a value: the word after them is not a command word
VALUE_OPTIONS = {"--root", "--message", "-m", "--config", "--answers", "--confirm-timeout", "--seconds", "--weight"}
NO_HANDOVER = ("--no-handover", "-h", "--help")


def words(argv: list[str]) -> list[str]:
    """The command words of argv (options and their values left out)."""
    found, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in VALUE_OPTIONS
        else:
            found.append(arg)
    return found


def lbctl_changes(argv: list[str]) -> bool:
    if any(arg in NO_HANDOVER for arg in argv):
        return False
    said = words(argv)
    if not said:
        return False
    command, action = said[0], (said[1] if len(said) > 1 else None)
    if command == "access" and action == "key":
        return len(said) > 2 and said[2] in ("add", "remove")
    return (command, None) in LBCTL_CHANGES or (command, action) in LBCTL_CHANGES


def lbwizard_changes(argv: list[str]) -> bool:
    """lbwizard apply (not the boot's), and a setup from an answers file; the interactive wizard changes only
    after the questions, minutes later: its transaction starts the process then."""
    if any(arg in (*NO_HANDOVER, "--boot") for arg in argv):
        return False
    said = words(argv)
    return said[:1] == ["apply"] or (not said and any(arg == "--answers" or arg.startswith("--answers=") for arg in argv))


def _early(changes: bool) -> None:
    if changes:
        from .apply.playbook_process import start_early

        start_early()


def lbctl() -> NoReturn:
    _early(lbctl_changes(sys.argv[1:]))
    from .manage.lbctl import run

    run()


def lbwizard() -> NoReturn:
    _early(lbwizard_changes(sys.argv[1:]))
    from .cli import run

    run()

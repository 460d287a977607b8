"""ansible/site.yml run through Ansible's own Python API: what `ansible-playbook` does, less its command line.

The hand-over starts this as a process of its own (`python -m lbwizard.apply.playbook SITE VARS
[TAGS]`): its own process group, which an interrupt can stop whole, and its own output, which a
Textual screen must not receive. Measured against the plain ansible-playbook command on the same
playbook (tests/bench/bench_handover.py) it is the faster; its output is the same default callback's,
so the hand-over reads the same TASK lines and recap.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def run(site: Path, vars_file: Path, tags: list[str]) -> int:
    """Ansible's exit code for one run of site (connection local, the "localhost," inventory)."""
    os.chdir(site.parent)
    from ansible.executor.playbook_executor import PlaybookExecutor
    from ansible.inventory.manager import InventoryManager
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.vars.manager import VariableManager

    from ansible import context

    init_plugin_loader([])
    # what ansible-playbook's options would have set: no become, no check mode, one fork, these tags
    context.CLIARGS = ImmutableDict(
        connection="local", module_path=None, forks=1, become=None, become_method=None, become_user=None,
        check=False, diff=False, verbosity=0, syntax=None, start_at_task=None, listhosts=None, listtasks=None,
        listtags=None, tags=tags or ["all"], skip_tags=[], extra_vars=[f"@{vars_file}"], subset=None,
        flush_cache=None, force_handlers=False, step=None,
    )  # fmt: skip
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources="localhost,")
    variables = VariableManager(loader=loader, inventory=inventory)
    return PlaybookExecutor([site.name], inventory, variables, loader, passwords={}).run()


def main(argv: list[str]) -> int:
    site, vars_file, *tags = argv
    return run(Path(site), Path(vars_file), ",".join(tags).split(",") if tags else [])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

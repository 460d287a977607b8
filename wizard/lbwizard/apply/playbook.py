"""ansible/site.yml run through Ansible's own Python API: what `ansible-playbook` does, less its command line.

The hand-over starts this as a process of its own (`python -m lbwizard.apply.playbook SITE VARS
[TAGS]`): its own process group, which an interrupt can stop whole, and its own output, which a
Textual screen must not receive. Measured against the plain ansible-playbook command on the same
playbook (tests/bench/bench_handover.py) it is the faster; its output is the events of the stdout callback
playbook_env() names (lbwizard_events: one JSON line per task started, failure, and the totals).

`--ready SITE` starts it ahead: it imports Ansible, reads the inventory and loads the plugins every run
uses while the change's earlier steps run (about 5 s under TCG), then reads one line on stdin, the
JSON {"vars": FILE, "tags": [...]}, and runs; at the end of stdin with no line it ends having done nothing.

With tags (the roles whose output may change), the play holds those roles only. `--tags` alone would
still load every role and run each one's argument-spec check (tagged `always`): under TCG about 0.8 s
a role, four of the five roles on a change that touches keepalived alone.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

# what every run loads: found and read once ahead, from the cache after (class only: nothing runs)
PLUGINS = {
    "callback": ["lbwizard_events"],
    "strategy": ["linear"],
    "connection": ["local"],
    "shell": ["sh"],
    "action": ["lb_template", "lb_service", "assert", "validate_argument_spec"],
}


def only_roles(plays: list[dict], tags: list[str]) -> list[dict]:
    """The plays of site.yml with only the roles tagged with one of tags (all of them for no tags or "all")."""
    if not tags or "all" in tags:
        return plays
    wanted = set(tags)
    return [{**play, "roles": [r for r in play.get("roles", []) if wanted & set(r.get("tags", []))]} for play in plays]


def prepare(site: Path) -> tuple[Any, Any]:
    """Ansible imported, its plugins found and the "localhost," inventory read: (loader, inventory)."""
    os.chdir(site.parent)
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins import loader as plugin_loader

    from . import routing_cache

    routing_cache.install()
    plugin_loader.init_plugin_loader([])
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources="localhost,")
    for kind, names in PLUGINS.items():
        for name in names:
            getattr(plugin_loader, f"{kind}_loader").get(name, class_only=True)
    return loader, inventory


def run(site: Path, vars_file: Path, tags: list[str], prepared: tuple[Any, Any] | None = None) -> int:
    """Ansible's exit code for one run of site (connection local, the "localhost," inventory)."""
    loader, inventory = prepared or prepare(site)
    from ansible.executor.playbook_executor import PlaybookExecutor
    from ansible.module_utils.common.collections import ImmutableDict
    from ansible.vars.manager import VariableManager

    from ansible import context

    # what ansible-playbook's options would have set: no become, no check mode, one fork, these tags
    context.CLIARGS = ImmutableDict(
        connection="local", module_path=None, forks=1, become=None, become_method=None, become_user=None,
        check=False, diff=False, verbosity=0, syntax=None, start_at_task=None, listhosts=None, listtasks=None,
        listtags=None, tags=tags or ["all"], skip_tags=[], extra_vars=[f"@{vars_file}"], subset=None,
        flush_cache=None, force_handlers=False, step=None,
    )  # fmt: skip
    variables = VariableManager(loader=loader, inventory=inventory)
    with tempfile.TemporaryDirectory(prefix="lbwizard-play-") as work:
        # the roles are found through ansible.cfg's roles_path (relative to ansible.cfg), not beside the play
        play = Path(work) / site.name
        play.write_text(yaml.safe_dump(only_roles(yaml.safe_load(site.read_text()), tags), sort_keys=False))
        return PlaybookExecutor([str(play)], inventory, variables, loader, passwords={}).run()


def main(argv: list[str]) -> int:
    if argv[0] == "--ready":
        site = Path(argv[1])
        prepared = prepare(site)
        request = sys.stdin.readline()
        if not request:
            return 0  # not needed after all: the change ended before its hand-over, or needed none
        asked = json.loads(request)
        return run(site, Path(asked["vars"]), asked["tags"], prepared)
    site, vars_file, *tags = argv
    return run(Path(site), Path(vars_file), ",".join(tags).split(",") if tags else [])


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter teardown: Ansible's objects torn down at exit are 50 ms on the host, for nothing

"""The management screen for who may reach the unit itself: root's SSH keys and the management networks.

The same edits as `lbctl access key add|remove` and `lbctl access networks`, over the one commit path; a
pasted key is read by sshkeys.parse_key, so a cut or wrapped line is refused by name, not left for sshd
to skip in silence.
"""

from __future__ import annotations

from textual.binding import Binding

from ..config import edit, model, sshkeys, verify_access
from .manage_screens import FormScreen, ListScreen


class AccessScreen(ListScreen):
    BINDINGS = [*ListScreen.BINDINGS, Binding("n", "networks", "Mgmt networks")]
    heading = "SSH keys of root (a: add, x: remove); n: management networks"

    def columns(self) -> list[str]:
        return ["#", "fingerprint", "type", "comment"]

    def rows(self) -> list[tuple[str, list[str]]]:
        config = self.operations.config()
        keys = config.access.ssh_authorized_keys
        rows = [
            (str(i), [str(i), sshkeys.fingerprint(key), key.split()[0], " ".join(key.split()[2:])])
            for i, key in enumerate(keys, 1)
        ]
        networks = ", ".join(model.management_networks(config))
        rows.append(("networks", ["", f"SSH from {networks}", "", ""]))
        return rows

    def action_add(self) -> None:
        fields = [("key", "public key (the line of a .pub file)", "")]
        self.app.push_screen(FormScreen("Add an SSH key for root", fields), self._added)

    def _added(self, values: dict[str, str] | None) -> None:
        if values is None:
            return
        try:
            key = sshkeys.parse_key(values.get("key", "").strip())
        except sshkeys.SSHKeyError as exc:
            self.run("Add an SSH key", None, problems=[("key", str(exc))])
            return
        self.run(f"Add SSH key {sshkeys.fingerprint(key)}", lambda config: edit.add_ssh_key(config, key))

    def action_remove(self) -> None:
        number = self.selected()
        if number and number != "networks":
            self.run(f"Remove SSH key {number}", lambda config: edit.remove_ssh_key(config, number))

    def action_networks(self) -> None:
        current = ", ".join(self.operations.config().access.management_networks)
        fields = [("networks", "management networks, comma-separated (empty: this unit's own subnets)", current)]
        self.app.push_screen(FormScreen("Where SSH may come from", fields), self._networks)

    def _networks(self, values: dict[str, str] | None) -> None:
        if values is None:
            return
        try:
            networks = verify_access.parse_networks(values.get("networks", ""))
        except verify_access.NetworkError as exc:
            self.run("Management networks", None, problems=[("networks", str(exc))])
            return
        self.run("Management networks", lambda config: edit.set_management_networks(config, networks))

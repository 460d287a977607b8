"""The management screens: what `lbwizard` opens on a unit that is already set up.

The reference's web interface, on the console: virtual services, real servers (add, edit, drain,
offline, online, remove), status that refreshes itself, diagnostics, and history with rollback; or
the setup wizard again. Every change goes through Operations, the path lbctl takes, so the checks and
the transaction are the same. run() returns "wizard" when the admin chose the setup wizard.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from ..config import edit, history
from ..config.options import SERVER_NAME, SERVER_OPTIONS, SERVICE_OPTIONS, read_options
from ..config.options import Option as Setting
from ..manage.operations import Operations
from .console import use_ascii_scrollbars
from .manage_access import AccessScreen
from .manage_screens import Field, FormScreen, ListScreen, OperationsScreen, RunScreen, TextScreen

MENU = [
    ("services", "Virtual services"),
    ("servers", "Real servers: add, edit, drain, offline, online"),
    ("access", "Access: root's SSH keys, management networks"),
    ("status", "Status (refreshes every 3 s)"),
    ("diagnose", "Diagnostics"),
    ("history", "History and rollback"),
    ("wizard", "Run the setup wizard again"),
    ("quit", "Quit"),
]
STATUS_REFRESH = 3.0


class MenuScreen(Screen):
    BINDINGS = [Binding("q", "app.quit_menu", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static("Load balancer management", classes="title")
        yield OptionList(*[Option(text, id=key) for key, text in MENU], id="menu")
        yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.app.open(str(event.option.id))  # type: ignore[attr-defined]


def _option_fields(table: list[Setting], values: dict[str, object]) -> list[Field]:
    """Form fields from the settings' options, labelled like lbctl's, filled with the current values, each
    judged by its setting's kind as it is typed."""
    return [
        (
            option.path,
            f"{option.label}: {option.help}",
            "" if values.get(option.path) is None else str(values[option.path]),
            option.read,
        )
        for option in table
    ]


def convert(table: list[Setting], values: dict[str, str], clear: bool = False) -> tuple[dict[str, object], list]:
    """The form's texts (stripped: spaces typed around a value are not part of it) read by their kinds."""
    return read_options(table, {k: v.strip() for k, v in values.items()}, clear=clear, by="path")


def _service_fields(values: dict[str, object]) -> list[Field]:
    return _option_fields(SERVICE_OPTIONS, values)


def _service_values(service) -> dict[str, object]:
    values: dict[str, object] = {}
    for option in SERVICE_OPTIONS:
        path = option.path
        head, _, rest = path.partition(".")
        part = getattr(service, head)
        values[path] = getattr(part, rest) if rest and part is not None else (None if rest else part)
    return values


class ServicesScreen(ListScreen):
    BINDINGS = [*ListScreen.BINDINGS, Binding("e", "edit", "Edit"), Binding("enter", "edit", "Edit", show=False)]
    heading = "Virtual services"

    def columns(self) -> list[str]:
        return ["name", "address:port", "layer", "forwarding", "scheduler", "persistence", "servers"]

    def rows(self) -> list[tuple[str, list[str]]]:
        return [
            (
                s.name,
                [
                    s.name,
                    f"{s.address}:{s.port}",
                    str(s.layer),
                    s.forwarding,
                    s.scheduler,
                    s.persistence.mode if s.persistence else "-",
                    str(len(s.real_servers)),
                ],
            )
            for s in self.operations.config().virtual_services
        ]

    def action_add(self) -> None:
        fields: list[Field] = [("name", "name: the service's label, e.g. WEB", ""), *_service_fields({})]
        hint = "Empty fields take the defaults (forwarding: the topology's; scheduler: the layer's)."
        self.app.push_screen(FormScreen("Add a virtual service", fields, hint), self._added)

    def _added(self, values: dict[str, str] | None) -> None:
        if values is None:
            return
        options, problems = convert(SERVICE_OPTIONS, values)
        name = values.get("name", "").strip()
        self.run(f"Add virtual service {name}", lambda config: edit.add_service(config, name, options), problems=problems)

    def action_edit(self) -> None:
        name = self.selected()
        if name is None:
            return
        values = _service_values(edit.find_service(self.operations.config(), name))
        hint = "Change what you need; empty a field (or type none) to clear it, e.g. persistence or the firewall mark."
        self.app.push_screen(FormScreen(f"Edit {name}", _service_fields(values), hint), lambda v: self._edited(name, values, v))

    def _edited(self, name: str, before: dict[str, object], values: dict[str, str] | None) -> None:
        if values is None:
            return
        changed = {k: v for k, v in values.items() if v.strip() != ("" if before.get(k) is None else str(before[k]))}
        options, problems = convert(SERVICE_OPTIONS, changed, clear=True)
        self.run(f"Edit {name}", lambda config: edit.set_service(config, name, options), problems=problems)

    def action_remove(self) -> None:
        name = self.selected()
        if name is not None:
            self.run(f"Remove {name}", lambda config: edit.remove_service(config, name))


class ServersScreen(ListScreen):
    BINDINGS = [
        *ListScreen.BINDINGS,
        Binding("e", "edit", "Weight"),
        Binding("d", "state('drain')", "Drain"),
        Binding("o", "state('offline')", "Offline"),
        Binding("n", "state('online')", "Online"),
    ]
    heading = "Real servers"

    def columns(self) -> list[str]:
        return ["service", "server", "address:port", "requested", "weight"]

    def rows(self) -> list[tuple[str, list[str]]]:
        return [
            (f"{s.name}/{r.name}", [s.name, r.name, f"{r.address}:{r.port}", r.state, str(r.weight)])
            for s in self.operations.config().virtual_services
            for r in s.real_servers
        ]

    def _selected_pair(self) -> tuple[str, str] | None:
        key = self.selected()
        return tuple(key.split("/", 1)) if key else None  # type: ignore[return-value]

    def action_state(self, state: str) -> None:
        if pair := self._selected_pair():
            vs, rs = pair
            self.run(f"{rs} of {vs}: {state}", lambda config: edit.set_server_state(config, vs, rs, state))

    def action_add(self) -> None:
        pair = self._selected_pair()
        services = [s.name for s in self.operations.config().virtual_services]
        fields: list[Field] = [
            ("vs", f"virtual service ({', '.join(services)})", pair[0] if pair else (services[0] if services else "")),
            ("endpoint", "address[:port] (the port defaults to the VIP's)", ""),
            ("name", "name (empty: the next RIP<n>)", "", SERVER_NAME.read),
            *_option_fields(SERVER_OPTIONS, {}),
        ]
        self.app.push_screen(FormScreen("Add a real server", fields), self._added)

    def _added(self, values: dict[str, str] | None) -> None:
        if values is None:
            return
        options, problems = convert(SERVER_OPTIONS, values)
        if name := values.get("name", "").strip():
            options["name"] = name
        vs, endpoint = values.get("vs", "").strip(), values.get("endpoint", "").strip()
        if not endpoint:
            problems.append(("rs.address", "the real server's address is required"))
        self.run(f"Add {endpoint} to {vs}", lambda config: edit.add_server(config, vs, endpoint, options), problems=problems)

    def action_edit(self) -> None:
        if pair := self._selected_pair():
            server = edit.find_server(edit.find_service(self.operations.config(), pair[0]), pair[1])
            fields = _option_fields(SERVER_OPTIONS, {o.path: getattr(server, o.path) for o in SERVER_OPTIONS})
            self.app.push_screen(FormScreen(f"Edit {pair[1]} of {pair[0]}", fields), lambda v: self._edited(pair, v))

    def _edited(self, pair: tuple[str, str], values: dict[str, str] | None) -> None:
        if values is None:
            return
        options, problems = convert(SERVER_OPTIONS, values)
        vs, rs = pair
        self.run(f"Edit {rs} of {vs}", lambda config: edit.set_server(config, vs, rs, options), problems=problems)

    def action_remove(self) -> None:
        if pair := self._selected_pair():
            vs, rs = pair
            self.run(f"Remove {rs} from {vs}", lambda config: edit.remove_server(config, vs, rs))


class HistoryScreen(OperationsScreen):
    def compose(self) -> ComposeResult:
        yield Static("History: Enter applies the chosen version again (a rollback)", classes="title")
        yield OptionList(id="versions")
        yield Footer()

    def reload(self) -> None:
        versions = self.query_one(OptionList)
        versions.clear_options()
        versions.add_options([Option(history.row_text(r), id=str(r["version"])) for r in history.rows(self.operations.paths)])
        versions.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        number = int(str(event.option.id))
        self.app.push_screen(RunScreen(f"Roll back to version {number}", lambda echo: self.operations.rollback(number, echo)))


class ManageApp(App[str]):
    """Returns "wizard" (run the setup wizard) or "quit"."""

    CSS_PATH = Path(__file__).with_name("wizard.tcss")
    TITLE = "lbwizard"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+c", "quit_menu", "Quit", priority=True), Binding("ctrl+q", "quit_menu", "Quit", show=False)]

    def __init__(self, operations: Operations) -> None:
        super().__init__()
        self.operations = operations
        if os.environ.get("TERM", "") in ("linux", "vt100", "vt220"):
            self.ansi_color = True

    def on_mount(self) -> None:
        use_ascii_scrollbars()
        self.push_screen(MenuScreen())

    def open(self, key: str) -> None:
        if key in ("wizard", "quit"):
            self.exit(key)
        elif key == "services":
            self.push_screen(ServicesScreen(self.operations))
        elif key == "servers":
            self.push_screen(ServersScreen(self.operations))
        elif key == "access":
            self.push_screen(AccessScreen(self.operations))
        elif key == "status":
            self.push_screen(TextScreen("Status", self.operations.status_text, every=STATUS_REFRESH))
        elif key == "diagnose":
            self.push_screen(TextScreen("Diagnostics (r runs them again)", self.operations.diagnose_text))
        elif key == "history":
            self.push_screen(HistoryScreen(self.operations))

    def action_quit_menu(self) -> None:
        """Ctrl-C leaves; a change being applied still finishes or undoes itself as one transaction."""
        if not any(isinstance(s, RunScreen) and not s.finished for s in self.screen_stack):
            self.exit("quit")

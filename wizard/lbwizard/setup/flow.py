"""The wizard's questions as data, and the controller that turns answers into an ApplianceConfig.

The questions are the quick start's (reference 003, "Example answers using the console wizard"), in its
order, plus the HA addresses, the forwarding method and the first-boot admin password. The Textual
screens and the answers-file runner both go through Flow.submit(), so the same validators judge a
typed answer and a scripted one. Cross-field rules are not repeated here: a group of answers is
checked by building the config it implies and asking verify(), then keeping the problems that belong
to that group's questions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import model
from ..config.addressing import IPv4Interface, parse_address
from ..config.kinds import PORT, Boolean, InterfaceAddress6, Kind, OrNone, Prefix, Text, choice_of, key_text
from ..config.model import (
    ADDRESS,
    ADDRESS6,
    GATEWAY6,
    HOSTNAME,
    IP_ADDRESS,
    ApplianceConfig,
    Floating,
    HealthCheck,
    HighAvailability,
    Interface,
    RealServer,
    VirtualService,
)
from ..config.password import hash_password
from ..config.provenance import ssh_client
from ..config.verify import Problem, verify
from ..config.verify_access import guards
from ..pair import keys as pair_keys
from .again import keep_ipv6, lay_over
from .answers_file import ANSWERS_ONLY, PASSWORD_MIN_LENGTH, PairSecret, Password, answers_only
from .host_answers import HOST_SETTINGS, set_host_settings
from .live import LiveSystem

Answers = dict[str, Any]
METHODS = ("dr", "nat", "tun", "snat")
METHOD_HELP = {
    "dr": "layer 4 direct routing: fastest; real servers must handle the ARP problem",
    "nat": "layer 4 NAT: real servers use the load balancer as their default gateway",
    "tun": "layer 4 IP-in-IP tunnel: like DR, but real servers may be on other subnets",
    "snat": "layer 7 proxy (HAProxy): no real server changes; cookies possible; slower",
}
# The questions the running machine can answer (setup/live.py): addresses, netmasks, gateway, nameserver.
LIVE_DEFAULTS = ("eth0_address", "eth0_netmask", "eth1_address", "eth1_netmask", "gateway", "nameserver")
# The quick start's bracketed defaults, used when neither a saved config nor the live system has a value.
REFERENCE_DEFAULTS = {
    "eth0_address": "192.168.2.21",
    "eth0_netmask": "255.255.255.0",
    "eth1_address": "10.0.0.21",
    "eth1_netmask": "255.255.255.0",
    "gateway": "10.0.0.1",
    "nameserver": "192.168.2.1",
    "vip_port": "80",
    "real_server": "10.0.0.100",
}


class AnswersError(ValueError):
    """Answers that cannot become a config; carries every problem at once."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class Question:
    """One question: its answers-file id, what the console shows, and how an answer is read: by its kind
    (config/kinds.py), the same parser an lbctl option or a config field of that kind has, then read
    (the prefix length of a netmask, say) where the answer is used in another form."""

    id: str
    prompt: str
    group: str
    kind: str  # yes_no | choice | address | netmask | port | text | password
    accepts: Kind
    hint: str = ""
    choices: tuple[str, ...] = ()
    asked: Callable[[Answers], bool] = lambda answers: True
    interactive_only: bool = False  # typed on a screen, never in an answers file (password confirmation)
    secret: bool = False
    read: Callable[[Any], Any] | None = None

    def parse(self, value: object) -> Any:
        """The answer by the question's kind; ValueError (a KindError) saying what is wrong."""
        parsed = self.accepts.parse(value)
        return self.read(parsed) if self.read else parsed


YES_NO = Boolean()
NETMASK = Prefix()
METHOD = choice_of(("dr", "nat", "tun", "snat"), "method")


def _is_pair(a: Answers) -> bool:
    return bool(a.get("ha_pair"))


def _is_two_arm(a: Answers) -> bool:
    return a.get("one_arm") is False


# The optional IPv6 step: asked only when the admin asks for it (the summary's "IPv6" key) or an answers file
# gives one of its keys, so the quick start stays 003's. Empty answers (or "none") mean IPv4 only.
IPV6_GROUP = "ipv6"
IPV6_KEYS = ("eth0_address6", "eth1_address6", "gateway6", "floating_external6", "floating_internal6")


QUESTIONS: tuple[Question, ...] = (
    Question("ha_pair", "Is this unit part of an HA-Pair?", "ha", "yes_no", YES_NO, hint="n for a single load balancer"),
    Question(
        "ha_role",
        "Is this unit the master or the backup of the pair?",
        "ha_role",
        "choice",
        choice_of(model.HA_ROLES, "role"),
        choices=model.HA_ROLES,
        asked=_is_pair,
        hint="set up the backup first, as the quick start advises",
    ),
    Question(
        "one_arm",
        "Will the load balancer form part of a one-armed set-up (i.e. same subnet as servers)?",
        "topology",
        "yes_no",
        YES_NO,
        hint="n for two-arm NAT: eth0 external, eth1 internal",
    ),
    Question(
        "eth0_address",
        "Enter the IP address for interface eth0",
        "eth0",
        "address",
        ADDRESS,
        hint="the external subnet",
    ),
    Question(
        "eth0_netmask",
        "Enter the netmask for interface eth0",
        "eth0",
        "netmask",
        NETMASK,
        read=NETMASK.length,
        hint="255.255.255.0, /24 or 24",
    ),
    Question(
        "eth1_address",
        "Enter the IP address for interface eth1",
        "eth1",
        "address",
        ADDRESS,
        asked=_is_two_arm,
        hint="the internal subnet, where the real servers are",
    ),
    Question(
        "eth1_netmask",
        "Enter the netmask for interface eth1",
        "eth1",
        "netmask",
        NETMASK,
        read=NETMASK.length,
        asked=_is_two_arm,
    ),
    Question(
        "gateway",
        "Enter the IP address of the default gateway",
        "routing",
        "address",
        ADDRESS,
        hint="the default gateway for your external network",
    ),
    Question("nameserver", "Enter the IP address of the nameserver", "routing", "address", IP_ADDRESS, hint="the DNS server"),
    Question("hostname", "Enter the host name of this unit", "routing", "text", HOSTNAME),
    Question(
        "peer_address",
        "Enter the IP address of the other unit of the pair",
        "ha_addresses",
        "address",
        ADDRESS,
        asked=_is_pair,
        hint="its eth0 address; VRRP runs between the two",
    ),
    Question(
        "floating_external",
        "Enter the floating IP address for the virtual server",
        "ha_addresses",
        "address",
        ADDRESS,
        asked=_is_pair,
        hint="moves to whichever unit is master",
    ),
    Question(
        "floating_internal",
        "Enter the floating IP address for the real servers' default gateway",
        "ha_addresses",
        "address",
        ADDRESS,
        asked=lambda a: _is_pair(a) and _is_two_arm(a),
        hint="on the internal subnet",
    ),
    Question(
        "pair_secret",
        "Enter the pair secret (type the same on the other unit)",
        "ha_addresses",
        "password",
        PairSecret(),
        asked=_is_pair,
        interactive_only=True,  # an answers file gives it too, as pair_secret (ANSWERS_ONLY): never shown back
        secret=True,
        hint=f"at least {pair_keys.MIN_SECRET} characters: the two units then trust each other; empty: lbctl pair join later",
    ),
    Question("vip_port", "Enter the port for first virtual server", "service", "port", PORT),
    Question(
        "method",
        "Choose the load balancing method for the first virtual server",
        "service",
        "choice",
        METHOD,
        choices=METHODS,
    ),
    Question("real_server", "Enter the IP address of the first real server (backend)", "service", "address", IP_ADDRESS),
    Question(
        "admin_password",
        "Enter a password for the administrator (root)",
        "password",
        "password",
        Password(),
        secret=True,
        hint=f"at least {PASSWORD_MIN_LENGTH} characters; stored only as a hash",
    ),
    Question(
        "admin_password_confirm",
        "Enter the same password again",
        "password",
        "password",
        Text(what="the password again", max_length=256),
        secret=True,
        interactive_only=True,
    ),
    Question(
        "eth0_address6",
        "Enter the IPv6 address/prefix of eth0 (empty: IPv4 only)",
        IPV6_GROUP,
        "address",
        OrNone(what="an IPv6 interface address", item=InterfaceAddress6()),
        hint="like 2001:db8::21/64; router advertisements are ignored",
    ),
    Question(
        "eth1_address6",
        "Enter the IPv6 address/prefix of eth1 (empty: IPv4 only)",
        IPV6_GROUP,
        "address",
        OrNone(what="an IPv6 interface address", item=InterfaceAddress6()),
        asked=_is_two_arm,
        hint="the real servers' IPv6 subnet",
    ),
    Question(
        "gateway6",
        "Enter the IPv6 default gateway (empty: none)",
        IPV6_GROUP,
        "address",
        OrNone(what="an IPv6 gateway", item=GATEWAY6),
        hint="on eth0's IPv6 subnet, or link-local (fe80::1) on eth0",
    ),
    Question(
        "floating_external6",
        "Enter the floating IPv6 address for the virtual servers",
        IPV6_GROUP,
        "address",
        OrNone(what="an IPv6 address", item=ADDRESS6),
        asked=_is_pair,
        hint="moves with the IPv4 one",
    ),
    Question(
        "floating_internal6",
        "Enter the floating IPv6 gateway address for the real servers",
        IPV6_GROUP,
        "address",
        OrNone(what="an IPv6 address", item=ADDRESS6),
        asked=lambda a: _is_pair(a) and _is_two_arm(a),
        hint="on eth1's IPv6 subnet",
    ),
)
QUESTION_BY_ID = {q.id: q for q in QUESTIONS}
GROUP_TITLES = {
    "ha": "High availability",
    "ha_role": "High availability: this unit's role",
    "topology": "Topology",
    "eth0": "External interface (eth0)",
    "eth1": "Internal interface (eth1)",
    "routing": "Gateway, DNS and host name",
    "ha_addresses": "High availability: peer and floating addresses",
    "service": "First virtual service and real server",
    "password": "Administrator password",
    IPV6_GROUP: "IPv6 (optional): leave empty for IPv4 only",
}
GROUPS = tuple(dict.fromkeys(q.group for q in QUESTIONS))


def _field_to_question(path: str, answers: Answers) -> str:
    """The question whose answer a verify() problem is about; the config path when there is none."""
    exact = {
        "hostname": "hostname",
        "topology": "one_arm",
        "interfaces": "one_arm",
        "gateway": "gateway",
        "nameservers[0]": "nameserver",
        "ha.role": "ha_role",
        "ha.peer": "peer_address",
        "ha.floating.external": "floating_external",
        "ha.floating.internal": "floating_internal",
        "gateway6": "gateway6",
        "ha.floating.external6": "floating_external6",
        "ha.floating.internal6": "floating_internal6",
        "virtual_services[0].port": "vip_port",
        "virtual_services[0].forwarding": "method",
        "virtual_services[0].layer": "method",
        "virtual_services[0].protocol": "method",
        "virtual_services[0].scheduler": "method",
    }
    if path in exact:
        return exact[path]
    for name in ("eth0", "eth1"):
        if path == f"interfaces.{name}.address6":
            return f"{name}_address6"
        if path.startswith(f"interfaces.{name}"):
            return "one_arm" if path.endswith(".role") else f"{name}_address"
    if path == "virtual_services[0].address":
        return "floating_external" if _is_pair(answers) else "eth0_address"
    if path.startswith("virtual_services[0].real_servers[0]"):
        return "real_server"
    return path


ANSWERS_ONLY_FIELDS = {
    "access.management_networks": "management_networks",
    "access.ssh_authorized_keys": "ssh_authorized_keys",
    "time.ntp_servers": "ntp_servers",
    "logging.syslog_server": "syslog_server",
    "logging.syslog_protocol": "syslog_protocol",
    "metrics": "metrics",
}


def _field_to_answer(path: str, answers: Answers) -> str:
    """The answers file's key a verify() problem is about: a question's, or an answers-only setting's."""
    for prefix, key in ANSWERS_ONLY_FIELDS.items():
        if path == prefix or path.startswith((f"{prefix}[", f"{prefix}.")):
            return key + path[len(prefix) :] if path.startswith(f"{prefix}[") else key
    return _field_to_question(path, answers)


@dataclass
class Flow:
    """The wizard's controller: which questions are asked, their defaults, and the answers so far."""

    live: LiveSystem = field(default_factory=LiveSystem)
    previous: ApplianceConfig | None = None
    first_boot: bool = True
    answers: Answers = field(default_factory=dict)
    given_hash: str | None = None  # an answers file's admin_password_hash
    client: str | None = field(default_factory=ssh_client)  # an SSH session the wizard runs in: never cut off
    pair_identity: str | None = None  # the pair key made from an answers file's pair_secret (never the secret)
    ipv6_step: bool = False  # the optional IPv6 step asked (the summary's key, or an answers file's IPv6 keys)

    # -- which questions -------------------------------------------------------------------------

    def is_asked(self, question: Question, answers: Answers | None = None) -> bool:
        if question.group == "password" and not self.first_boot:
            return False
        if question.group == IPV6_GROUP and not self.ipv6_step:
            return False
        return question.asked(self.answers if answers is None else answers)

    def questions(self, group: str) -> list[Question]:
        """The questions of a group that the answers so far make relevant."""
        return [q for q in QUESTIONS if q.group == group and self.is_asked(q)]

    def groups(self) -> list[str]:
        """The groups still relevant given the answers so far, in order."""
        return [g for g in GROUPS if self.questions(g)]

    def next_group(self, current: str | None) -> str | None:
        """The group after `current` (the first when None); None when everything is asked."""
        active = self.groups()
        if current is None:
            return active[0] if active else None
        later = GROUPS[GROUPS.index(current) + 1 :]
        return next((g for g in later if g in active), None)

    def previous_group(self, current: str) -> str | None:
        earlier = [g for g in GROUPS[: GROUPS.index(current)] if g in self.groups()]
        return earlier[-1] if earlier else None

    # -- defaults --------------------------------------------------------------------------------

    def default(self, question_id: str, answers: Answers | None = None) -> str:
        """What an empty answer means: the saved config, then the live system, then the quick start."""
        answers = self.answers if answers is None else answers
        saved = answers_from_config(self.previous) if self.previous else {}
        if question_id in saved:
            return display_answer(question_id, saved[question_id])
        if question_id in LIVE_DEFAULTS and question_id in (live := self.live.answer_defaults()):
            return live[question_id]  # asked only for what the live system can say: it is read when first asked
        return display_answer(question_id, self._computed_default(question_id, answers))

    def _computed_default(self, question_id: str, answers: Answers) -> Any:
        if question_id == "ha_pair":
            return False
        if question_id == "ha_role":
            return "master"
        if question_id == "one_arm":
            return "eth1" not in self.live.addresses and bool(self.live.addresses)
        if question_id == "hostname":
            return "lbbackup" if answers.get("ha_role") == "backup" else "lbmaster"
        if question_id == "method":
            return "dr" if answers.get("one_arm") else "nat"
        if question_id == "real_server":
            return self._real_server_default(answers)
        return REFERENCE_DEFAULTS.get(question_id, "")

    def _real_server_default(self, answers: Answers) -> str:
        """The quick start's 10.0.0.100 when it is on the servers' subnet; else host .100 of that subnet."""
        side = "eth1" if _is_two_arm(answers) else "eth0"
        try:
            subnet = IPv4Interface(f"{answers[side + '_address']}/{answers[side + '_netmask']}").network
        except (KeyError, ValueError):
            return REFERENCE_DEFAULTS["real_server"]
        wanted = parse_address(REFERENCE_DEFAULTS["real_server"])
        if wanted in subnet:
            return str(wanted)
        host = subnet.network_address + min(100, subnet.num_addresses - 2)
        return str(host)

    # -- answering -------------------------------------------------------------------------------

    def parse(self, question_id: str, raw: object, answers: Answers | None = None) -> Any:
        """Read one typed answer (empty means the default); ValueError says what is wrong with it."""
        question = QUESTION_BY_ID[question_id]
        if raw in (None, "") and not question.secret:  # only nothing is "the default"; spaces are refused
            raw = self.default(question_id, answers)
        return question.parse(raw)

    def submit(self, group: str, raws: Mapping[str, object]) -> list[Problem]:
        """Answer a group's questions; keep them only when none has a problem. Returns the problems."""
        trial = dict(self.answers)
        problems: list[Problem] = []
        for question in QUESTIONS:
            if question.group != group:
                continue
            if not self.is_asked(question, trial):
                trial.pop(question.id, None)
                continue
            try:
                trial[question.id] = self.parse(question.id, raws.get(question.id), trial)
            except ValueError as exc:
                problems.append(Problem(question.id, str(exc)))
        if group == "password" and not problems and trial.get("admin_password") != trial.get("admin_password_confirm"):
            problems.append(Problem("admin_password_confirm", "the two passwords differ; type the same one twice"))
        if not problems:
            own = {q.id for q in QUESTIONS if q.group == group}
            found = self.problems(trial)
            problems = [p for p in found if p.field in own]
            if not problems and self.previous is not None:
                problems = self._kept_parts_broken(group, trial, found)
        if not problems:
            self.answers = self._prune(trial)
        return problems

    def _kept_parts_broken(self, group: str, trial: Answers, found: list[Problem]) -> list[Problem]:
        """Setup again: what these answers make impossible in the parts of the saved config the wizard
        keeps (other services, other servers), refused at this group's first question, each by name.

        The saved config was verified, so a problem no question owns comes from the answers so far.
        """
        kept = [p for p in found if p.field not in QUESTION_BY_ID]
        first = next(q.id for q in QUESTIONS if q.group == group and self.is_asked(q, trial))
        return [Problem(first, f"the saved configuration's {p.field} would break: {p.message}") for p in kept]

    def _prune(self, answers: Answers) -> Answers:
        """Forget answers to questions that later answers made irrelevant (e.g. eth1 after one-arm: y)."""
        return {k: v for k, v in answers.items() if self.is_asked(QUESTION_BY_ID[k], answers)}

    def problems(self, answers: Answers | None = None) -> list[Problem]:
        """verify() on the config these answers imply, each problem named by its question."""
        answers = self.answers if answers is None else answers
        config = self.build_config(answers)
        return [Problem(_field_to_answer(field, answers), message) for field, message in self._judged(config)]

    def _judged(self, config: ApplianceConfig) -> list[tuple[str, str]]:
        """verify(), then the guards every path applies: no change cuts off the session it comes from (the
        wizard run again over SSH) or takes away root's last key."""
        return [(p.field, p.message) for p in verify(config)] or guards(self.previous, config, self.client)

    def problems_of(self, config: ApplianceConfig) -> list[Problem]:
        """verify() on a whole config from an answers file, each problem named by the key that set it."""
        return [Problem(_field_to_answer(field, self.answers), message) for field, message in self._judged(config)]

    def run_answers(self, data: object) -> ApplianceConfig:
        """The answers-file path: the same questions and checks, no screen; every problem at once."""
        if not isinstance(data, dict):
            raise AnswersError([Problem("answers", "expected a mapping of question ids to answers")])
        given, problems_by_key = answers_only(data)
        problems = [Problem(key, message) for key, message in problems_by_key]
        settings = {key: value for key, value in data.items() if key not in ANSWERS_ONLY}
        networks, keys, secret = given.get("management_networks"), given.get("ssh_authorized_keys"), given.get("pair_secret")
        problems += self._given_hash_problems(data, given.get("admin_password_hash"))
        host = {key: data[key] for key in HOST_SETTINGS if key in given}
        self.ipv6_step = any(key in settings for key in IPV6_KEYS)
        data = settings
        for key in data:
            question = QUESTION_BY_ID.get(str(key))
            if question is None or question.interactive_only:
                known = ", ".join([*(q.id for q in QUESTIONS if not q.interactive_only), *ANSWERS_ONLY])
                problems.append(Problem(key_text(key), f"unknown question id; the answers file takes: {known}"))
        answers: Answers = {}
        for question in QUESTIONS:
            if question.interactive_only or not self.is_asked(question, answers):
                if question.id in data and not question.interactive_only:
                    why = "on a unit that is already set up" if question.group == "password" else "with the other answers given"
                    problems.append(Problem(question.id, f"is not asked {why}; remove it"))
                continue
            raw = data.get(question.id)
            if question.id == "admin_password" and self.given_hash:
                continue
            if question.secret and raw is None:
                problems.append(Problem(question.id, "is required on first boot (the appliance has no default password)"))
                continue
            try:
                answers[question.id] = self.parse(question.id, raw, answers)
            except ValueError as exc:
                problems.append(Problem(question.id, str(exc)))
        if not problems:
            problems = self.problems(answers)
        if problems:
            raise AnswersError(problems)
        self.answers = answers
        config = self.build_config(answers)
        if networks is not None:
            config.access.management_networks = networks
        if keys is not None:
            config.access.ssh_authorized_keys = keys
        set_host_settings(config, host)
        if problems := self.problems_of(config):  # with the answers-only settings too, each by its key
            raise AnswersError(problems)
        self.pair_identity = None
        if secret is not None:
            if config.ha is None:
                raise AnswersError(
                    [Problem("pair_secret", "only an HA pair has a pair secret; answer ha_pair: yes or remove it")]
                )
            key = pair_keys.private_key(secret)  # both units given the same secret make the same key: paired
            config.ha.pair_key = pair_keys.public_line(key)
            self.pair_identity = pair_keys.identity_text(key)
        return config

    def _given_hash_problems(self, data: Mapping, given: str | None) -> list[Problem]:
        """admin_password_hash: a crypt hash instead of the password, so an answers disk holds no clear text."""
        self.given_hash = None
        if given is None:
            return []
        if not self.first_boot:
            return [Problem("admin_password_hash", "is not asked on a unit that is already set up; remove it")]
        if "admin_password" in data:
            return [Problem("admin_password_hash", "give the password or its hash, not both")]
        self.given_hash = given
        return []

    # -- the result ------------------------------------------------------------------------------

    def filled(self, answers: Answers | None = None) -> Answers:
        """The answers with defaults for every relevant question not answered yet."""
        answers = dict(self.answers if answers is None else answers)
        for question in QUESTIONS:
            if question.id in answers or question.secret or not self.is_asked(question, answers):
                continue
            try:
                answers[question.id] = self.parse(question.id, None, answers)
            except ValueError:
                answers[question.id] = None
        return answers

    def build_config(self, answers: Answers | None = None) -> ApplianceConfig:
        """The appliance config these answers describe (defaults for what is not answered yet); on a unit
        already set up, the saved config with only what the answers decide changed (again.lay_over)."""
        asked = self._answered_config(self.filled(answers))
        if self.previous is None:
            return asked
        config = lay_over(self.previous, asked)
        return config if self.ipv6_step else keep_ipv6(self.previous, config)

    def _answered_config(self, a: Answers) -> ApplianceConfig:
        """The config the answers alone make: the quick start's one service and one real server."""
        two_arm = a.get("one_arm") is False
        interfaces = {"eth0": Interface(f"{a.get('eth0_address')}/{a.get('eth0_netmask')}", "external", a.get("eth0_address6"))}
        if two_arm:
            interfaces["eth1"] = Interface(f"{a.get('eth1_address')}/{a.get('eth1_netmask')}", "internal", a.get("eth1_address6"))
        ha = None
        if a.get("ha_pair"):
            ha = HighAvailability(
                role=a.get("ha_role") or "master",
                peer=a.get("peer_address"),
                floating=Floating(
                    a.get("floating_external"),
                    a.get("floating_internal") if two_arm else None,
                    a.get("floating_external6"),
                    a.get("floating_internal6") if two_arm else None,
                ),
                pair_key=pair_keys.public_line(_pair_key(a["pair_secret"])) if a.get("pair_secret") else None,
            )
        method = a.get("method") or ("nat" if two_arm else "dr")
        layer = 7 if method == "snat" else 4
        port = a.get("vip_port") or 80
        service = VirtualService(
            name="VIP1",
            address=(a.get("floating_external") if ha else a.get("eth0_address")),
            port=port,
            layer=layer,
            forwarding=method,
            scheduler="roundrobin" if layer == 7 else "wlc",
            health_check=HealthCheck(type="tcp"),
            real_servers=[RealServer(name="RIP1", address=a.get("real_server"), port=port)],
        )
        return ApplianceConfig(
            hostname=a.get("hostname") or "lbmaster",
            topology="two-arm" if two_arm else "one-arm",
            interfaces=interfaces,
            gateway=a.get("gateway"),
            gateway6=a.get("gateway6"),
            nameservers=[a["nameserver"]] if a.get("nameserver") else [],
            ha=ha,
            virtual_services=[service],
        )

    def identity_to_write(self) -> str | None:
        """The pair's SSH identity the apply writes: an answers file's, or the one the typed secret makes."""
        if self.pair_identity:
            return self.pair_identity
        secret = self.answers.get("pair_secret") if self.answers.get("ha_pair") else None
        return pair_keys.identity_text(_pair_key(secret)) if secret else None

    def admin_password_hash(self) -> str | None:
        """The crypt hash of the admin password answered on first boot (the text itself is never kept)."""
        if self.given_hash:
            return self.given_hash
        password = self.answers.get("admin_password")
        return hash_password(password) if password else None


@functools.lru_cache(maxsize=2)
def _pair_key(secret: str):
    """scrypt takes a while by design; the summary builds the config more than once."""
    return pair_keys.private_key(secret)


def display_answer(question_id: str, value: Any) -> str:
    """An answer as the admin would type it: y/n, dotted netmasks."""
    if isinstance(value, bool):
        return "y" if value else "n"
    if value is None:
        return ""
    if question_id in QUESTION_BY_ID and QUESTION_BY_ID[question_id].kind == "netmask" and str(value).isdigit():
        return str(IPv4Interface(f"0.0.0.0/{value}").netmask)
    return str(value)


def answers_from_config(config: ApplianceConfig) -> Answers:
    """The answers that would rebuild a saved config's wizard part: defaults for running the wizard again."""
    answers: Answers = {"hostname": config.hostname, "one_arm": config.topology == "one-arm"}
    for name, iface in config.interfaces.items():
        if name in ("eth0", "eth1"):
            try:
                parsed = IPv4Interface(iface.address)
            except ValueError:
                continue
            answers[f"{name}_address"] = str(parsed.ip)
            answers[f"{name}_netmask"] = str(parsed.netmask)
            answers[f"{name}_address6"] = iface.address6
    if config.gateway:
        answers["gateway"] = config.gateway
    answers["gateway6"] = config.gateway6
    if config.nameservers:
        answers["nameserver"] = config.nameservers[0]
    answers["ha_pair"] = config.ha is not None
    if config.ha:
        answers.update(
            ha_role=config.ha.role,
            peer_address=config.ha.peer,
            floating_external=config.ha.floating.external,
            floating_internal=config.ha.floating.internal,
            floating_external6=config.ha.floating.external6,
            floating_internal6=config.ha.floating.internal6,
        )
    if config.virtual_services:
        first = config.virtual_services[0]
        answers.update(vip_port=first.port, method=first.forwarding)
        if first.real_servers:
            answers["real_server"] = first.real_servers[0].address
    return {k: v for k, v in answers.items() if v is not None}


def summary_lines(config: ApplianceConfig) -> list[str]:
    """What the config will make this unit do, in the admin's terms, for the confirm screen."""
    lines = [f"Host name        {config.hostname}", f"Topology         {config.topology}"]
    for name, iface in config.interfaces.items():
        lines.append(f"{name:<17}{iface.address} ({iface.role})")
        if iface.address6:
            lines.append(f"{'':<17}{iface.address6}")
    lines.append(f"Default gateway  {config.gateway}")
    if config.gateway6:
        lines.append(f"IPv6 gateway     {config.gateway6}")
    lines.append(f"Nameserver       {', '.join(config.nameservers) or '-'}")
    if config.ha:
        lines.append(f"HA pair          {config.ha.role}, peer {config.ha.peer}")
        lines.append(
            f"Floating IPs     external {config.ha.floating.external}"
            + (f", internal {config.ha.floating.internal}" if config.ha.floating.internal else "")
        )
        six = [
            f"{side} {value}"
            for side, value in (("external", config.ha.floating.external6), ("internal", config.ha.floating.internal6))
            if value
        ]
        if six:
            lines.append(f"Floating IPv6    {', '.join(six)}")
    else:
        lines.append("HA pair          no (single unit)")
    for service in config.virtual_services:
        method = f"layer {service.layer} {service.forwarding.upper()}"
        lines.append(f"Virtual service  {service.name} {service.address}:{service.port}/{service.protocol} {method}")
        for server in service.real_servers:
            lines.append(f"  Real server    {server.name} {server.address}:{server.port}")
    return lines

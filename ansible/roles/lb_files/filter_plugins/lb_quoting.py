"""The roles' second wall: one filter per daemon, through which every template passes every variable it writes.

lbwizard checks the config before it makes the roles' variables (the first wall); these filters make sure that
a value which got past it anyway (a hand-written vars file, a bug) can never add a directive, a line or an
argument to a daemon's file. A template passes each variable it reads, whole, through its daemon's filter
before it renders a line (`{% set haproxy_services = haproxy_services | lb_haproxy_word('haproxy_services') %}`);
a value anywhere in it that holds what the daemon's own parser treats specially fails the role with the
variable's path and the character, and the file is not rendered. What each parser treats specially was read
in its source and tried with its own check (keepalived -t, haproxy -c, chronyd -p, rsyslogd -N1; the field
notes of 2026-12-07 say how):

- keepalived.conf: a word ends at whitespace; `!` and `#` start a comment anywhere outside quotes; `"` quotes;
  `{` `}` open and close a block wherever they are; `$NAME` and `${NAME}` are replaced by a definition, and
  `${_HASH}` and `${_BANG}` always exist (a comment again); `\\` escapes; `'` and `\\` quote inside a script's
  command. A line that starts with `@` belongs to another config id, `~SEQ` repeats lines, `include` reads a
  file. fgets reads a line 1023 bytes at a time: the rest of a longer line is read as a line of its own.
- haproxy.cfg: a word ends at whitespace; `#` starts a comment; `'` and `"` quote; `\\` escapes (`\\x0a` is a
  newline, into a health check's request too); `$VAR` is an environment variable inside double quotes; `,`
  separates a bind's addresses and a fetch's converters, `(` `)` hold a fetch's arguments, `{` `}` an ACL.
- chrony.conf: a word ends at whitespace (tab, CR, VT and FF included); a NUL ends the line silently; `!` `;`
  `#` `%` start a comment at a line's start. Quotes and backslashes are ordinary characters.
- rsyslog.conf (a string in double quotes): `"` ends it, `\\` escapes (`\\057` is `/`, `\\"` a quote).
- /etc/default/prometheus-node-exporter: read by systemd (EnvironmentFile, `$ARGS` split at whitespace) and by
  the sysvinit script as shell (`-- $ARGS` unquoted): whitespace, quotes, `\\`, `$`, backquotes, the shell's
  operators, `*` and `?`.

Every rule also refuses control characters (newline, CR, NUL, ESC, DEL, C1, Unicode line separators and format
characters: whatever str.isprintable() refuses), an empty value, and a value longer than the daemon takes.
Plain Python and nothing of lbwizard's: the roles run from /usr/share/lbwizard/ansible. lbwizard's own files
have their rules in lbwizard/render/quoting.py; the tests hold both to one table (tests/quoting_table.py).
"""

from __future__ import annotations

import re

try:  # the roles tests also render the templates with plain Jinja2
    from ansible.errors import AnsibleFilterError
except ImportError:  # pragma: no cover
    AnsibleFilterError = ValueError  # type: ignore[misc,assignment]

SHOWN = 40  # characters of a refused value that a message shows
NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL", "\x1b": "an escape", " ": "a space"}


def describe(char: str) -> str:
    """A character as a message names it: 'a newline (U+000A)', "'#' (U+0023)"."""
    return f"{NAMES.get(char) or (repr(char) if char.isprintable() else 'a control character')} (U+{ord(char):04X})"


def shown(text: str) -> str:
    """A value as a message shows it: escaped (no control character reaches a terminal) and cut short."""
    return repr(text[:SHOWN]) + (f" (+{len(text) - SHOWN} more characters)" if len(text) > SHOWN else "")


def _raw(container: object, key: object, item: object) -> object:
    """An item as the variables hold it, read past Ansible's lazy templating: a list's or dict's storage keeps
    each item not yet used in a wrapper with the value in .value (Ansible 2.19's _LazyValue). Rendering every
    item here would add a third to the role's rendering at scale; the template renders the items it uses. A
    text that holds template markup is read through the container, rendered as the template will see it."""
    if type(item).__name__ == "_LazyValue":
        item = item.value  # type: ignore[attr-defined]
    if isinstance(item, str) and ("{{" in item or "{%" in item):
        return container[key]  # type: ignore[index]
    return item


class Syntax:
    """One daemon's rule for the values written into its file."""

    def __init__(
        self,
        file: str,
        special: dict[str, str],
        max_bytes: int,
        *,
        leading: dict[str, str] | None = None,
        reserved: dict[str, str] | None = None,
        why_bounded: str = "",
    ) -> None:
        self.file, self.special, self.max_bytes, self.why_bounded = file, special, max_bytes, why_bounded
        self.leading, self.reserved = leading or {}, reserved or {}
        self._search = re.compile("[" + re.escape("".join(special)) + "]").search

    def refused(self, text: str) -> bool:
        """Whether the text may not be written as one value (one scan of it, or two)."""
        return not (
            text
            and text.isprintable()
            and len(text) <= self.max_bytes
            and self._search(text) is None
            and text[0] not in self.leading
            and text not in self.reserved
            and (text.isascii() or len(text.encode()) <= self.max_bytes)
        )

    def problem(self, text: str) -> str:
        """What is wrong with a refused text, in the daemon's terms."""
        if not text:
            return f"empty, where {self.file} expects a value"
        for at, char in enumerate(text, 1):
            if not char.isprintable():
                return f"{shown(text)} has {describe(char)} at character {at}, which ends or hides a line of {self.file}"
            if char in self.special:
                return f"{shown(text)} has {describe(char)} at character {at}, which {self.file} reads as {self.special[char]}"
        if text[0] in self.leading:
            meaning = self.leading[text[0]]
            return f"{shown(text)} starts with {describe(text[0])}, which at a line's start {self.file} reads as {meaning}"
        if text in self.reserved:
            return f"{shown(text)} is a word that {self.file} reads as {self.reserved[text]} at a line's start"
        size = len(text.encode())
        return f"{shown(text)} is {size} bytes, more than the {self.max_bytes} {self.file} takes in a value{self.why_bounded}"

    def check(self, value: object, name: str, commands: tuple[str, ...] | list[str] = ()) -> object:
        """The value unchanged, once every scalar in it (a list's items, a dict's keys and values, at any depth)
        passed the rule; else AnsibleFilterError naming the item by its path in the variable
        (`keepalived_virtual_servers[2].real_servers[0].address`). commands: the dict keys whose values are a
        command line, words separated by single spaces. A number is written as its text; None and booleans
        are never written, so they pass."""
        self._walk(value, [], name, False, frozenset(commands))  # a set: Ansible hands a list over as a lazy one
        return value

    def _walk(self, value: object, path: list, name: str, command: bool, commands) -> None:
        if isinstance(value, dict):
            items, keyed = dict.items(value), True
        elif isinstance(value, (list, tuple)):
            items, keyed = enumerate(list.__iter__(value) if isinstance(value, list) else value), False
        else:
            self._scalar(value, path, name, command)
            return
        refused = self.refused
        for key, item in items:
            if type(item).__name__ == "_LazyValue":  # see _raw
                item = item.value
            if isinstance(item, str) and "{" in item:
                item = _raw(value, key, item)
            if keyed and (not isinstance(key, str) or refused(key)):
                self._scalar(key, [*path, key], name, False)
            as_command = command or (keyed and key in commands)
            if type(item) is int or (isinstance(item, str) and not as_command and not refused(item)):
                continue  # the common case, without a call
            path.append(key)
            self._walk(item, path, name, as_command, commands)
            path.pop()

    def _scalar(self, value: object, path: list, name: str, command: bool) -> None:
        if value is None or isinstance(value, bool):
            return
        text = value if isinstance(value, str) else str(value)
        if command:
            for word in text.split(" "):
                if self.refused(word):
                    self._fail(name, path, f"{shown(text)}, a command line: " + self.problem(word))
            if len(text.encode()) > COMMAND_MAX_BYTES:
                self._fail(name, path, f"{shown(text)} is longer than the {COMMAND_MAX_BYTES} bytes of a command in {self.file}")
        elif self.refused(text):
            self._fail(name, path, self.problem(text))

    def _fail(self, name: str, path: list, problem: str) -> None:
        where = name + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
        raise AnsibleFilterError(f"{where}: {problem}; refused before rendering {self.file}")


WORD_END = "the end of a word"
OPERATOR = "one of the shell's operators"

KEEPALIVED = Syntax(
    "keepalived.conf",
    {
        " ": WORD_END,
        '"': "a quote",
        "'": "a quote in a script's command",
        "\\": "an escape",
        "!": "the start of a comment",
        "#": "the start of a comment",
        "{": "the start of a block",
        "}": "the end of a block",
        "$": "a definition to replace (${_HASH} is a '#')",
    },
    255,
    leading={"@": "a line for another config id", "~": "a ~SEQ or ~LST of lines"},
    reserved={word: "an include of a file" for word in ("include", "includer", "includem", "includew", "includeb", "includea")},
    why_bounded=" (it reads a line 1023 bytes at a time, and the rest as a line of its own)",
)
COMMAND_MAX_BYTES = 900  # a script's command, with its keyword and quotes, within keepalived's 1023-byte line

HAPROXY = Syntax(
    "haproxy.cfg",
    {
        " ": WORD_END,
        "#": "the start of a comment",
        '"': "a quote",
        "'": "a quote",
        "\\": "an escape (\\x0a is a newline)",
        "$": "an environment variable",
        ",": "the next address of a bind or the next converter of a fetch",
        "(": "the start of a fetch's arguments",
        ")": "the end of a fetch's arguments",
        "{": "the start of an ACL",
        "}": "the end of an ACL",
    },
    1024,
)

CHRONY = Syntax("chrony.conf", {" ": WORD_END}, 255, leading=dict.fromkeys("!;#%", "a comment"))

RSYSLOG = Syntax("rsyslog.conf", {'"': "the end of the string", "\\": "an escape (\\057 is a '/')"}, 255)

SHELL = Syntax(
    "/etc/default/prometheus-node-exporter",
    {
        " ": WORD_END,
        '"': "a quote",
        "'": "a quote",
        "`": "a command to run",
        "\\": "an escape",
        "$": "a variable or a command to run",
        ";": OPERATOR,
        "&": OPERATOR,
        "|": OPERATOR,
        "<": "a redirection",
        ">": "a redirection",
        "(": "a subshell",
        ")": "a subshell",
        "*": "a file name pattern",
        "?": "a file name pattern",
        "{": "a brace expansion",
        "}": "a brace expansion",
        "!": "a negation or a history expansion",
        "#": "the start of a comment",
        "~": "a home directory",
        "^": "a pipe (Bourne shell)",
    },
    1024,
)

SYNTAXES = {"keepalived": KEEPALIVED, "haproxy": HAPROXY, "chrony": CHRONY, "rsyslog": RSYSLOG, "shell": SHELL}


def lb_keepalived_word(value: object, name: str, commands: tuple[str, ...] | list[str] = ()) -> object:
    return KEEPALIVED.check(value, name, commands)


def lb_haproxy_word(value: object, name: str) -> object:
    return HAPROXY.check(value, name)


def lb_chrony_word(value: object, name: str) -> object:
    return CHRONY.check(value, name)


def lb_rsyslog_string(value: object, name: str) -> object:
    return RSYSLOG.check(value, name)


def lb_shell_word(value: object, name: str) -> object:
    return SHELL.check(value, name)


class FilterModule:
    def filters(self) -> dict:
        return {
            "lb_keepalived_word": lb_keepalived_word,
            "lb_haproxy_word": lb_haproxy_word,
            "lb_chrony_word": lb_chrony_word,
            "lb_rsyslog_string": lb_rsyslog_string,
            "lb_shell_word": lb_shell_word,
        }

"""keepalived's side of 002's Resource Based (Adaptive) scheduling: ask a real server's agent its weight.

keepalived runs this as a MISC_CHECK with misc_dynamic (`lbwizard-agent-weight ADDRESS AGENT_PORT WEIGHT`).
The agent speaks HAProxy's agent-check protocol, so one agent on the server serves both layers: one line
of words such as "75%" (the share of the configured weight it can take now), "drain", "down" or "up".
The exit status is keepalived's: 0 keeps the weight, 1 is down, 2 + w sets weight w (at most 253). An
agent that does not answer changes nothing: the health check alone decides then.
"""

from __future__ import annotations

import re
import socket
import sys

KEEP, DOWN, SET = 0, 1, 2  # keepalived's misc_dynamic: SET + weight
MAX_WEIGHT = 253  # 255 - SET
DOWN_WORDS = ("down", "fail", "failed", "stopped", "maint")


def exit_status(reply: str, configured: int) -> int:
    """What keepalived should do with the server, from the agent's line and the configured weight."""
    words = [w for w in re.split(r"[\s,]+", reply.strip().lower()) if w]
    if any(word in DOWN_WORDS for word in words):
        return DOWN
    if "drain" in words:
        return SET
    for word in words:
        if word.endswith("%") and word[:-1].isdigit():
            return SET + min(MAX_WEIGHT, configured * int(word[:-1]) // 100)
    return KEEP


def ask(address: str, port: int, timeout: float = 3.0) -> str | None:
    """The agent's first line, or None when it does not answer."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            return conn.makefile("r", encoding="ascii", errors="replace").readline()
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    address, port, weight = (argv if argv is not None else sys.argv[1:])[:3]
    reply = ask(address, int(port))
    return KEEP if reply is None else exit_status(reply, int(weight))


if __name__ == "__main__":
    sys.exit(main())

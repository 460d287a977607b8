"""keepalived's side of adaptive scheduling: an agent's line becomes misc_dynamic's exit status."""

from __future__ import annotations

import socket
import threading

import pytest

from lbwizard.engines import agent_weight


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ("75%\n", 2 + 75),  # 75% of weight 100
        ("up 10%", 2 + 10),
        ("ready", 0),  # keep the configured weight
        ("drain", 2),  # weight 0: no new connections
        ("down", 1),
        ("maint 50%", 1),
        ("300%", 2 + 253),  # keepalived's highest weight
        ("", 0),
    ],
)
def test_the_agents_words_as_keepalived_takes_them(reply, status):
    assert agent_weight.exit_status(reply, 100) == status


def test_it_asks_a_real_agent_and_leaves_the_weight_alone_when_none_answers():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"40%\n")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert agent_weight.main(["127.0.0.1", str(port), "50"]) == 2 + 20
    finally:
        thread.join(timeout=5)
        listener.close()
    assert agent_weight.main(["127.0.0.1", str(port), "50"]) == 0  # nobody listens now: the check decides

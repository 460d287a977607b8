"""002's Weighted Response Time: the weights' arithmetic, and keepalived's script against real HTTP servers
on loopback that answer at once and after 0.2 s."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from lbwizard.engines import response_weights
from lbwizard.engines.response_weights import FLOOR, weights


def test_a_slower_server_gets_its_share_of_the_weight_scaled_to_the_ceiling():
    assert weights({"a": 0.010, "b": 0.040}, {"a": 1, "b": 1}, 253) == {"a": 253, "b": 63}  # 4x slower: a quarter
    assert weights({"a": 0.010, "b": 0.020}, {"a": 2, "b": 1}, 256) == {"a": 256, "b": 64}  # scale 128


def test_answers_faster_than_the_floor_are_equal_and_a_drained_server_stays_at_zero():
    assert weights({"a": FLOOR / 10, "b": FLOOR / 2}, {"a": 1, "b": 1}, 253) == {"a": 253, "b": 253}
    assert weights({"a": 0.5, "b": 0.01}, {"a": 1, "b": 0}, 253) == {"a": 253, "b": 0}  # b is nobody's measure
    assert weights({"a": 100.0, "b": 0.005}, {"a": 1, "b": 1}, 253) == {"a": 1, "b": 253}  # never 0 by slowness
    assert weights({}, {}, 253) == {}


class _Slow(http.server.BaseHTTPRequestHandler):
    delay = 0.0

    def do_GET(self):
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def servers():
    """Two real HTTP servers on loopback: one answers at once, the other after 0.2 s."""
    started = []
    for delay in (0.0, 0.2):
        handler = type("Handler", (_Slow,), {"delay": delay})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield [s.server_address[1] for s in started]
    for server in started:
        server.shutdown()
        server.server_close()


def test_keepalived_gets_each_servers_weight_from_the_shared_times(tmp_path, servers):
    fast, slow = servers

    def run(port: int, weight: int = 1) -> int:
        return response_weights.main([str(tmp_path), "5", "2", "127.0.0.1", str(port), str(weight), "http", "/"])

    assert run(fast) == 2 + 253  # alone, it is the fastest
    status = run(slow)
    # each run records the time it measured: the slow server's weight is 253 x fastest / its own (about 6 on
    # a quiet machine, 253 x 5 ms / 200 ms; more when a loaded machine slows the fast answer down)
    measured = {p.name: float(p.read_text().split()[0]) for p in tmp_path.iterdir()}
    fastest, own = max(FLOOR, measured[f"127.0.0.1:{fast}"]), measured[f"127.0.0.1:{slow}"]
    assert own >= 0.2 and status == 2 + max(1, round(253 * fastest / own)), (status, measured)
    assert run(fast) == 2 + 253
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"127.0.0.1:{fast}", f"127.0.0.1:{slow}"])
    assert run(slow, weight=0) == 2 + 0  # drained: weight 0, whatever its time


def test_a_server_that_does_not_answer_is_down_and_leaves_the_measure(tmp_path, servers):
    fast, _ = servers
    args = [str(tmp_path), "5", "1", "127.0.0.1", str(fast), "1", "tcp"]
    assert response_weights.main(args) == 2 + 253
    closed = [str(tmp_path), "5", "1", "127.0.0.1", "1", "1", "tcp"]  # nothing listens on port 1
    assert response_weights.main(closed) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"127.0.0.1:{fast}"]

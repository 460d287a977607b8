"""A real API server (`lbwizard serve --dry-run --root DIR --listen 127.0.0.1:PORT`), started and stopped by
its PID, on the quick start's two-arm NAT example; real HTTPS clients that trust the certificate it made."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.cli.test_answers_cli import run_wizard
from tests.conftest import TWO_ARM_NAT

BIN = Path(sys.executable).parent
LBCTL = [str(BIN / "lbctl")]
LBWIZARD = [str(BIN / "lbwizard")]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: object

    @property
    def errors(self) -> dict[str, str]:
        return {e["field"]: e["message"] for e in self.body.get("errors", [])}  # type: ignore[union-attr]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lbctl(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*LBCTL, "--dry-run", "--root", str(root), *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})  # fmt: skip


def token(root: Path, name: str, *extra: str) -> str:
    made = lbctl(root, "api", "token", "add", name, *extra)
    assert made.returncode == 0, made.stdout + made.stderr
    return made.stdout.strip()


class Server:
    """One lbwizard serve process and the tokens made for it."""

    def __init__(self, root: Path, env: dict[str, str] | None = None):
        self.root = root
        self.port = free_port()
        self.log = root.parent / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [*LBWIZARD, "serve", "--dry-run", "--root", str(root), "--listen", f"127.0.0.1:{self.port}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        self.context = None
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, f"lbwizard serve ended: {self.log.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"lbwizard serve did not listen: {self.log.read_text()}"
                time.sleep(0.05)
        self.context = ssl.create_default_context(cafile=str(root / "etc/lbwizard/api/certificate.pem"))
        self.admin = token(root, f"admin{self.port}")
        self.reader = token(root, f"reader{self.port}", "--read-only")

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        token: str | None = "admin",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        parse: bool = True,
    ) -> Answer:
        """One request on a connection of its own, as a separate client would make it."""
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {getattr(self, token, token)}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=120)
        try:
            connection.request(method, path if path.startswith("/api") else "/api/v1" + path, body=data, headers=sent)
            response = connection.getresponse()
            text = response.read()
            answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, None)
        finally:
            connection.close()
        if not parse:
            answer.body = text
        elif text:
            answer.body = json.loads(text)
            kind = answer.headers.get("content-type", "")
            assert kind == ("application/problem+json" if answer.status >= 400 else "application/json"), (answer.status, kind)
        return answer

    def stop(self) -> None:
        """By its PID: SIGTERM (uvicorn ends gracefully), then SIGKILL should it not."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def set_up_root(base: Path) -> Path:
    result, root = run_wizard(base, yaml.safe_dump(TWO_ARM_NAT))
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server on a root of its own, shared by one test file's tests (each test uses its own names)."""
    root = set_up_root(tmp_path_factory.mktemp("api"))
    started = Server(root, {"LBWIZARD_LOCK_WAIT": "2"})
    try:
        yield started
    finally:
        started.stop()


def saved_text(root: Path) -> str:
    return (root / "etc/lbwizard/appliance.yaml").read_text()


def newest(root: Path) -> int:
    return max(int(p.stem) for p in (root / "etc/lbwizard/history").glob("*.yaml"))

"""The sampler: every step seconds, in a thread of the API server's process, the engines' counters
(engines/counters.py) as the charts' values (sample_store.py): connections open now, and new connections,
requests and bytes per second since the last sample. Files are written once a minute (and at the end), so
a unit's disk sees a few kilobytes a minute per series; at most that minute is lost to a power cut.

A dry run asks no engine, so it has no sampler: the charts say so.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

from ..config import files
from ..config.model import ApplianceConfig
from ..config.paths import Paths
from ..engines import counters
from ..engines.access import Engines
from ..engines.counters import Counters
from ..engines.errors import NotAsked
from .sample_store import UNKNOWN, Store, Values

DEFAULT_STEP = 30
STEP_VARIABLE = "LBWIZARD_SAMPLE_SECONDS"  # tests sample faster; a divisor of 3600 from 1 to 300
FLUSH_SECONDS = 60


def samples_folder(paths: Paths) -> Path:
    return paths.root / "var/lib/lbwizard/samples"


def chosen_step() -> int:
    text = os.environ.get(STEP_VARIABLE, "")
    step = int(text) if text.isdigit() else DEFAULT_STEP
    return step if 1 <= step <= 300 and 3600 % step == 0 else DEFAULT_STEP


def read_counters(config: ApplianceConfig, engines: Engines) -> dict[str, Counters]:
    """Every series the engines can say now; an engine that cannot be read adds nothing this time."""
    layers = {s.layer for s in config.virtual_services}
    found: dict[str, Counters] = {}
    if 7 in layers:
        with contextlib.suppress(OSError, NotAsked):
            found |= counters.from_haproxy(config, engines.haproxy_stats())
    if 4 in layers:
        try:
            table, stats = engines.ipvs_services(), engines.ipvs_stats()
            if table is not None and stats is not None:
                found |= counters.from_ipvs(config, table, stats)
        except (OSError, NotAsked):
            pass
    return found


def _rate(new: int | None, old: int | None, seconds: float) -> float:
    if new is None or old is None or seconds <= 0:
        return UNKNOWN
    return (new - old if new >= old else new) / seconds  # a counter that went back: the engine restarted


def configured(config: ApplianceConfig) -> set[str]:
    return {s.name for s in config.virtual_services} | {
        f"{s.name}/{r.name}" for s in config.virtual_services for r in s.real_servers
    }


class Sampler:
    def __init__(self, paths: Paths, engines: Engines, step: int | None = None):
        self.paths, self.engines = paths, engines
        self.store = Store(samples_folder(paths), step or chosen_step())
        self.lock = threading.Lock()  # the store is read by the API's requests while the thread writes
        self.previous: dict[str, tuple[float, Counters]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="lbwizard-sampler", daemon=True)
        self.flushed = time.monotonic()

    def start(self) -> None:
        with self.lock:
            self.store.load()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self._flush()

    def _run(self) -> None:
        while not self.stopping.wait(self.store.step - time.time() % self.store.step):
            try:
                self.sample(time.time())
            except Exception as exc:  # a sampler that stops is a chart that lies: say why, go on
                print(f"lbwizard serve: sampler: {type(exc).__name__}: {exc}", file=sys.stderr)

    def sample(self, now: float) -> None:
        try:
            config = files.load_config(self.paths)
        except Exception:  # a configuration being replaced, or unreadable: the next step tries again
            return
        if config is None:
            return
        readings: dict[str, Values] = {}
        for key, now_counters in read_counters(config, self.engines).items():
            before = self.previous.get(key)
            seconds = now - before[0] if before else 0.0
            old = before[1] if before else Counters(None, None, None, None)
            current = float(now_counters.current) if now_counters.current is not None else UNKNOWN
            readings[key] = (
                current,
                _rate(now_counters.connections, old.connections, seconds),
                _rate(now_counters.requests, old.requests, seconds),
                _rate(now_counters.bytes, old.bytes, seconds),
            )
            self.previous[key] = (now, now_counters)
        keys = configured(config)
        with self.lock:
            self.store.record(int(now), readings)
            self.store.keep_only(keys)
        self.previous = {k: v for k, v in self.previous.items() if k in keys}
        if time.monotonic() - self.flushed >= FLUSH_SECONDS:
            self._flush()

    def _flush(self) -> None:
        with self.lock:
            try:
                self.store.flush()
            except OSError as exc:
                print(f"lbwizard serve: sampler: cannot write {self.store.folder}: {exc}", file=sys.stderr)
        self.flushed = time.monotonic()

"""The charts' store: per series (a virtual service, or one of its real servers), two fixed-size rings in one
file, the last hour at the sampler's step and the last day in 5-minute averages, so the store never grows
past (series x file size) and survives a reboot. A file is replaced whole (written beside it, synced,
renamed): a power cut leaves the old file or the new one, never half of each.

A slot holds the start of its step (seconds since the epoch; 0 for never written) and four values: the
connections open now, and per second over the step the new connections, the requests and the bytes (NaN
where the engine keeps no such counter, or for the first sample after a start).
"""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"LBSR"
FORMAT_VERSION = 1
HEADER = struct.Struct("<4sHHHHH")  # magic, version, hour step, hour slots, day step, day slots
SLOT = struct.Struct("<I4f")
FIELDS = ("current", "connections", "requests", "bytes")
HOUR, DAY = 3600, 86400
DAY_STEP = 300
MAX_SERIES = 4096  # files at most: with the default step, 4096 x 8 KiB
SUFFIX = ".ring"
_SERIES = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}(/[A-Za-z0-9][A-Za-z0-9_.-]{0,31})?")

Values = tuple[float, float, float, float]
UNKNOWN = math.nan


class Ring:
    """slots steps of step seconds; a slot is valid only while it holds the start of a step in the window."""

    def __init__(self, step: int, slots: int):
        self.step, self.slots = step, slots
        self.times = [0] * slots
        self.values: list[Values] = [(UNKNOWN,) * 4] * slots  # type: ignore[list-item]

    def put(self, t: int, values: Values) -> None:
        start = t - t % self.step
        index = (start // self.step) % self.slots
        self.times[index], self.values[index] = start, values

    def window(self, now: int) -> tuple[int, list[Values | None]]:
        """The first step's start and each step's values up to now's (None: nothing sampled then)."""
        last = now - now % self.step
        first = last - (self.slots - 1) * self.step
        found: list[Values | None] = []
        for start in range(first, last + 1, self.step):
            index = (start // self.step) % self.slots
            found.append(self.values[index] if self.times[index] == start else None)
        return first, found

    def pack(self) -> bytes:
        return b"".join(SLOT.pack(t, *v) for t, v in zip(self.times, self.values, strict=True))

    def unpack(self, data: bytes) -> None:
        for index in range(self.slots):
            t, *values = SLOT.unpack_from(data, index * SLOT.size)
            self.times[index], self.values[index] = t, tuple(values)  # type: ignore[assignment]


def _mean(column: list[float]) -> float:
    known = [v for v in column if not math.isnan(v)]
    return sum(known) / len(known) if known else UNKNOWN


@dataclass
class Series:
    hour: Ring
    day: Ring
    changed: bool = False

    @classmethod
    def new(cls, step: int) -> Series:
        return cls(Ring(step, HOUR // step), Ring(DAY_STEP, DAY // DAY_STEP))

    def record(self, t: int, values: Values) -> None:
        """One sample; the day's slot becomes the average of the hour's samples in its 5 minutes."""
        self.hour.put(t, values)
        bucket = t - t % DAY_STEP
        inside = [v for s, v in zip(self.hour.times, self.hour.values, strict=True) if s and s - s % DAY_STEP == bucket]
        self.day.put(t, tuple(_mean([v[i] for v in inside]) for i in range(4)))  # type: ignore[arg-type]
        self.changed = True

    def pack(self) -> bytes:
        header = HEADER.pack(MAGIC, FORMAT_VERSION, self.hour.step, self.hour.slots, self.day.step, self.day.slots)
        return header + self.hour.pack() + self.day.pack()

    @classmethod
    def unpack(cls, data: bytes, step: int) -> Series:
        """A file of this format and step as it was; a new series for anything else (another step, damage)."""
        series = cls.new(step)
        try:
            magic, version, hour_step, hour_slots, day_step, day_slots = HEADER.unpack_from(data)
        except struct.error:
            return series
        wanted = (MAGIC, FORMAT_VERSION, series.hour.step, series.hour.slots, series.day.step, series.day.slots)
        if (magic, version, hour_step, hour_slots, day_step, day_slots) != wanted or len(data) != len(series.pack()):
            return series
        series.hour.unpack(data[HEADER.size :])
        series.day.unpack(data[HEADER.size + hour_slots * SLOT.size :])
        return series


def file_name(key: str) -> str:
    """ "VIP1" -> VIP1.ring, "VIP1/RIP1" -> VIP1+RIP1.ring ('+' is in no name)."""
    return key.replace("/", "+") + SUFFIX


@dataclass
class Store:
    """The series of one unit, in memory and in folder (one file each)."""

    folder: Path
    step: int
    series: dict[str, Series] = field(default_factory=dict)

    def load(self) -> None:
        """What the folder holds (after a restart or a reboot); files that are not series are left alone."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*" + SUFFIX))[:MAX_SERIES]:
            key = path.name.removesuffix(SUFFIX).replace("+", "/")
            if _SERIES.fullmatch(key):
                try:
                    self.series[key] = Series.unpack(path.read_bytes(), self.step)
                except OSError:
                    continue

    def record(self, t: int, readings: dict[str, Values]) -> None:
        for key, values in readings.items():
            if key not in self.series and (len(self.series) >= MAX_SERIES or not _SERIES.fullmatch(key)):
                continue
            self.series.setdefault(key, Series.new(self.step)).record(t, values)

    def keep_only(self, keys: set[str]) -> None:
        """Forget series no longer configured (a removed service or server), and their files."""
        for key in [k for k in self.series if k not in keys]:
            del self.series[key]
            (self.folder / file_name(key)).unlink(missing_ok=True)

    def flush(self) -> None:
        """Write every series changed since the last flush, each file replaced whole."""
        changed = [(k, s) for k, s in self.series.items() if s.changed]
        if not changed:
            return
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        for key, series in changed:
            _replace(self.folder / file_name(key), series.pack())
            series.changed = False

    def window(self, key: str, span: str, now: int) -> tuple[int, int, list[Values | None]] | None:
        """(first step's start, step, values) of a series over the last hour or day; None if never sampled."""
        series = self.series.get(key)
        if series is None:
            return None
        ring = series.hour if span == "hour" else series.day
        first, values = ring.window(now)
        return first, ring.step, values


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)

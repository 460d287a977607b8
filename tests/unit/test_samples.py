"""The charts' store and sampler: rings that stay their size and forget what left the window, the day's
5-minute averages, files replaced whole and read back (a damaged or other-step file starts afresh), series of
removed services dropped; the engines' counters read from HAProxy's show stat and ipvsadm --stats; rates
from two readings, and a counter that went back (an engine restarted)."""

from __future__ import annotations

import math

from lbwizard.api import sample_store
from lbwizard.api.sample_store import Series, Store
from lbwizard.api.sampler import Sampler
from lbwizard.config import model
from lbwizard.engines import counters
from lbwizard.engines.errors import NotAsked
from lbwizard.engines.ipvs import parse_ipvsadm

NAN = math.nan


def test_a_ring_keeps_its_size_and_only_the_window():
    ring = sample_store.Ring(10, 6)
    for t in range(1000, 1200, 10):
        ring.put(t, (float(t), NAN, NAN, NAN))
    first, values = ring.window(1190)
    assert first == 1140 and [v[0] for v in values] == [1140, 1150, 1160, 1170, 1180, 1190]
    first, values = ring.window(1250)  # nothing sampled for 60 s: the old slots are not shown as new
    assert first == 1200 and values == [None] * 6
    assert len(ring.pack()) == 6 * sample_store.SLOT.size


def test_the_day_is_five_minute_averages_of_the_hour():
    series = Series.new(30)
    for i, t in enumerate(range(3000, 3300, 30)):  # 10 samples in one 5-minute bucket
        series.record(t, (float(i), 2.0, NAN, 100.0 * i))
    _, day = series.day.window(3299)
    assert day[-1][0] == 4.5 and day[-1][1] == 2.0 and math.isnan(day[-1][2]) and day[-1][3] == 450.0


def test_files_are_written_whole_and_read_back(tmp_path):
    store = Store(tmp_path / "samples", 30)
    store.record(6000, {"VIP1": (1.0, 2.0, 3.0, 4.0), "VIP1/RIP1": (1.0, 0.5, NAN, 10.0), "bad name!": (1.0,) * 4})
    store.flush()
    names = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert names == ["VIP1+RIP1.ring", "VIP1.ring"]
    sizes = {(tmp_path / "samples" / n).stat().st_size for n in names}
    assert sizes == {len(Series.new(30).pack())}
    again = Store(tmp_path / "samples", 30)
    again.load()
    _, _, values = again.window("VIP1", "hour", 6000)
    assert values[-1] == (1.0, 2.0, 3.0, 4.0)
    other_step = Store(tmp_path / "samples", 10)  # another step: the file starts afresh
    other_step.load()
    assert other_step.window("VIP1", "hour", 6000)[2][-1] is None
    (tmp_path / "samples" / "VIP1.ring").write_bytes(b"LBSR damaged")
    damaged = Store(tmp_path / "samples", 30)
    damaged.load()
    assert damaged.window("VIP1", "hour", 6000)[2][-1] is None
    damaged.keep_only({"VIP1"})
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["VIP1.ring"]


def test_the_store_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(sample_store, "MAX_SERIES", 3)
    store = Store(tmp_path, 30)
    store.record(60, {f"S{i}": (1.0,) * 4 for i in range(10)})
    assert len(store.series) == 3


HAPROXY_STATS = {
    ("WEB_servers", "BACKEND"): {"scur": "3", "stot": "120", "req_tot": "340", "bin": "1000", "bout": "9000"},
    ("WEB_servers", "RS1"): {"scur": "2", "stot": "80", "req_tot": "200", "bin": "600", "bout": "6000"},
    ("WEB_servers", "RS2"): {"scur": "1", "stot": "40", "req_tot": "", "bin": "400", "bout": "3000"},
}
IPVS_TABLE = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.21:80 wlc
  -> 192.168.2.50:80              Masq    1      4          7
"""
IPVS_STATS = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.0.0.21:80                      500     4000     3500   300000  5000000
  -> 192.168.2.50:80                   500     4000     3500   300000  5000000
"""


def config() -> model.ApplianceConfig:
    web = model.VirtualService(name="WEB", address="10.0.0.40", port=80, layer=7, forwarding="snat", scheduler="roundrobin",
                               real_servers=[model.RealServer(name="RS1", address="192.168.2.61", port=80),
                                             model.RealServer(name="RS2", address="192.168.2.62", port=80)])  # fmt: skip
    vip = model.VirtualService(name="VIP1", address="10.0.0.21", port=80,
                               real_servers=[model.RealServer(name="RIP1", address="192.168.2.50", port=80)])  # fmt: skip
    return model.ApplianceConfig(
        hostname="lb", topology="two-arm",
        interfaces={"eth0": model.Interface("10.0.0.21/24", "external"), "eth1": model.Interface("192.168.2.21/24", "internal")},
        gateway="10.0.0.31", nameservers=["10.0.0.31"], virtual_services=[vip, web],
    )  # fmt: skip


def test_the_engines_counters_per_service_and_server():
    found = counters.from_haproxy(config(), HAPROXY_STATS)
    assert found["WEB"] == counters.Counters(3, 120, 340, 10000)
    assert found["WEB/RS2"] == counters.Counters(1, 40, None, 3400)
    layer4 = counters.from_ipvs(config(), parse_ipvsadm(IPVS_TABLE), counters.parse_ipvs_stats(IPVS_STATS))
    assert layer4["VIP1"] == counters.Counters(11, 500, None, 5300000)
    assert layer4["VIP1/RIP1"] == counters.Counters(11, 500, None, 5300000)


class Engines:
    """A unit's engines whose counters move between two readings (HAProxy restarted between the second and third)."""

    def __init__(self):
        self.readings = [HAPROXY_STATS, _scaled(HAPROXY_STATS, 2), _scaled(HAPROXY_STATS, 0.5)]

    def haproxy_stats(self):
        return self.readings.pop(0)

    def ipvs_services(self):
        raise NotAsked("no IPVS here")

    def ipvs_stats(self):
        raise NotAsked("no IPVS here")


def _scaled(stats, factor):
    return {k: {f: str(int(int(v) * factor)) if v.isdigit() else v for f, v in row.items()} for k, row in stats.items()}


def test_the_sampler_turns_counters_into_rates(tmp_path, monkeypatch):
    sampler = Sampler(model_paths(tmp_path), Engines(), step=10)
    monkeypatch.setattr("lbwizard.api.sampler.files.load_config", lambda paths: config())
    sampler.sample(1000.0)
    sampler.sample(1010.0)
    sampler.sample(1020.0)
    _, _, values = sampler.store.window("WEB", "hour", 1020)
    first, second, third = values[-3:]
    assert first[0] == 3 and all(math.isnan(v) for v in first[1:])  # no rate before two readings
    assert second == (6.0, 12.0, 34.0, 1000.0)  # (240-120)/10, (680-340)/10, (20000-10000)/10
    assert third[1] == 6.0  # stot went back to 60: counted from 0 (the engine restarted)
    assert sampler.store.window("VIP1", "hour", 1020) is None  # layer 4 not readable here: no series


def model_paths(tmp_path):
    from lbwizard.config.paths import Paths

    return Paths(tmp_path)

"""Cron schedules: each tick starts one execution across hosts, catch-up, overlap, time zones.

Time is injected: tests give the ticker its "now" and never sleep. Several
"hosts" are several tickers, each with its own engine on the one store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from support.waiting import until

from wfhost import Host, InvalidRequest
from wfhost.engine.catalog import Catalog
from wfhost.engine.cron import Catchup, CronSpec, due_ticks
from wfhost.engine.schedules import Schedules, Ticker, execution_id_for
from wfhost.store import migrate, open_engine
from wfhost.store._db import E
from wfpkg import Context, Workflow

TENANT = "acme"
T0 = datetime(2030, 1, 7, 9, 0, 30, tzinfo=timezone.utc).timestamp()  # 30 s past a minute
MINUTE = 60.0


def _workflow(name: str = "tick") -> Workflow:
    wf = Workflow(name)

    @wf.task
    def run(ctx: Context) -> None:
        ctx["ran"] = True

    return wf


def _catalog(*workflows: Workflow) -> Catalog:
    catalog = Catalog()
    for wf in workflows or (_workflow(),):
        catalog.add_local(wf, TENANT)
    return catalog


@pytest.fixture
def engines(db_url: str) -> Iterator[list[Engine]]:
    """Three engines on one store: three hosts' connections."""
    made = [open_engine(db_url) for _ in range(3)]
    migrate(made[0])
    yield made
    for engine in made:
        engine.dispose()


def _ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r.id for r in conn.execute(select(E.c.id).where(E.c.tenant == TENANT)))


def test_three_hosts_and_ten_ticks_start_exactly_ten_executions(engines: list[Engine]) -> None:
    catalog = _catalog()
    Schedules(engines[0], catalog).add(TENANT, "every_minute", "local::tick", "* * * * *", at=T0)
    tickers = [Ticker(engine, _catalog(), on_started=lambda: None) for engine in engines]
    ticks = [T0 + 30 + i * MINUTE for i in range(10)]  # 09:01:00, 09:02:00, ...
    for tick in ticks:
        barrier = threading.Barrier(len(tickers))

        def fire(ticker: Ticker, at: float = tick, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            ticker.run_once(at + 0.5)

        threads = [threading.Thread(target=fire, args=(t,)) for t in tickers]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert _ids(engines[0]) == sorted(execution_id_for("every_minute", t) for t in ticks)
    runs = Schedules(engines[1], catalog).get(TENANT, "every_minute").runs
    assert [r.outcome for r in runs] == ["started"] * 10
    assert [r.tick_at for r in reversed(runs)] == ticks


@pytest.mark.parametrize(("policy", "expected"), [
    ("skip", []), ("one", [3]), ("all", [1, 2, 3]),
])
def test_ticks_missed_while_no_host_ran_follow_the_catch_up_policy(
        engines: list[Engine], policy: str, expected: list[int]) -> None:
    catalog = _catalog()
    Schedules(engines[0], catalog).add(TENANT, "nightly", "local::tick", "* * * * *",
                                       catchup=policy, at=T0)
    ticker = Ticker(engines[1], catalog, on_started=lambda: None)
    tick = [T0 + 30 + i * MINUTE for i in range(6)]  # tick[0] fires; 1..3 fall in the downtime
    ticker.run_once(tick[0] + 1)
    ticker.run_once(tick[4] + 1)  # the host is back just after tick 4
    want = [tick[0]] + [tick[i] for i in expected] + [tick[4]]
    assert _ids(engines[0]) == sorted(execution_id_for("nightly", t) for t in want)
    ticker.run_once(tick[5] + 1)  # and ticks regularly again
    assert execution_id_for("nightly", tick[5]) in _ids(engines[0])


def test_overlap_skip_starts_no_tick_while_the_previous_run_still_runs(
        tmp_path: Path, db_url: str) -> None:
    with Host(home=tmp_path / "home", database_url=db_url, tenant=TENANT) as host:
        host.add_workflow(_workflow())
        schedules = Schedules(host.engine, host.catalog)
        schedules.add(TENANT, "hourly", "local::tick", "0 * * * *", overlap="skip", at=T0)
        t1, t2, t3 = (T0 - 30 + h * 3600 for h in (1, 2, 3))
        # The injected clock is in 2030: the first run stays pending (not before its
        # start time), which is "still running" for the overlap rule.
        host.ticker.run_once(t1)
        first = execution_id_for("hourly", t1)
        assert host.client.status(first)["status"] == "pending"
        host.ticker.run_once(t2)
        host.client.cancel(first, reason="make room")
        assert host.wait(first, timeout=30)["status"] == "cancelled"
        host.ticker.run_once(t3)
        runs = schedules.get(TENANT, "hourly").runs
        assert [(r.outcome, r.execution_id) for r in reversed(runs)] == [
            ("started", first), ("skipped", None), ("started", execution_id_for("hourly", t3))]
        assert runs[1].detail == "the previous run is still running"


def test_a_daylight_saving_change_in_berlin_gives_the_ticks_cron_defines(engines: list[Engine]) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    catalog = _catalog()
    start = datetime(2026, 3, 27, 12, 0, tzinfo=berlin).timestamp()
    Schedules(engines[0], catalog).add(TENANT, "night", "local::tick", "30 2 * * *",
                                       timezone="Europe/Berlin", at=start)
    ticker = Ticker(engines[0], catalog, on_started=lambda: None)
    spring = [datetime(2026, 3, 28, 2, 30, tzinfo=berlin),   # CET, +01:00
              datetime(2026, 3, 29, 3, 0, tzinfo=berlin),    # 02:30 does not exist: runs at 03:00 CEST
              datetime(2026, 3, 30, 2, 30, tzinfo=berlin)]   # CEST, +02:00
    for tick in spring:
        ticker.run_once(tick.timestamp() + 1)
    assert _ids(engines[0]) == sorted(execution_id_for("night", t.timestamp()) for t in spring)
    assert [t.astimezone(timezone.utc).strftime("%H:%M") for t in spring] == ["01:30", "01:00", "00:30"]
    # Autumn: 02:30 happens twice on 25 October; cron runs it once.
    spec = CronSpec.parse("30 2 * * *", "Europe/Berlin")
    after = datetime(2026, 10, 24, 12, 0, tzinfo=berlin).timestamp()
    ticks = [spec.next_after(after)]
    ticks.append(spec.next_after(ticks[-1]))
    assert [datetime.fromtimestamp(t, timezone.utc).strftime("%m-%d %H:%M") for t in ticks] == [
        "10-25 00:30", "10-26 01:30"]


def test_after_a_year_down_catch_up_one_fires_the_latest_missed_tick_and_the_one_on_time() -> None:
    spec = CronSpec.parse("* * * * *", "UTC")
    back = T0 + 365 * 24 * 3600.0  # 30 s past a minute, a year later
    fired, following = due_ticks(spec, T0 + 30, back, Catchup.ONE)
    assert fired == [back - 90, back - 30]  # missed (older than the 60 s grace), then on time
    assert following == back + 30


@pytest.mark.parametrize(("cron", "tz", "message"), [
    ("61 * * * *", "UTC", "bad cron expression '61 * * * *': Bad minute"),
    ("* * * *", "UTC", "bad cron expression '* * * *': Wrong number of fields"),
    ("* * * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
])
def test_a_bad_expression_or_zone_is_refused_and_adds_nothing(
        engines: list[Engine], cron: str, tz: str, message: str) -> None:
    schedules = Schedules(engines[0], _catalog())
    with pytest.raises(InvalidRequest, match=message.replace("*", r"\*").replace("(", r"\(")):
        schedules.add(TENANT, "bad", "local::tick", cron, timezone=tz, at=T0)
    assert schedules.for_tenant(TENANT) == []


def test_a_running_host_fires_a_schedule_on_its_own(tmp_path: Path) -> None:
    with Host(home=tmp_path / "home", tenant=TENANT) as host:
        host.add_workflow(_workflow())
        host.client.add_schedule("often", "local::tick", "* * * * * *")  # every second
        runs = until(lambda: [r for r in host.client.get_schedule("often").runs
                              if r.outcome == "started"], "a tick to start an execution")
        host.client.pause_schedule("often")
        assert runs[0].execution_id is not None
        assert host.wait(runs[0].execution_id, timeout=30)["output"] == {"ran": True}

"""Cron arithmetic for schedules: which ticks are due, by a maintained cron library.

Expressions are parsed and iterated by `cronsim` (Debian cron semantics,
including its daylight-saving rules: a tick in a skipped hour runs right
after the change, a tick in a repeated hour runs once); this module only
adds time zones and the catch-up policy. Nothing here touches the store.

Example::

    spec = CronSpec.parse("30 2 * * *", "Europe/Berlin")
    first = spec.next_after(time.time())
    fire = due_ticks(spec, first, now=time.time(), catchup=Catchup.ONE)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from wfhost.errors import InvalidRequest

__all__ = ["GRACE_SECONDS", "MAX_CATCHUP", "Catchup", "CronSpec", "Overlap", "due_ticks"]

GRACE_SECONDS: Final = 60.0
"""A tick up to this late is on time and always fires; older ones are *missed*."""
MAX_CATCHUP: Final = 1000
"""``catchup all`` fires at most this many missed ticks (the most recent ones)."""


class Catchup(str, Enum):
    """What to do with ticks missed while no host was running."""

    SKIP = "skip"  #: fire none of them
    ONE = "one"  #: fire the most recent one
    ALL = "all"  #: fire every one (up to `MAX_CATCHUP`)


class Overlap(str, Enum):
    """What to do when a tick falls due while the schedule's previous run still runs."""

    ALLOW = "allow"  #: start it anyway
    SKIP = "skip"  #: do not start it (recorded as skipped)


@dataclass(frozen=True)
class CronSpec:
    """A validated cron expression in a time zone."""

    expr: str
    timezone: str

    @classmethod
    def parse(cls, expr: str, tz: str = "UTC") -> CronSpec:
        """Validate ``expr`` (5 fields, or 6 with seconds first) and the IANA zone ``tz``.

        Raises:
            InvalidRequest: one line naming the bad field or zone.
        """
        expr = " ".join(str(expr).split())
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidRequest(
                f"unknown time zone {tz!r}: use an IANA name such as UTC or Europe/Berlin") from None
        try:
            CronSim(expr, datetime.now(zone))
        except CronSimError as exc:
            raise InvalidRequest(f"bad cron expression {expr!r}: {exc}") from None
        return cls(expr, tz)

    def ticks_after(self, ts: float) -> Iterator[float]:
        """Tick times (UNIX seconds) strictly after ``ts``, in order, forever."""
        zone = ZoneInfo(self.timezone)
        start = datetime.fromtimestamp(ts, timezone.utc).astimezone(zone)
        for tick in CronSim(self.expr, start):
            at = tick.timestamp()
            # cronsim works on local wall time; in a repeated hour that can step back.
            if at > ts:
                yield at

    def next_after(self, ts: float) -> float:
        """The first tick strictly after ``ts``."""
        return next(self.ticks_after(ts))

    def last_at_or_before(self, ts: float) -> float | None:
        """The last tick at or before ``ts`` (``None`` if the expression never matched)."""
        zone = ZoneInfo(self.timezone)
        start = datetime.fromtimestamp(ts, timezone.utc).astimezone(zone)
        for tick in CronSim(self.expr, start, reverse=True):
            if tick.timestamp() <= ts:
                return tick.timestamp()
        return None


def due_ticks(spec: CronSpec, next_tick: float, now: float, catchup: Catchup,
              grace: float = GRACE_SECONDS) -> tuple[list[float], float]:
    """The ticks to fire now, and the schedule's next tick after ``now``.

    Ticks from ``next_tick`` up to ``now`` are due. Those at most ``grace``
    seconds old are on time and always fire; older ones were missed (no host
    ran) and follow ``catchup``. The work is bounded by the ticks fired, not
    by the length of the downtime (except for ``all``, which walks it once).
    """
    if next_tick > now:
        return [], next_tick
    cutoff = now - grace
    missed: list[float] = []
    if next_tick < cutoff and catchup is not Catchup.SKIP:
        if catchup is Catchup.ONE:
            last = spec.last_at_or_before(cutoff)
            missed = [last] if last is not None and last >= next_tick else []
        else:
            missed = [next_tick]
            for at in spec.ticks_after(next_tick):
                if at >= cutoff:
                    break
                missed.append(at)
                if len(missed) > MAX_CATCHUP:
                    missed.pop(0)
    on_time: list[float] = [next_tick] if next_tick >= cutoff else []
    ticks = spec.ticks_after(max(next_tick, cutoff - 1e-6) if on_time else cutoff - 1e-6)
    for at in ticks:
        if at > now:
            return missed + [t for t in on_time if t not in missed], at
        if at >= cutoff and at not in on_time:
            on_time.append(at)
    raise AssertionError("unreachable: cron ticks are endless")

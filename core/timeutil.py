"""Conversions between stored UTC instants and solver seconds since the hub's local midnight.

Solver seconds count elapsed time from local midnight, so a daylight-saving day simply has
82,800 or 90,000 of them; these two functions are the only bridge between the two worlds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=512)
def local_midnight_utc(day: date, tz: str) -> datetime:
    """The UTC instant of local midnight that starts `day` in `tz`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def at_seconds(day: date, tz: str, seconds: int | float) -> datetime:
    """The UTC instant `seconds` after local midnight of `day`."""
    return local_midnight_utc(day, tz) + timedelta(seconds=float(seconds))


def seconds_since_midnight(instant: datetime, day: date, tz: str) -> int:
    """Whole seconds from local midnight of `day` to `instant` (aware); may be negative."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: expected a timezone-aware instant")
    return int((instant - local_midnight_utc(day, tz)).total_seconds())


def local_today(tz: str, now: datetime | None = None) -> date:
    """Today's date at the hub (`now` defaults to the wall clock)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(tz)).date()


def hhmm(seconds: int | float) -> str:
    """Seconds since local midnight as HH:MM (past 24:00 for a route that runs over midnight)."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


def local_hhmm(instant: datetime, tz: str) -> str:
    """An instant as HH:MM on the clock of `tz`."""
    return instant.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def time_of_day_s(clock: time | datetime) -> int:
    """Seconds since midnight on the wall clock of `clock` (a shift start, a local instant).

    Seconds count, so 08:00:30 is 28,830; this reads the clock face and knows nothing of
    daylight saving (use `seconds_since_midnight` for the elapsed time of an instant).
    """
    return clock.hour * 3600 + clock.minute * 60 + clock.second

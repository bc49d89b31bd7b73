"""The KPI services pages and the CLI call: load the viewer's facts once, slice, return frames."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from core.access import Viewer
from core.errors import ControlTowerError
from core.kpi.compute import aggregate, reasons
from core.kpi.definitions import FAILED_DELIVERY_COST_CENTS, GROUPINGS, KPIS
from core.kpi.facts import KpiFacts, load_facts

DEFAULT_PERIOD_DAYS = 14


class KpiQueryError(ControlTowerError):
    """A KPI request that cannot be answered as asked (unknown grouping, reversed period)."""


def default_period(today: date, days: int = DEFAULT_PERIOD_DAYS) -> tuple[date, date]:
    """The `days` whole days before `today` (today is still running, so it is left out)."""
    return today - timedelta(days=days), today - timedelta(days=1)


def _check(by: str | None, where: Mapping[str, str] | None, start: date, end: date) -> None:
    if by is not None and by not in GROUPINGS:
        raise KpiQueryError(f"cannot group KPIs by {by!r}: choose one of {', '.join(GROUPINGS)}")
    for key in where or {}:
        if key not in GROUPINGS:
            raise KpiQueryError(f"cannot filter KPIs on {key!r}: choose from {', '.join(GROUPINGS)}")
    if end < start:
        raise KpiQueryError(f"the period ends ({end}) before it starts ({start})")


def facts_for(
    session: Session, viewer: Viewer, start: date, end: date, where: Mapping[str, str] | None = None
) -> KpiFacts:
    """The viewer's facts for the period, narrowed to rows matching every `where` item
    (e.g. {"vendor": "HUD"} to drill down to the drivers behind a vendor's number)."""
    _check(None, where, start, end)
    facts = load_facts(session, viewer, start, end)
    work, exceptions = facts.work, facts.exceptions
    for key, value in (where or {}).items():
        work = work[work[key] == str(value)]
        exceptions = exceptions[exceptions[key] == str(value)] if not exceptions.empty else exceptions
    return KpiFacts(work, exceptions)


def kpis(
    session: Session,
    viewer: Viewer,
    by: str,
    start: date,
    end: date,
    *,
    where: Mapping[str, str] | None = None,
    total: bool = True,
    failed_delivery_cost_cents: int = FAILED_DELIVERY_COST_CENTS,
) -> pd.DataFrame:
    """KPIs of service days `start`..`end` (inclusive): one row per `by` group (a grouping of
    `GROUPINGS`), one column per KPI of `KPIS`, and a last "total" row. Raises KpiQueryError."""
    _check(by, where, start, end)
    facts = facts_for(session, viewer, start, end, where)
    return aggregate(facts.work, [by], total=total, failed_delivery_cost_cents=failed_delivery_cost_cents)


def daily_kpis(
    session: Session,
    viewer: Viewer,
    start: date,
    end: date,
    *,
    by: str | None = None,
    where: Mapping[str, str] | None = None,
    failed_delivery_cost_cents: int = FAILED_DELIVERY_COST_CENTS,
) -> pd.DataFrame:
    """KPIs per day (and per `by` group within a day) for trend charts; no total row."""
    _check(by, where, start, end)
    facts = facts_for(session, viewer, start, end, where)
    keys = ["day"] if by is None or by == "day" else ["day", by]
    return aggregate(facts.work, keys, total=False, failed_delivery_cost_cents=failed_delivery_cost_cents)


def exceptions_by_reason(
    session: Session,
    viewer: Viewer,
    by: str,
    start: date,
    end: date,
    *,
    where: Mapping[str, str] | None = None,
    total: bool = True,
) -> pd.DataFrame:
    """Driver-reported exceptions per `by` group and reason code, long format."""
    _check(by, where, start, end)
    return reasons(facts_for(session, viewer, start, end, where).exceptions, [by], total=total)


def in_dollars(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy for people: every `*_cents` KPI column as dollars, named without `_cents`
    (`failed_cost`, `cost_per_delivered`, ...). Stored values stay in cents."""
    renamed = {}
    out = frame.copy()
    for column in frame.columns:
        if column.endswith("_cents") and column in KPIS:
            out[column] = frame[column].astype("Float64") / 100
            renamed[column] = column.removesuffix("_cents")
    return out.rename(columns=renamed)

"""The demo scenario: a realistic metro day plus its history, deterministic from one seed.

`seed_scenario` writes everything inside the caller's transaction (it never commits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.orm import Session

from core.bulk import bulk_insert
from core.errors import ScenarioError
from core.models import (
    Base,
    ComplianceDocument,
    Driver,
    Event,
    Fleet,
    Hub,
    Order,
    Plan,
    Region,
    Route,
    Stop,
    User,
    Vehicle,
    Vendor,
)
from core.passwords import hash_password
from core.scenario.city import FLEETS, load_city, load_regions
from core.scenario.day import DayRows, DriverContext, Ids, open_day, past_day
from core.scenario.fleet import FleetRows, generate_fleet
from core.scenario.orders import sample_orders
from core.scenario.users import DEMO_USERS
from core.timeutil import at_seconds, local_today

KNOWN_ZONES_PER_DRIVER = 3
SLIPPING_FLEET = "HUD"
SLIP_DAYS = 7
SLIP_FACTOR = 1.8


@dataclass(frozen=True)
class ScenarioParams:
    """How big a demo to make. `today` defaults to the hub's local date."""

    seed: int = 7
    orders: int = 2000
    drivers: int = 150
    days: int = 14
    today: date | None = None

    def __post_init__(self) -> None:
        if self.orders < 1 or self.drivers < 1 or self.days < 0:
            raise ValueError("orders and drivers must be at least 1 and days at least 0")


@dataclass(frozen=True)
class ScenarioSummary:
    today: date
    hubs: int
    drivers: int
    orders_today: int
    history_orders: int
    events: int
    users: tuple[tuple[str, str, str], ...]  # username, password, role


def _insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    bulk_insert(session, model.__table__, rows)  # type: ignore[arg-type]


def _reset_sequences(session: Session, tables: Iterable[Table]) -> None:
    """Explicit ids leave PostgreSQL's identity sequences behind; move them past the max id."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))


def clear_all(session: Session) -> None:
    """Delete every row of every table, children first (used by `ctower seed --reset`)."""
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))


def _driver_contexts(fleet_rows: FleetRows, rng: np.random.Generator, zones_per_hub: list[int]
                     ) -> list[DriverContext]:
    fleet_by_id = {i + 1: spec for i, spec in enumerate(FLEETS)}
    offsets = np.concatenate([[0], np.cumsum(zones_per_hub)[:-1]])
    contexts = []
    for row in fleet_rows.drivers:
        hub_index = row["home_hub_id"] - 1
        local = rng.choice(zones_per_hub[hub_index], size=KNOWN_ZONES_PER_DRIVER, replace=False)
        contexts.append(DriverContext(
            row=row, fleet=fleet_by_id[row["fleet_id"]], hub_index=hub_index,
            known_zones=frozenset(int(offsets[hub_index] + z) for z in local),
            shift_start_s=row["shift_start"].hour * 3600,
            shift_end_s=row["shift_end"].hour * 3600,
        ))
    return contexts


@dataclass(frozen=True)
class ScenarioRows:
    """Every generated row, keyed by table, in insert order; users are added when written."""

    today: date
    fleet: FleetRows
    days: tuple[DayRows, ...]

    def tables(self) -> list[tuple[type[Base], list[dict[str, Any]]]]:
        f = self.fleet
        return [(Region, f.regions), (Hub, f.hubs), (Vendor, f.vendors), (Fleet, f.fleets),
                (Vehicle, f.vehicles), (Driver, f.drivers), (ComplianceDocument, f.documents)] + [
            (model, [row for d in self.days for row in getattr(d, attr)])
            for attr, model in (("orders", Order), ("plans", Plan), ("routes", Route),
                                ("stops", Stop), ("events", Event))]


def build_scenario(params: ScenarioParams = ScenarioParams()) -> ScenarioRows:
    """Generate the scenario's rows without touching a database (pure, from `params.seed`)."""
    city, regions = load_city(), load_regions()
    today = params.today or local_today(city.timezone)
    rng = np.random.default_rng(params.seed)
    fleet = generate_fleet(city, regions, params.drivers, today, rng)
    contexts = _driver_contexts(fleet, rng, [len(h.zones) for h in city.hubs])
    hub_ids = [h["id"] for h in fleet.hubs]
    ids = Ids()
    days: list[DayRows] = []
    for back in range(params.days, 0, -1):
        day = today - timedelta(days=back)
        batch = sample_orders(city, params.orders, rng, day)
        slip = {SLIPPING_FLEET: SLIP_FACTOR} if back <= SLIP_DAYS else {}
        created = at_seconds(day - timedelta(days=1), city.timezone, 20 * 3600)
        days.append(past_day(batch, day, city, hub_ids, contexts, ids, rng, slip, created))
    created = at_seconds(today - timedelta(days=1), city.timezone, 20 * 3600)
    days.append(open_day(sample_orders(city, params.orders, rng, today), today, city, hub_ids,
                         ids, created))
    return ScenarioRows(today, fleet, tuple(days))


def seed_scenario(session: Session, params: ScenarioParams = ScenarioParams(),
                  progress: Callable[[str], None] | None = None) -> ScenarioSummary:
    """Write the demo metro into an empty database; raises `ScenarioError` if it is not empty."""
    if session.scalar(select(func.count()).select_from(Hub)):
        raise ScenarioError("the database already holds data: run `ctower seed --reset` to replace it")
    say = progress or (lambda _msg: None)
    rows = build_scenario(params)
    say(f"generated {params.days} past days and today")
    for model, table_rows in rows.tables():
        _insert(session, model, table_rows)
        say(f"wrote {len(table_rows)} {model.__tablename__}")
    users = _demo_users(session, rows.fleet)
    _reset_sequences(session, Base.metadata.sorted_tables)
    session.flush()
    return ScenarioSummary(
        today=rows.today, hubs=len(rows.fleet.hubs), drivers=len(rows.fleet.drivers),
        orders_today=len(rows.days[-1].orders),
        history_orders=sum(len(d.orders) for d in rows.days[:-1]),
        events=sum(len(d.events) for d in rows.days), users=users,
    )


def _demo_users(session: Session, fleet: FleetRows) -> tuple[tuple[str, str, str], ...]:
    vendor_id = {v["code"]: v["id"] for v in fleet.vendors}
    driver_id = {d["code"]: d["id"] for d in fleet.drivers}
    users = [u for u in DEMO_USERS if not u.driver_code or u.driver_code in driver_id]
    with ThreadPoolExecutor() as pool:  # argon2 releases the GIL: hash on every core
        hashes = list(pool.map(hash_password, [u.password for u in users]))
    rows = []
    for i, (u, password_hash) in enumerate(zip(users, hashes, strict=True)):
        rows.append({
            "id": i + 1, "username": u.username, "display_name": u.display_name,
            "password_hash": password_hash, "role": u.role,
            "vendor_id": vendor_id.get(u.vendor_code) if u.vendor_code else None,
            "driver_id": driver_id.get(u.driver_code) if u.driver_code else None,
            "active": True,
        })
    _insert(session, User, rows)
    return tuple((u.username, u.password, u.role.value) for u in users)


__all__ = ["ScenarioParams", "ScenarioRows", "ScenarioSummary", "build_scenario", "clear_all",
           "seed_scenario"]

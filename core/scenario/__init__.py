"""The demo scenario: a realistic metro day plus its history, deterministic from one seed.

`seed_scenario` writes everything inside the caller's transaction (it never commits).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.orm import Session

from core.bulk import Row, bulk_insert
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
from core.timeutil import at_seconds, local_today, time_of_day_s

KNOWN_ZONES_PER_DRIVER = 3
SLIPPING_FLEET = "HUD"
SLIP_DAYS = 7
SLIP_FACTOR = 1.8
PARALLEL_FROM_ORDERS = 60_000  # below this, worker start-up costs more than it saves


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


def _insert(session: Session, model: type[Base], rows: list[Row]) -> None:
    bulk_insert(session, model.__table__, rows)  # type: ignore[arg-type]


def _reset_sequences(session: Session, tables: Iterable[Table]) -> None:
    """Explicit ids leave PostgreSQL's identity sequences behind; move them past the max id."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )


def clear_all(session: Session) -> None:
    """Delete every row of every table, children first (used by `ctower seed --reset`)."""
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))


def _driver_contexts(
    fleet_rows: FleetRows, rng: np.random.Generator, zones_per_hub: list[int]
) -> list[DriverContext]:
    fleet_by_id = {i + 1: spec for i, spec in enumerate(FLEETS)}
    offsets = np.concatenate([[0], np.cumsum(zones_per_hub)[:-1]])
    contexts = []
    for row in fleet_rows.drivers:
        hub_index = row["home_hub_id"] - 1
        local = rng.choice(zones_per_hub[hub_index], size=KNOWN_ZONES_PER_DRIVER, replace=False)
        contexts.append(
            DriverContext(
                row=row,
                fleet=fleet_by_id[row["fleet_id"]],
                hub_index=hub_index,
                known_zones=frozenset(int(offsets[hub_index] + z) for z in local),
                shift_start_s=time_of_day_s(row["shift_start"]),
                shift_end_s=time_of_day_s(row["shift_end"]),
            )
        )
    return contexts


@dataclass(frozen=True)
class _Plan:
    """Everything a day needs besides its index; built once, shipped to worker processes."""

    params: ScenarioParams
    today: date
    fleet: FleetRows
    contexts: tuple[DriverContext, ...]

    def day(self, index: int) -> DayRows:
        """Day `index` (0 = oldest past day, `params.days` = today), from its own seed."""
        city = load_city()
        rng = np.random.default_rng(np.random.SeedSequence([self.params.seed, index + 1]))
        back = self.params.days - index
        day = self.today - timedelta(days=back)
        hub_ids = [h["id"] for h in self.fleet.hubs]
        ids = Ids(index, self.params.orders, len(self.fleet.drivers), len(hub_ids))
        batch = sample_orders(city, self.params.orders, rng, day)
        created = at_seconds(day - timedelta(days=1), city.timezone, 20 * 3600)
        if back == 0:
            return open_day(batch, day, city, hub_ids, ids, created)
        slip = {SLIPPING_FLEET: SLIP_FACTOR} if back <= SLIP_DAYS else {}
        return past_day(batch, day, city, hub_ids, list(self.contexts), ids, rng, slip, created)


def _plan(params: ScenarioParams) -> _Plan:
    city, regions = load_city(), load_regions()
    today = params.today or local_today(city.timezone)
    rng = np.random.default_rng(params.seed)
    fleet = generate_fleet(city, regions, params.drivers, today, rng)
    contexts = _driver_contexts(fleet, rng, [len(h.zones) for h in city.hubs])
    return _Plan(params, today, fleet, tuple(contexts))


def _fleet_tables(fleet: FleetRows) -> list[tuple[type[Base], list[Row]]]:
    return [
        (Region, fleet.regions),
        (Hub, fleet.hubs),
        (Vendor, fleet.vendors),
        (Fleet, fleet.fleets),
        (Vehicle, fleet.vehicles),
        (Driver, fleet.drivers),
        (ComplianceDocument, fleet.documents),
    ]


def _day_tables(day: DayRows) -> list[tuple[type[Base], list[Row]]]:
    return [
        (Order, day.orders),
        (Plan, day.plans),
        (Route, day.routes),
        (Stop, day.stops),
        (Event, day.events),
    ]


@dataclass(frozen=True)
class ScenarioRows:
    """Every generated row, in insert order; users are added when written."""

    today: date
    fleet: FleetRows
    days: tuple[DayRows, ...]

    def tables(self) -> list[tuple[type[Base], list[Row]]]:
        return _fleet_tables(self.fleet) + [t for d in self.days for t in _day_tables(d)]


def build_scenario(params: ScenarioParams = ScenarioParams()) -> ScenarioRows:
    """Generate the scenario's rows without touching a database (pure, from `params.seed`)."""
    plan = _plan(params)
    return ScenarioRows(plan.today, plan.fleet, tuple(plan.day(i) for i in range(params.days + 1)))


_WORKER_PLAN: _Plan | None = None


def _init_worker(plan: _Plan) -> None:
    global _WORKER_PLAN
    _WORKER_PLAN = plan


def _worker_day(index: int) -> DayRows:
    assert _WORKER_PLAN is not None
    return _WORKER_PLAN.day(index)


def _days(plan: _Plan) -> Iterator[DayRows]:
    """Days in order; large scenarios generate them in worker processes while we insert."""
    indices = range(plan.params.days + 1)
    if plan.params.orders * len(indices) < PARALLEL_FROM_ORDERS:
        yield from (plan.day(i) for i in indices)
        return
    workers = max(1, min(2, (os.cpu_count() or 1)))
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(plan,)) as pool:
        yield from pool.map(_worker_day, indices)


def seed_scenario(
    session: Session, params: ScenarioParams = ScenarioParams(), progress: Callable[[str], None] | None = None
) -> ScenarioSummary:
    """Write the demo metro into an empty database; raises `ScenarioError` if it is not empty.

    The same rows as `build_scenario(params)`, written day by day.
    """
    if session.scalar(select(func.count()).select_from(Hub)):
        raise ScenarioError("the database already holds data: run `ctower seed --reset` to replace it")
    say = progress or (lambda _msg: None)
    plan = _plan(params)
    for model, table_rows in _fleet_tables(plan.fleet):
        _insert(session, model, table_rows)
    history_orders = events = orders_today = 0
    for index, day in enumerate(_days(plan)):
        for model, table_rows in _day_tables(day):
            _insert(session, model, table_rows)
        events += len(day.events)
        if index < params.days:
            history_orders += len(day.orders)
        else:
            orders_today = len(day.orders)
        say(f"wrote day {index + 1} of {params.days + 1}: {len(day.orders)} orders, {len(day.events)} events")
    users = _demo_users(session, plan.fleet)
    _reset_sequences(session, Base.metadata.sorted_tables)
    session.flush()
    return ScenarioSummary(
        today=plan.today,
        hubs=len(plan.fleet.hubs),
        drivers=len(plan.fleet.drivers),
        orders_today=orders_today,
        history_orders=history_orders,
        events=events,
        users=users,
    )


def _demo_users(session: Session, fleet: FleetRows) -> tuple[tuple[str, str, str], ...]:
    vendor_id = {v["code"]: v["id"] for v in fleet.vendors}
    driver_id = {d["code"]: d["id"] for d in fleet.drivers}
    users = [u for u in DEMO_USERS if not u.driver_code or u.driver_code in driver_id]
    with ThreadPoolExecutor() as pool:  # argon2 releases the GIL: hash on every core
        hashes = list(pool.map(hash_password, [u.password for u in users]))
    rows = []
    for i, (u, password_hash) in enumerate(zip(users, hashes, strict=True)):
        rows.append(
            {
                "id": i + 1,
                "username": u.username,
                "display_name": u.display_name,
                "password_hash": password_hash,
                "role": u.role,
                "vendor_id": vendor_id.get(u.vendor_code) if u.vendor_code else None,
                "driver_id": driver_id.get(u.driver_code) if u.driver_code else None,
                "active": True,
            }
        )
    _insert(session, User, rows)
    for u in users:
        if u.driver_code and u.driver_name:
            session.execute(update(Driver).where(Driver.code == u.driver_code).values(name=u.driver_name))
    return tuple((u.username, u.password, u.role.value) for u in users)


__all__ = [
    "ScenarioParams",
    "ScenarioRows",
    "ScenarioSummary",
    "build_scenario",
    "clear_all",
    "seed_scenario",
]

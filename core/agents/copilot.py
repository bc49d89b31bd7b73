"""The driver co-pilot: the next stop and its ETA, and what to do when nobody is at home.

On "customer not home" it lists the actions this customer allowed (their order preferences,
or a choice made through the tracking link) that the parcel's situation permits, each priced
by expected cost (driver time, plus the chance it still fails times the cost of a failed
delivery) and by its effect on the SLA (minutes it pushes the rest of the route past their
windows, priced like the allocator prices lateness), cheapest first, with a one-line reason.
Actions the customer did not allow are left out, and `excluded` says why.

Rerouting on a disruption lives in `core.agents.copilot_reroute`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import Viewer, visible_driver_ids
from core.agents.customer import ChoiceDetail, Slot, latest_choices, next_slots
from core.allocator.params import DEFAULT_PARAMS, FAILED_DELIVERY_COST_CENTS
from core.errors import AccessDeniedError, ControlTowerError
from core.field import (
    Delivery,
    ExceptionAction,
    ExceptionPayload,
    ExceptionReason,
    ExceptionRecord,
    Failure,
    Handover,
    ProofOfDelivery,
    check_open_stop,
    deliver_many,
    fail_many,
)
from core.geo import haversine_m
from core.kinds import (
    PENDING_STOP_STATES,
    CustomerChoiceKind,
    EventKind,
    ProposalStatus,
    RouteStatus,
    StopStatus,
)
from core.models import Driver, Event, Fleet, Hub, Order, Plan, Route, Stop
from core.plan_change import RouteChange
from core.proposals import changes_of
from core.scenario.city import load_city
from core.timeutil import at_seconds, local_hhmm, local_today

DEFAULT_HOUR_CENTS = 3200  # the captive rate card: what a minute of a driver is worth
SAFE_PLACE_TIME_S, SAFE_PLACE_RISK = 60, 0.02  # photo and go; small risk of a lost parcel
NEIGHBOUR_TIME_S, NEIGHBOUR_RISK = 240, 0.15  # knock next door; they may be out too
LOCKER_SERVICE_S, LOCKER_RISK = 120, 0.03  # plus the drive there and back; a full locker
DECIDE_TIME_S = 30  # note the failure and move on
RETURN_HANDLING_CENTS = 450  # the parcel back through the hub and a customer-service contact
MAX_LOCKER_DISTANCE_M = 1500
LOCKER_SPEED_M_PER_S = 22_000 / 3600
CIRCUITY = 1.3
NO_SAFE_PLACE = frozenset({"age_check", "cold_chain"})
NO_NEIGHBOUR = frozenset({"age_check"})
NO_LOCKER = frozenset({"age_check", "cold_chain", "two_person"})
SKILL_WORDS = {"age_check": "an age check", "cold_chain": "cold chain", "two_person": "two people"}


@dataclass(frozen=True)
class Locker:
    id: str
    name: str
    lat: float
    lon: float


@lru_cache(maxsize=1)
def _lockers() -> dict[str, tuple[Locker, ...]]:
    """One parcel locker per neighbourhood of each demo hub, a little off its centre (data,
    from the scenario's map); hubs outside the demo metro have none."""
    return {
        h.code: tuple(
            Locker(
                f"LCK-{h.code}-{i + 1:02d}",
                f"Parcel locker {z.name}",
                round(z.lat + 0.0012, 6),
                round(z.lon - 0.0015, 6),
            )
            for i, z in enumerate(h.zones)
        )
        for h in load_city().hubs
    }


def nearest_locker(hub_code: str, lat: float, lon: float) -> tuple[Locker, float] | None:
    """The closest locker of the hub's area and its straight-line distance in metres."""
    lockers = _lockers().get(hub_code, ())
    if not lockers:
        return None
    d = haversine_m(lat, lon, [x.lat for x in lockers], [x.lon for x in lockers])
    i = int(np.argmin(d))
    return lockers[i], float(d[i])


@dataclass(frozen=True)
class NotHomeOption:
    """One possible action, priced. `total_cents` ranks: expected cost plus priced lateness."""

    action: ExceptionAction
    expected_cost_cents: int
    sla_cost_cents: int
    success_rate: float
    extra_time_s: int
    on_time: bool  # this order still meets its booked window
    stops_made_late: tuple[str, ...]  # later stops this pushes past their windows
    place: str | None
    reason: str
    slot: Slot | None = None
    customer_asked: bool = False

    @property
    def total_cents(self) -> int:
        return self.expected_cost_cents + self.sla_cost_cents

    @property
    def delivers(self) -> bool:
        return self.action in (ExceptionAction.SAFE_PLACE, ExceptionAction.NEIGHBOUR, ExceptionAction.LOCKER)


@dataclass(frozen=True)
class NotHomeAdvice:
    order_id: int
    order_ref: str
    options: tuple[NotHomeOption, ...]  # best first
    excluded: tuple[tuple[ExceptionAction, str], ...]  # not offered, and why


@dataclass(frozen=True)
class _Later:
    ref: str
    eta_at: datetime
    due_at: datetime


def _house_number(address: str) -> int | None:
    match = re.match(r"\s*(\d+)", address)
    return int(match.group(1)) if match else None


def _minute_cents(fleet: Fleet) -> float:
    hour = fleet.per_hour_cents or DEFAULT_HOUR_CENTS
    return hour / 60.0


def _later_stops(session: Session, route_id: int, after_seq: int, delay: timedelta) -> list[_Later]:
    rows = session.execute(
        select(Order.external_ref, Stop.planned_eta_at, Order.window_end_at)
        .join(Order, Order.id == Stop.order_id)
        .where(Stop.route_id == route_id, Stop.sequence > after_seq, Stop.status == StopStatus.PENDING)
        .order_by(Stop.sequence)
    )
    return [_Later(ref, eta + delay, due) for ref, eta, due in rows]


def _sla(later: list[_Later], extra_s: int) -> tuple[tuple[str, ...], int]:
    """Later stops pushed past their windows by `extra_s`, and the added late minutes' price."""
    extra = timedelta(seconds=extra_s)
    made_late, added_s = [], 0.0
    for s in later:
        before = max(0.0, (s.eta_at - s.due_at).total_seconds())
        after = max(0.0, (s.eta_at + extra - s.due_at).total_seconds())
        added_s += after - before
        if before == 0 and after > 0:
            made_late.append(s.ref)
    return tuple(made_late), int(added_s / 60 * DEFAULT_PARAMS.late_cents_per_min)


def _sla_words(made_late: tuple[str, ...], later: int) -> str:
    if not made_late:
        return f"keeps the {later} later stops on time" if later else "no later stops affected"
    return f"makes {len(made_late)} later stop(s) late ({', '.join(made_late[:3])})"


def not_home_options(session: Session, driver_id: int, order_id: int, now: datetime) -> NotHomeAdvice:
    """The ranked actions for a driver at a door nobody opens; raises if it is not their stop."""
    stop_info = check_open_stop(session, driver_id, order_id, now)
    order = session.get(Order, order_id)
    stop = session.get(Stop, stop_info.stop_id)
    hub = session.scalars(
        select(Hub)
        .join(Plan, Plan.hub_id == Hub.id)
        .join(Route, Route.plan_id == Plan.id)
        .where(Route.id == stop_info.route_id)
    ).one()
    fleet = session.scalars(
        select(Fleet).join(Driver, Driver.fleet_id == Fleet.id).where(Driver.id == driver_id)
    ).one()
    assert order is not None and stop is not None
    delay = max(timedelta(0), now - stop.planned_eta_at)
    later = _later_stops(session, stop_info.route_id, stop.sequence, delay)
    choice = latest_choices(session, [order_id]).get(order_id)
    chose = choice.kind if choice else None
    skills = set(order.required_skills)
    minute = _minute_cents(fleet)
    options: list[NotHomeOption] = []
    excluded: list[tuple[ExceptionAction, str]] = []

    def offer(
        action: ExceptionAction,
        time_s: int,
        risk: float,
        place: str | None,
        why: str,
        handling_cents: int = 0,
        slot: Slot | None = None,
    ) -> None:
        delivers = action in (ExceptionAction.SAFE_PLACE, ExceptionAction.NEIGHBOUR, ExceptionAction.LOCKER)
        made_late, sla_cents = _sla(later, time_s)
        on_time = delivers and now + timedelta(seconds=time_s) <= order.window_end_at
        cost = int(round(time_s / 60 * minute + risk * FAILED_DELIVERY_COST_CENTS + handling_cents))
        asked = chose is not None and chose.value == action.value
        text = f"{why}; {time_s // 60} min, ${cost / 100:.2f} expected; {_sla_words(made_late, len(later))}"
        options.append(
            NotHomeOption(
                action,
                cost,
                sla_cents,
                round(1 - risk, 3),
                time_s,
                on_time,
                made_late,
                place,
                ("customer asked for this: " if asked else "") + text,
                slot,
                asked,
            )
        )

    detail = ChoiceDetail.from_json(choice.detail) if choice else ChoiceDetail()
    place = detail.place if chose is CustomerChoiceKind.SAFE_PLACE else None
    if not (order.safe_place_allowed or chose is CustomerChoiceKind.SAFE_PLACE):
        excluded.append((ExceptionAction.SAFE_PLACE, "the customer did not allow a safe place"))
    elif skills & NO_SAFE_PLACE:
        need = sorted(skills & NO_SAFE_PLACE)[0]
        excluded.append((ExceptionAction.SAFE_PLACE, f"not for a parcel that needs {SKILL_WORDS[need]}"))
    else:
        where = place or order.safe_place_note or "the safe place"
        offer(
            ExceptionAction.SAFE_PLACE,
            SAFE_PLACE_TIME_S,
            SAFE_PLACE_RISK,
            where,
            f"leave it {where} with a photo",
        )

    if not (order.neighbour_allowed or chose is CustomerChoiceKind.NEIGHBOUR):
        excluded.append((ExceptionAction.NEIGHBOUR, "the customer did not allow a neighbour"))
    elif skills & NO_NEIGHBOUR:
        excluded.append((ExceptionAction.NEIGHBOUR, "an age-checked parcel goes to the customer only"))
    else:
        number = _house_number(order.address)
        named = detail.place if chose is CustomerChoiceKind.NEIGHBOUR else None
        where = named or (f"the neighbour at number {number + 2}" if number else "a neighbour")
        offer(ExceptionAction.NEIGHBOUR, NEIGHBOUR_TIME_S, NEIGHBOUR_RISK, where, f"hand it to {where}")

    near = nearest_locker(hub.code, order.lat, order.lon)
    if not order.locker_allowed:
        excluded.append((ExceptionAction.LOCKER, "the customer did not allow a locker"))
    elif skills & NO_LOCKER:
        need = sorted(skills & NO_LOCKER)[0]
        excluded.append(
            (ExceptionAction.LOCKER, f"a parcel that needs {SKILL_WORDS[need]} does not go in a locker")
        )
    elif near is None or near[1] > MAX_LOCKER_DISTANCE_M:
        excluded.append((ExceptionAction.LOCKER, f"no locker within {MAX_LOCKER_DISTANCE_M} m"))
    else:
        locker, dist = near
        drive_s = int(2 * dist * CIRCUITY / LOCKER_SPEED_M_PER_S)
        offer(
            ExceptionAction.LOCKER,
            drive_s + LOCKER_SERVICE_S,
            LOCKER_RISK,
            locker.id,
            f"{locker.name} {int(dist)} m away",
        )

    if chose is CustomerChoiceKind.RESCHEDULE and detail.slot is not None:
        slot = detail.slot
    else:
        slot = next_slots(order.service_date, hub.timezone, 1)[0]
    start, end = (t.astimezone(ZoneInfo(hub.timezone)) for t in (slot.start_at, slot.end_at))
    offer(
        ExceptionAction.RESCHEDULE,
        DECIDE_TIME_S,
        1.0,
        None,
        f"reschedule to {start:%a} {start:%H:%M}-{end:%H:%M}: a second attempt",
        slot=slot,
    )
    offer(
        ExceptionAction.RETURN_TO_DEPOT,
        DECIDE_TIME_S,
        1.0,
        None,
        "take it back to the depot: a failed delivery and a customer contact",
        handling_cents=RETURN_HANDLING_CENTS,
    )
    ranked = sorted(options, key=lambda o: (not o.customer_asked, o.total_cents, o.action.value))
    return NotHomeAdvice(order_id, order.external_ref, tuple(ranked), tuple(excluded))


def not_home_report(
    driver_id: int,
    order_id: int,
    at: datetime,
    option: NotHomeOption,
    lat: float,
    lon: float,
    photo_ref: str | None = None,
    recipient: str | None = None,
) -> Delivery | Failure:
    """The chosen action as a field report: a delivery with the not-home record attached
    (safe place, neighbour, locker) or a failure carrying it (reschedule, return to depot)."""
    record = ExceptionRecord(
        reason=ExceptionReason.NOT_HOME,
        action=option.action,
        lat=lat,
        lon=lon,
        place=option.place,
        recipient=recipient,
        photo_ref=photo_ref,
        reschedule_start_at=option.slot.start_at if option.slot else None,
        reschedule_end_at=option.slot.end_at if option.slot else None,
    )
    if option.delivers:
        return Delivery(
            driver_id,
            order_id,
            at,
            ProofOfDelivery(
                lat=lat,
                lon=lon,
                handover=Handover(option.action.value),
                recipient=recipient,
                place=option.place,
                photo_ref=photo_ref,
                exception=record,
            ),
        )
    return Failure(driver_id, order_id, at, record)


def act_on_not_home(
    session: Session,
    driver_id: int,
    order_id: int,
    at: datetime,
    option: NotHomeOption,
    lat: float,
    lon: float,
    photo_ref: str | None = None,
    recipient: str | None = None,
) -> None:
    """Record the chosen action; raises `FieldReportError` if the stop is not the driver's."""
    report = not_home_report(driver_id, order_id, at, option, lat, lon, photo_ref, recipient)
    if isinstance(report, Delivery):
        deliver_many(session, [report])
    else:
        fail_many(session, [report])


# -- the driver's page -----------------------------------------------------------------------


@dataclass(frozen=True)
class StopView:
    order_id: int
    ref: str
    sequence: int
    status: StopStatus
    address: str
    customer_name: str
    lat: float
    lon: float
    window_start_at: datetime
    window_end_at: datetime
    planned_eta_at: datetime
    eta_at: datetime
    safe_place_allowed: bool
    safe_place_note: str | None
    neighbour_allowed: bool
    locker_allowed: bool
    customer_choice: str | None

    @property
    def late_by_s(self) -> int:
        return max(0, int((self.eta_at - self.window_end_at).total_seconds()))

    @property
    def early_by_s(self) -> int:
        """How long before the window opens the driver would arrive: the time to wait."""
        return max(0, int((self.window_start_at - self.eta_at).total_seconds()))


@dataclass(frozen=True)
class ExceptionView:
    event_id: int
    occurred_at: datetime
    reason: str
    order_id: int | None
    needs_dispatch: bool


@dataclass(frozen=True)
class CopilotView:
    """The driver's screen: where they are, the next stop and its ETA, the rest of the route."""

    driver_id: int
    driver_code: str
    driver_name: str
    now: datetime
    day: date | None
    route_status: RouteStatus | None
    lat: float
    lon: float
    next_stop: StopView | None
    remaining: tuple[StopView, ...]
    route_points: tuple[tuple[float, float], ...]  # (lon, lat): here, the stops, the hub
    open_exceptions: tuple[ExceptionView, ...]
    done: int
    running_late_s: int
    handovers: tuple[str, ...] = ()  # a stranded van's load this driver gives or takes, in words

    @property
    def eta_at(self) -> datetime | None:
        return self.next_stop.eta_at if self.next_stop else None


def copilot_view(session: Session, viewer: Viewer, driver_id: int, now: datetime) -> CopilotView:
    """The co-pilot page for one driver; a driver may only open their own."""
    if session.scalar(visible_driver_ids(viewer).where(Driver.id == driver_id)) is None:
        raise AccessDeniedError(f"{viewer.username} may not see driver {driver_id}'s co-pilot")
    driver = session.get(Driver, driver_id)
    if driver is None:
        raise ControlTowerError(f"there is no driver {driver_id}")
    hub = session.get(Hub, driver.home_hub_id)
    assert hub is not None
    found = session.execute(
        select(Route, Plan.service_date)
        .join(Plan, Route.plan_id == Plan.id)
        .where(Route.driver_id == driver_id, Plan.service_date == local_today(hub.timezone, now))
    ).first()  # today's route only: yesterday's finished route is not "no open stops" today
    route, day = (found[0], found[1]) if found else (None, None)
    since = now - timedelta(days=1)
    last = session.execute(
        select(Event.lat, Event.lon)
        .where(Event.driver_id == driver_id, Event.occurred_at <= now, Event.occurred_at >= since)
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(1)
    ).first()
    lat, lon = (last[0], last[1]) if last else (hub.lat, hub.lon)
    stops: list[StopView] = []
    done = 0
    if route is not None:
        rows = session.execute(
            select(Stop, Order)
            .join(Order, Order.id == Stop.order_id)
            .where(Stop.route_id == route.id)
            .order_by(Stop.sequence)
        ).all()
        done = sum(1 for s, _ in rows if s.status in (StopStatus.DELIVERED, StopStatus.FAILED))
        open_rows = [(s, o) for s, o in rows if s.status in PENDING_STOP_STATES]
        choices = latest_choices(session, [o.id for _, o in open_rows])
        delay = max(timedelta(0), now - open_rows[0][0].planned_eta_at) if open_rows else timedelta(0)
        for s, o in open_rows:
            c = choices.get(o.id)
            stops.append(
                StopView(
                    o.id,
                    o.external_ref,
                    s.sequence,
                    s.status,
                    o.address,
                    o.customer_name,
                    o.lat,
                    o.lon,
                    o.window_start_at,
                    o.window_end_at,
                    s.planned_eta_at,
                    s.planned_eta_at + delay,
                    o.safe_place_allowed,
                    o.safe_place_note,
                    o.neighbour_allowed,
                    o.locker_allowed,
                    c.kind.value if c else None,
                )
            )
    exceptions = (
        session.execute(
            select(Event)
            .where(
                Event.driver_id == driver_id,
                Event.kind == EventKind.EXCEPTION,
                Event.occurred_at >= since,
                Event.occurred_at <= now,
            )
            .order_by(Event.occurred_at)
        )
        .scalars()
        .all()
    )
    payloads = ((e, ExceptionPayload.from_json(e.payload)) for e in exceptions)
    open_ex = tuple(
        ExceptionView(e.id, e.occurred_at, p.reason or "exception", e.order_id, p.needs_dispatch)
        for e, p in payloads
        if not p.resolved
    )
    points = ((lon, lat), *((s.lon, s.lat) for s in stops), (hub.lon, hub.lat)) if stops else ()
    return CopilotView(
        driver_id=driver.id,
        driver_code=driver.code,
        driver_name=driver.name,
        now=now,
        day=day,
        route_status=route.status if route else None,
        lat=lat,
        lon=lon,
        next_stop=stops[0] if stops else None,
        remaining=tuple(stops),
        route_points=points,
        open_exceptions=open_ex,
        done=done,
        running_late_s=max(0, int((now - stops[0].planned_eta_at).total_seconds())) if stops else 0,
        handovers=handover_notices(session, route.plan_id, driver.code, hub.timezone, day)
        if route is not None and day is not None
        else (),
    )


def handover_notices(session: Session, plan_id: int, code: str, tz: str, day: date) -> tuple[str, ...]:
    """What the applied re-plans of the day hand over to or from driver `code`, in words."""
    words = []
    for change in changes_of(session, plan_id, RouteChange, (ProposalStatus.APPLIED,)):
        for h in change.handovers:
            n = len(h.orders)
            parcels = f"{n} order{'s' if n != 1 else ''}"
            at = local_hhmm(at_seconds(day, tz, h.at_s), tz)
            if h.from_driver == code and h.to_driver:
                words.append(
                    f"Your van cannot go on ({h.why}): {h.to_driver} comes to take your {parcels} by {at}."
                )
            elif h.from_driver == code:
                words.append(f"Your van cannot go on ({h.why}): your {parcels} go back to the hub by {at}.")
            elif h.to_driver == code:
                words.append(
                    f"First pick up {parcels} from {h.from_driver}'s van ({h.why}); "
                    f"they are on your route from {at}."
                )
    return tuple(words)

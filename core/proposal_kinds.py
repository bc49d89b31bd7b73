"""Every kind of proposal's typed change and effect, and the one place stored ones are read.

The route change (`rebalance`) lives in `core.plan_change`; the co-pilot's re-sequence, the
capacity agent's call-in and the hub agent's loading plan and turnaround warning live here.
Each change knows its kind, the drivers and orders it touches and its JSON form;
`parse_change` and `parse_effect` read a stored proposal by its kind, tolerating older rows
(missing keys take their neutral value).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import ClassVar, Generic, TypedDict, TypeVar

from core.json_data import JsonObject, float_or_none, int_or_none, without_none
from core.kinds import ProposalKind
from core.plan_change import PlacementEffect, PlanEffect, PlannedStop, RouteChange, Touches


@dataclass(frozen=True)
class Reroute:
    """One driver's pending stops in a new order (the co-pilot, on a disruption)."""

    KIND: ClassVar[ProposalKind] = ProposalKind.REROUTE
    action: ClassVar[str | None] = None

    route_id: int
    driver: str
    reason: str
    stops: tuple[PlannedStop, ...]
    end_s: int
    distance_m: int

    def touches(self) -> Touches:
        """Nothing another proposal could conflict with: the stops stay with their driver."""
        return Touches(frozenset(), frozenset())

    def to_json(self) -> JsonObject:
        return {**asdict(self), "stops": [[s.order, s.eta_s] for s in self.stops]}

    @classmethod
    def from_json(cls, data: JsonObject) -> Reroute:
        return cls(
            route_id=int(data.get("route_id", 0)),
            driver=str(data.get("driver", "")),
            reason=str(data.get("reason", "")),
            stops=tuple(PlannedStop(str(ref), int(eta)) for ref, eta in data.get("stops", [])),
            end_s=int(data.get("end_s", 0)),
            distance_m=int(data.get("distance_m") or 0),
        )


@dataclass(frozen=True)
class RerouteEffect:
    late_before: int
    late_after: int
    orders_moved: int = 0
    routes_touched: int = 1

    def to_json(self) -> JsonObject:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JsonObject) -> RerouteEffect:
        return cls(
            int(data.get("late_before", 0)),
            int(data.get("late_after", 0)),
            int(data.get("orders_moved", 0)),
            int(data.get("routes_touched", 1)),
        )


@dataclass(frozen=True)
class CalledIn:
    """A gig courier asked to work today: their shift (seconds since the hub's midnight)."""

    code: str
    fleet: str
    start_s: int
    end_s: int


@dataclass(frozen=True)
class CallIn:
    """Off-duty gig couriers the capacity agent calls in."""

    KIND: ClassVar[ProposalKind] = ProposalKind.CALL_IN_GIG
    action: ClassVar[str | None] = ProposalKind.CALL_IN_GIG

    hub_id: int | None
    day: str
    requested_by: str
    drivers: tuple[CalledIn, ...]

    def touches(self) -> Touches:
        return Touches(frozenset(d.code for d in self.drivers), frozenset())

    def to_json(self) -> JsonObject:
        return {"action": self.action, **asdict(self)}

    @classmethod
    def from_json(cls, data: JsonObject) -> CallIn:
        return cls(
            hub_id=int_or_none(data.get("hub_id")),
            day=str(data.get("day", "")),
            requested_by=str(data.get("requested_by", "")),
            drivers=tuple(
                CalledIn(str(d["code"]), str(d.get("fleet", "")), int(d["start_s"]), int(d["end_s"]))
                for d in data.get("drivers", [])
            ),
        )


@dataclass(frozen=True)
class CapacityEffect:
    """The capacity agent's effect: the worst window's shortfall before and after, at a cost
    (a call-in also says how many couriers and hours)."""

    shortfall_before_h: float
    shortfall_after_h: float
    cost_delta_cents: int
    orders_moved: int
    routes_touched: int
    drivers_called: int | None = None
    driver_hours_added: float | None = None

    def to_json(self) -> JsonObject:
        return without_none(asdict(self))

    @classmethod
    def from_json(cls, data: JsonObject) -> CapacityEffect:
        return cls(
            shortfall_before_h=float(data.get("shortfall_before_h", 0.0)),
            shortfall_after_h=float(data.get("shortfall_after_h", 0.0)),
            cost_delta_cents=int(data.get("cost_delta_cents", 0)),
            orders_moved=int(data.get("orders_moved", 0)),
            routes_touched=int(data.get("routes_touched", 0)),
            drivers_called=int_or_none(data.get("drivers_called")),
            driver_hours_added=float_or_none(data.get("driver_hours_added")),
        )


@dataclass(frozen=True)
class Retime:
    """A van told to load at another time: bay (from 1), planned and new loading start (s)."""

    route_id: int
    driver: str
    bay: int
    from_s: int
    to_s: int


@dataclass(frozen=True)
class LateDeparture:
    """A route whose first stop the turnaround makes late even with the loading plan."""

    route_id: int
    driver: str
    first_order: str | None
    due: str  # HH:MM
    eta: str
    departs: str
    minutes_late: int


R = TypeVar("R", Retime, LateDeparture)


@dataclass(frozen=True)
class _DockChange(Generic[R]):
    """What the hub agent's two kinds of change share: the hub's dock and the routes they name."""

    KIND: ClassVar[ProposalKind]
    action: ClassVar[str | None]

    hub_id: int | None
    day: str
    requested_by: str
    loading_bays: int
    turnaround_s: int
    routes: tuple[R, ...]

    def touches(self) -> Touches:
        return Touches(frozenset(r.driver for r in self.routes), frozenset())

    def to_json(self) -> JsonObject:
        return {"action": self.action, **asdict(self)}


class LoadingPlanChange(_DockChange[Retime]):
    """The hub agent's loading slots for the vans that would queue at the dock."""

    KIND = ProposalKind.LOADING_PLAN
    action = ProposalKind.LOADING_PLAN

    @classmethod
    def from_json(cls, data: JsonObject) -> LoadingPlanChange:
        return cls(
            **_hub_fields(data),
            routes=tuple(
                Retime(
                    int(r["route_id"]),
                    str(r.get("driver", "")),
                    int(r.get("bay", 0)),
                    int(r.get("from_s", 0)),
                    int(r["to_s"]),
                )
                for r in data.get("routes", [])
            ),
        )


class TurnaroundWarning(_DockChange[LateDeparture]):
    """First stops the hub's turnaround makes late: for a person to see, it changes no route."""

    KIND = ProposalKind.TURNAROUND_WARNING
    action = ProposalKind.TURNAROUND_WARNING

    @classmethod
    def from_json(cls, data: JsonObject) -> TurnaroundWarning:
        return cls(
            **_hub_fields(data),
            routes=tuple(
                LateDeparture(
                    int(r["route_id"]),
                    str(r.get("driver", "")),
                    r.get("first_order"),
                    str(r.get("due", "")),
                    str(r.get("eta", "")),
                    str(r.get("departs", "")),
                    int(r.get("minutes_late", 0)),
                )
                for r in data.get("routes", [])
            ),
        )


class _HubFields(TypedDict):
    """What the hub agent's two kinds of change have in common."""

    hub_id: int | None
    day: str
    requested_by: str
    loading_bays: int
    turnaround_s: int


def _hub_fields(data: JsonObject) -> _HubFields:
    return {
        "hub_id": int_or_none(data.get("hub_id")),
        "day": str(data.get("day", "")),
        "requested_by": str(data.get("requested_by", "")),
        "loading_bays": int(data.get("loading_bays", 0)),
        "turnaround_s": int(data.get("turnaround_s", 0)),
    }


@dataclass(frozen=True)
class LoadingEffect:
    """Dock waits (minutes) with vans turning up at their planned start, and with the plan."""

    max_dock_wait_min_before: int
    mean_dock_wait_min_before: int
    max_dock_wait_min_after: int
    mean_dock_wait_min_after: int
    max_departure_delay_min: int
    routes_retimed: int
    routes_touched: int
    orders_moved: int
    max_loading_at_once: int

    def to_json(self) -> JsonObject:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JsonObject) -> LoadingEffect:
        return cls(**{name: int(data.get(name, 0)) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class WarningEffect:
    routes_late: int
    max_minutes_late: int
    turnaround_min: int
    routes_touched: int = 0
    orders_moved: int = 0

    def to_json(self) -> JsonObject:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JsonObject) -> WarningEffect:
        return cls(**{name: int(data.get(name, 0)) for name in cls.__dataclass_fields__})


ProposalChange = RouteChange | Reroute | CallIn | LoadingPlanChange | TurnaroundWarning
ProposalEffect = PlanEffect | PlacementEffect | CapacityEffect | RerouteEffect | LoadingEffect | WarningEffect

CHANGE_TYPES: Mapping[ProposalKind, type[ProposalChange]] = {
    t.KIND: t for t in (RouteChange, Reroute, CallIn, LoadingPlanChange, TurnaroundWarning)
}
"""The change type of each kind."""


def _route_effect(data: JsonObject) -> ProposalEffect:
    """A route change's effect: a re-plan's (before and after), the capacity agent's (a
    shortfall) or a rule-based dispatcher's (orders placed)."""
    if "before" in data and "after" in data:
        return PlanEffect.from_json(data)
    if "shortfall_before_h" in data:
        return CapacityEffect.from_json(data)
    return PlacementEffect.from_json(data)


_EFFECTS: Mapping[ProposalKind, Callable[[JsonObject], ProposalEffect]] = {
    ProposalKind.REBALANCE: _route_effect,
    ProposalKind.REROUTE: RerouteEffect.from_json,
    ProposalKind.CALL_IN_GIG: CapacityEffect.from_json,
    ProposalKind.LOADING_PLAN: LoadingEffect.from_json,
    ProposalKind.TURNAROUND_WARNING: WarningEffect.from_json,
}


def parse_change(kind: ProposalKind, data: JsonObject) -> ProposalChange:
    """A stored change of `kind`, typed."""
    return CHANGE_TYPES[kind].from_json(data)


def parse_effect(kind: ProposalKind, data: JsonObject) -> ProposalEffect:
    """A stored effect of `kind`, typed."""
    return _EFFECTS[kind](data)

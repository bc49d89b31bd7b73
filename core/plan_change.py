"""A proposal's route change and its effect, typed: built by every agent that re-plans routes
(dispatch, compliance, capacity's 3PL move, the rule-based dispatchers), read by the applier,
the conflict check and the pages, and turned into JSON and back in one place.

`RouteChange.from_json` and the effects' `from_json` also read what older proposals stored
(missing keys, metrics under `late_count`), so every proposal already in a database still loads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from core.allocator.result import Metrics
from core.allocator.result import Route as PlannedRoute
from core.json_data import JsonObject, float_or_none, int_or_none, without_none
from core.kinds import ProposalKind


@dataclass(frozen=True)
class Touches:
    """The drivers and orders a change writes to; two changes conflict when these meet."""

    drivers: frozenset[str]
    orders: frozenset[str]

    def meets(self, other: Touches) -> bool:
        return bool(self.drivers & other.drivers or self.orders & other.orders)


@dataclass(frozen=True)
class PlannedStop:
    order: str
    eta_s: int  # seconds since the hub's local midnight


@dataclass(frozen=True)
class NewRoute:
    """One touched route as the change writes it; no stops = the route is emptied. Times left
    None keep the route's planned times."""

    driver: str
    stops: tuple[PlannedStop, ...]
    start_s: int | None
    end_s: int | None
    distance_m: int

    @classmethod
    def planned(cls, driver: str, route: PlannedRoute | None) -> NewRoute:
        """The driver's route as the allocator scheduled it; no route = emptied."""
        if route is None:
            return cls(driver, (), None, None, 0)
        stops = tuple(PlannedStop(v.order_id, v.arrival_s) for v in route.visits)
        return cls(driver, stops, route.start_s, route.end_s, route.distance_m)

    def to_json(self) -> JsonObject:
        return {
            "stops": [[s.order, s.eta_s] for s in self.stops],
            "start_s": self.start_s,
            "end_s": self.end_s,
            "distance_m": self.distance_m,
        }

    @classmethod
    def from_json(cls, driver: str, data: JsonObject) -> NewRoute:
        return cls(
            driver=driver,
            stops=tuple(PlannedStop(str(ref), int(eta)) for ref, eta in data.get("stops", [])),
            start_s=int_or_none(data.get("start_s")),
            end_s=int_or_none(data.get("end_s")),
            distance_m=int(data.get("distance_m") or 0),
        )


@dataclass(frozen=True)
class OrderMove:
    """An order moved between drivers, newly placed (no from) or dropped (no to)."""

    order: str
    from_driver: str | None
    from_position: int | None
    to_driver: str | None
    to_position: int | None
    reason: str


@dataclass(frozen=True)
class Unplaced:
    order: str
    reason: str


@dataclass(frozen=True)
class LoadHandover:
    """A stranded van's load: taken over by `to_driver` at the van, or back to the hub (None)."""

    from_driver: str
    kind: str
    to_driver: str | None
    lat: float
    lon: float
    at_s: int
    orders: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class DriverRisk:
    """A rule a driver's route would break (the compliance agent's reason to move stops)."""

    driver: str
    rule: str
    breach_at: str  # ISO instant
    orders: tuple[str, ...]


@dataclass(frozen=True)
class RouteChange:
    """What a route-changing proposal writes into one hub's plan."""

    KIND: ClassVar[ProposalKind] = ProposalKind.REBALANCE

    hub_id: int | None  # None only in changes stored without it
    day: str  # ISO date
    requested_by: str
    routes: tuple[NewRoute, ...]
    moves: tuple[OrderMove, ...] = ()
    unassigned: tuple[Unplaced, ...] = ()
    handovers: tuple[LoadHandover, ...] = ()
    action: str | None = None  # the proposing agent's action, when it is not a plain re-plan
    risks: tuple[DriverRisk, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.routes

    def touches(self) -> Touches:
        drivers = {r.driver for r in self.routes}
        orders = {s.order for r in self.routes for s in r.stops}
        for m in self.moves:
            orders.add(m.order)
            drivers |= {d for d in (m.from_driver, m.to_driver) if d}
        drivers |= {r.driver for r in self.risks}
        drivers |= {h.from_driver for h in self.handovers}
        return Touches(frozenset(drivers), frozenset(orders))

    def to_json(self) -> JsonObject:
        out = asdict(self)
        out["routes"] = {r.driver: r.to_json() for r in self.routes}
        out["drivers"] = sorted({r.driver for r in self.risks})
        return out

    @classmethod
    def from_json(cls, data: JsonObject) -> RouteChange:
        routes = data.get("routes") or {}
        return cls(
            hub_id=int_or_none(data.get("hub_id")),
            day=str(data.get("day", "")),
            requested_by=str(data.get("requested_by", "")),
            routes=tuple(NewRoute.from_json(str(code), r) for code, r in routes.items()),
            moves=tuple(
                OrderMove(
                    str(m["order"]),
                    m.get("from_driver"),
                    int_or_none(m.get("from_position")),
                    m.get("to_driver"),
                    int_or_none(m.get("to_position")),
                    str(m.get("reason", "")),
                )
                for m in data.get("moves", [])
            ),
            unassigned=tuple(
                Unplaced(str(u["order"]), str(u.get("reason", ""))) for u in data.get("unassigned", [])
            ),
            handovers=tuple(
                LoadHandover(
                    from_driver=str(h["from_driver"]),
                    kind=str(h.get("kind", "")),
                    to_driver=h.get("to_driver"),
                    lat=float(h.get("lat", 0.0)),
                    lon=float(h.get("lon", 0.0)),
                    at_s=int(h.get("at_s", 0)),
                    orders=tuple(str(o) for o in h.get("orders", [])),
                    why=str(h.get("why", "")),
                )
                for h in data.get("handovers", [])
            ),
            action=data.get("action"),
            risks=tuple(
                DriverRisk(
                    str(r["driver"]),
                    str(r.get("rule", "")),
                    str(r.get("breach_at", "")),
                    tuple(str(o) for o in r.get("orders", [])),
                )
                for r in data.get("risks", [])
            ),
        )


@dataclass(frozen=True)
class PlanMetrics:
    """One side of a plan's effect, in the allocator's units."""

    cost_cents: int
    distance_m: int
    co2_g: int
    late: int
    unassigned: int
    drivers_used: int

    @classmethod
    def of(cls, m: Metrics) -> PlanMetrics:
        return cls(m.cost_cents, m.distance_m, m.co2_g, m.late_count, m.orders_unassigned, m.drivers_used)

    @classmethod
    def from_json(cls, m: JsonObject) -> PlanMetrics:
        return cls(
            cost_cents=int(m.get("cost_cents", 0)),
            distance_m=int(m.get("distance_m", 0)),
            co2_g=int(m.get("co2_g", 0)),
            late=int(m.get("late") or m.get("late_count") or 0),
            unassigned=int(m.get("unassigned") or m.get("orders_unassigned") or 0),
            drivers_used=int(m.get("drivers_used", 0)),
        )


@dataclass(frozen=True)
class SolverRun:
    status: str
    runtime_s: float
    solutions: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanEffect:
    """A re-plan's expected effect: the plan before and after, and how much moved."""

    before: PlanMetrics
    after: PlanMetrics
    orders_moved: int
    orders_placed: int
    orders_dropped: int
    routes_touched: int
    routes_total: int
    solver: SolverRun | None = None
    breaches: int | None = None  # the compliance agent's breaches found and avoided
    breaches_avoided: int | None = None
    handed_over: int = 0  # parcels of stranded vans given a way on
    runtime_s: float | None = None  # an agent's own time when no solver ran

    def to_json(self) -> JsonObject:
        return asdict(self)

    @classmethod
    def from_json(cls, data: JsonObject) -> PlanEffect:
        solver = data.get("solver")
        return cls(
            before=PlanMetrics.from_json(data.get("before") or {}),
            after=PlanMetrics.from_json(data.get("after") or {}),
            orders_moved=int(data.get("orders_moved", 0)),
            orders_placed=int(data.get("orders_placed", 0)),
            orders_dropped=int(data.get("orders_dropped", 0)),
            routes_touched=int(data.get("routes_touched", 0)),
            routes_total=int(data.get("routes_total") or data.get("routes_touched") or 0),
            solver=SolverRun(
                str(solver.get("status", "")),
                float(solver.get("runtime_s", 0.0)),
                int(solver.get("solutions", 0)),
                tuple(solver.get("notes", ())),
            )
            if solver
            else None,
            breaches=int_or_none(data.get("breaches")),
            breaches_avoided=int_or_none(data.get("breaches_avoided")),
            handed_over=int(data.get("handed_over", 0)),
            runtime_s=float_or_none(data.get("runtime_s")),
        )


@dataclass(frozen=True)
class PlacementEffect:
    """What a rule-based dispatcher's change does: orders placed on routes, nothing re-planned."""

    orders_placed: int
    routes_touched: int
    orders_unplaced: int | None = None

    @property
    def orders_moved(self) -> int:
        return 0  # it only places waiting orders

    def to_json(self) -> JsonObject:
        return without_none(asdict(self))

    @classmethod
    def from_json(cls, data: JsonObject) -> PlacementEffect:
        return cls(
            int(data.get("orders_placed", 0)),
            int(data.get("routes_touched", 0)),
            int_or_none(data.get("orders_unplaced")),
        )

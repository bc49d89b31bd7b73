"""The simulated day: drivers follow their approved routes on a simulated clock and report
what a real driver app would, through `core.field`, one unit of work per tick.

Per tick: re-read any hub whose plan version moved (a dispatcher approved a change), start
the disruptions that are due, move every driver (one vectorised update for drivers mid-leg;
the few that start, arrive, finish a service or get repaired are stepped one by one), write
the tick's reports in batches (route starts, arrivals, deliveries, failures, route ends, GPS
pings), then let the co-pilot handle the tick's disruptions and the customer agent send and
receive messages. The engine's own state is only the fleet's positions and queues; everything
else is read back from the database, so a simulation can stop and resume.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.agents.customer import CustomerPolicy, deliver_outbox, run_customer_agent
from core.allocator.stop import MaxRuntime, StopRule
from core.db import unit_of_work
from core.field import (
    Arrival,
    Delivery,
    ExceptionReason,
    Failure,
    Ping,
    ProblemDetail,
    RouteMove,
    arrive_many,
    deliver_many,
    fail_many,
    finish_routes,
    report_positions,
    resolve_problem,
    start_routes,
)
from core.geo import haversine_m
from core.sim.clock import SimClock, Tick
from core.sim.disruptions import DisruptionParams, DisruptionPlan, door_outcome, plan_disruptions
from core.sim.movement import ON_DUTY, WAIT_MIN_S, Fleet, Phase
from core.sim.reactions import Problem, SimulatedCustomers, at_the_door, handle_problem
from core.sim.urgent import add_urgent_order
from core.sim.world import (
    RouteState,
    SimStop,
    day_outline,
    last_positions,
    load_drivers,
    load_hubs,
    load_routes,
    plan_versions,
)
from core.timeutil import at_seconds

TickAgent = Callable[[Engine, datetime], None]
"""Anything else that acts after each tick (e.g. a dispatch policy), in short units of work of
its own: a solve never holds the tick's write transaction."""


@dataclass(frozen=True)
class SimParams:
    """How the day is simulated. `copilot=False` is the rule-based field policy."""

    tick_s: int = 60
    ping_every_s: int = 300
    copilot: bool = True
    customer_every_s: int = 300  # 0 switches the customer agent off
    running_late_s: int = 20 * 60
    running_late_cooldown_s: int = 3600
    disruptions: DisruptionParams = field(default_factory=DisruptionParams)
    reroute_stop: StopRule = field(default_factory=lambda: MaxRuntime(0.15))
    customer_policy: CustomerPolicy = field(default_factory=CustomerPolicy)


@dataclass
class TickReport:
    tick: Tick
    counts: Counter[str] = field(default_factory=Counter)
    rejections: list[str] = field(default_factory=list)
    on_duty: int = 0


@dataclass
class _Buffers:
    starts: list[RouteMove] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    reports: list[Delivery | Failure] = field(default_factory=list)
    finishes: list[RouteMove] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Simulator:
    """One service day of every hub on the engine's database, from its approved plans."""

    def __init__(
        self,
        engine: Engine,
        day: date,
        seed: int = 0,
        params: SimParams | None = None,
        agents: Sequence[TickAgent] = (),
        disruptions: DisruptionPlan | None = None,
    ) -> None:
        """`disruptions` replaces the day's drawn disruptions (tests place them by hand)."""
        self.engine, self.day, self.seed = engine, day, seed
        self.params = params or SimParams()
        self.agents = tuple(agents)
        with unit_of_work(engine, read_only=True) as session:
            self.hubs = load_hubs(session)
            zones = {h.tz for h in self.hubs.values()}
            if len(zones) != 1:
                raise ValueError(f"the simulator runs one time zone at a time, hubs have {sorted(zones)}")
            self.tz = zones.pop()
            self.customers = SimulatedCustomers(
                self.params.disruptions.customer_choice_rate, seed, day, self.tz
            )
            self.drivers = load_drivers(session)
            self.versions = plan_versions(session, day)
            routes = load_routes(session, day, self.tz)
            positions = last_positions(session, day, self.tz)
            self.disruptions: DisruptionPlan = disruptions or plan_disruptions(
                self.params.disruptions, day_outline(session, day, routes, self.drivers), seed
            )
        ids = sorted(self.drivers)
        self.index = {d: i for i, d in enumerate(ids)}
        hub = [self.hubs[self.drivers[d].hub_id] for d in ids]
        self.fleet = Fleet.at(
            ids, [h.lat for h in hub], [h.lon for h in hub], [self.drivers[d].vehicle_kind for d in ids]
        )
        self.queue: list[list[SimStop]] = [[] for _ in ids]
        self.door: dict[int, Delivery | Failure] = {}
        self.late_reported_s = np.full(len(ids), -np.inf)
        self.breakdown_event: dict[int, int] = {}
        self.pending_breakdowns = list(self.disruptions.breakdowns)
        self.urgent = list(self.disruptions.urgent)
        self.session: Session | None = None
        self.counts: Counter[str] = Counter()
        self.planned_start_s = np.full(len(ids), np.inf)
        self.last_customer_s = -np.inf
        self.started_s: int | None = None
        for d, route in routes.items():
            self._place_initial(self.index[d], route, positions.get(d))

    # -- set-up and plan changes ---------------------------------------------------------
    def first_start_s(self) -> int:
        """When the day's first route starts loading (the natural start of a simulation)."""
        starts = [
            s
            for i, s in enumerate(self.fleet.until_s)
            if self.fleet.phase[i] == Phase.IDLE and np.isfinite(s)
        ]
        return int(min(starts)) if starts else 7 * 3600

    def _place_initial(self, i: int, route: RouteState, position: tuple[float, float, int] | None) -> None:
        f, d = self.fleet, int(self.fleet.driver_ids[i])
        if position is not None:
            f.lat[i], f.lon[i] = position[0], position[1]
        self.queue[i] = list(route.stops)
        if route.completed and not route.stops:
            f.phase[i] = Phase.DONE
        elif not route.started:
            f.phase[i] = Phase.IDLE
            self.planned_start_s[i] = route.planned_start_s
            f.until_s[i] = route.planned_start_s + self.disruptions.late_starts.get(d, 0)
        elif route.stops and route.stops[0].arrived:
            stop = route.stops[0]  # resumed at a door: the outcome is decided when served
            f.lat[i], f.lon[i] = stop.lat, stop.lon
            f.phase[i], f.until_s[i] = Phase.SERVING, (position[2] if position else 0) + stop.service_s
            f.next_ping_s[i] = f.until_s[i]
        else:
            self._head_on(i, position[2] if position else 0)
            f.next_ping_s[i] = position[2] if position else 0

    def _sync_plans(self, session: Session, now_s: int) -> None:
        versions = plan_versions(session, self.day)
        moved = [h for h, v in versions.items() if self.versions.get(h) != v]
        if moved:
            self._reload(session, moved, now_s)
        self.versions = versions

    def _reload(
        self, session: Session, hub_ids: list[int], now_s: int, driver_ids: list[int] | None = None
    ) -> None:
        """Adopt the plan now approved for these hubs (or drivers), from wherever each driver is."""
        f = self.fleet
        routes = load_routes(session, self.day, self.tz, hub_ids, driver_ids)
        for d, route in routes.items():
            i = self.index[d]
            old = self.queue[i]
            phase = Phase(int(f.phase[i]))
            fresh = [s for s in route.stops if not s.arrived]
            if phase is Phase.SERVING and old:
                self.queue[i] = [old[0], *[s for s in fresh if s.order_id != old[0].order_id]]
                continue
            self.queue[i] = fresh
            target = old[0].order_id if old else None
            if phase in (Phase.DRIVING, Phase.BROKEN) and (fresh[0].order_id if fresh else None) != target:
                if phase is Phase.BROKEN:
                    self._leave(i, now_s)
                    f.phase[i] = phase  # a broken van changes target but stays put
                else:
                    self._head_on(i, now_s)
            elif phase is Phase.WAITING:
                self._head_on(i, now_s)  # the wait was for a stop the new plan may have moved
            elif phase is Phase.DONE and fresh:
                self.planned_start_s[i] = now_s
                self._begin_loading(i, now_s)
            elif phase is Phase.IDLE and fresh and route.planned_start_s != self.planned_start_s[i]:
                # a new route, or a loading slot moved by the hub agent; a late start stays late
                late = self.disruptions.late_starts.get(int(f.driver_ids[i]), 0)
                self.planned_start_s[i] = route.planned_start_s
                f.until_s[i] = max(now_s, route.planned_start_s + late)

    # -- one driver's moves --------------------------------------------------------------
    def _at(self, seconds: float) -> datetime:
        return at_seconds(self.day, self.tz, round(seconds, 3))

    def _closure_factor(self, lat: float, lon: float, t_s: float) -> float:
        factor = 1.0
        for area in self.disruptions.closures:
            if area.active(t_s) and float(haversine_m(lat, lon, area.lat, area.lon)) <= area.radius_m:
                factor = max(factor, area.factor)
        return factor

    def _head_on(self, i: int, t_s: float) -> None:
        """Drive to the next stop in the queue, or back to the hub when there is none. A stop
        that opens much later (`WAIT_MIN_S`) is left for when it is time: the driver waits where
        they are, and goes first to any stop a new plan puts before it."""
        if self.queue[i]:
            nxt = self.queue[i][0]
            leave_s = self.fleet.leave_at_s(i, nxt.lat, nxt.lon, nxt.ready_s)
            if leave_s - t_s >= WAIT_MIN_S:
                self.fleet.phase[i], self.fleet.until_s[i] = Phase.WAITING, leave_s
                return
        self._leave(i, t_s)

    def _leave(self, i: int, t_s: float) -> None:
        """Start the leg to the next stop in the queue, or back to the hub."""
        if self.queue[i]:
            nxt = self.queue[i][0]
            self.fleet.start_leg(i, nxt.lat, nxt.lon, self._closure_factor(nxt.lat, nxt.lon, t_s))
        else:
            hub = self.hubs[self.drivers[int(self.fleet.driver_ids[i])].hub_id]
            self.fleet.start_leg(i, hub.lat, hub.lon)

    def _begin_loading(self, i: int, t_s: float) -> None:
        f = self.fleet
        hub = self.hubs[self.drivers[int(f.driver_ids[i])].hub_id]
        f.phase[i], f.until_s[i] = Phase.LOADING, t_s + hub.turnaround_s
        f.next_ping_s[i] = t_s + (i * 37) % self.params.ping_every_s

    def _plan_door(self, i: int, stop: SimStop, t_s: float) -> float:
        """Decide what happens at the door; returns how long the driver stays."""
        assert self.session is not None
        d = int(self.fleet.driver_ids[i])
        outcome = door_outcome(self.params.disruptions, self.seed, stop.order_id)
        plan = at_the_door(
            self.session,
            d,
            stop.order_id,
            stop.parcels,
            stop.service_s,
            self._at(t_s),
            stop.lat,
            stop.lon,
            outcome,
            self.params.copilot,
        )
        self.door[i] = plan.report
        self.counts[f"door_{plan.action.value if plan.action else 'delivered'}"] += 1
        return float(plan.busy_s)

    def _reached(self, i: int, t_s: float, out: _Buffers) -> None:
        f, d = self.fleet, int(self.fleet.driver_ids[i])
        f.arrive(i)
        if not self.queue[i]:
            f.phase[i] = Phase.DONE
            out.finishes.append(RouteMove(d, self._at(t_s), f.lat[i], f.lon[i], int(f.travelled_m[i])))
            return
        stop = self.queue[i][0]
        out.arrivals.append(Arrival(d, stop.order_id, self._at(t_s), stop.lat, stop.lon))
        begin = max(t_s, float(stop.ready_s))
        f.phase[i], f.until_s[i] = Phase.SERVING, begin + self._plan_door(i, stop, begin)

    def _served(self, i: int, t_s: float, out: _Buffers) -> None:
        f, d = self.fleet, int(self.fleet.driver_ids[i])
        report = self.door.pop(i, None)
        if report is None and self.queue[i]:
            self._plan_door(i, self.queue[i][0], t_s)
            report = self.door.pop(i)
        if report is not None:
            stamped: Delivery | Failure
            if isinstance(report, Delivery):
                stamped = Delivery(report.driver_id, report.order_id, self._at(t_s), report.pod)
            else:
                stamped = Failure(report.driver_id, report.order_id, self._at(t_s), report.exception)
            out.reports.append(stamped)
        if self.queue[i]:
            self.queue[i].pop(0)
        if self.params.copilot and self.queue[i]:
            late = t_s - self.queue[i][0].planned_eta_s
            if (
                late > self.params.running_late_s
                and t_s - self.late_reported_s[i] > self.params.running_late_cooldown_s
            ):
                self.late_reported_s[i] = t_s
                out.problems.append(
                    Problem(d, self._at(t_s), ExceptionReason.RUNNING_LATE, f.lat[i], f.lon[i], int(late))
                )
        self._head_on(i, t_s)

    def _step(self, i: int, t0: float, t1: float, speed: float, out: _Buffers) -> None:
        """Driver i's events inside [t0, t1), in time order."""
        f, d = self.fleet, int(self.fleet.driver_ids[i])
        clock = t0
        for _ in range(10_000):  # a guard, never reached: every branch moves time or returns
            phase = Phase(int(f.phase[i]))
            if phase is Phase.DRIVING:
                need = f.left_m[i] / speed if speed > 0 else np.inf
                if clock + need >= t1:
                    f.drive(np.array([i]), np.array([speed * (t1 - clock)]))
                    return
                clock += need
                self._reached(i, clock, out)
                continue
            if phase is Phase.DONE or f.until_s[i] >= t1:
                return
            clock = max(clock, float(f.until_s[i]))
            if phase is Phase.IDLE:
                self._begin_loading(i, clock)
            elif phase is Phase.LOADING:
                out.starts.append(RouteMove(d, self._at(clock), f.lat[i], f.lon[i]))
                hub = self.hubs[self.drivers[d].hub_id]
                late = clock - (self.planned_start_s[i] + hub.turnaround_s)
                if self.params.copilot and late > self.params.running_late_s / 2:
                    self.late_reported_s[i] = clock
                    out.problems.append(
                        Problem(
                            d,
                            self._at(clock),
                            ExceptionReason.RUNNING_LATE,
                            f.lat[i],
                            f.lon[i],
                            int(late),
                            ProblemDetail(cause="late start"),
                        )
                    )
                self._head_on(i, clock)
            elif phase is Phase.SERVING:
                self._served(i, clock, out)
            elif phase is Phase.WAITING:
                self._leave(i, clock)
            elif phase is Phase.BROKEN:
                event = self.breakdown_event.pop(d, None)
                if event is not None:
                    out.problems.append(
                        Problem(
                            d,
                            self._at(clock),
                            ExceptionReason.VEHICLE_BREAKDOWN,
                            f.lat[i],
                            f.lon[i],
                            detail=ProblemDetail(repaired=event),
                        )
                    )
                f.phase[i], f.until_s[i] = Phase.DRIVING, np.inf
        raise RuntimeError(f"driver {d} did not settle in a tick")

    # -- disruptions ---------------------------------------------------------------------
    def _start_disruptions(self, session: Session, tick: Tick, out: _Buffers) -> None:
        f = self.fleet
        for area in self.disruptions.closures:
            if tick.start_s <= area.start_s < tick.end_s:
                self.counts["road_closures"] += 1
                for i in np.flatnonzero(f.phase == Phase.DRIVING):
                    if float(haversine_m(f.to_lat[i], f.to_lon[i], area.lat, area.lon)) <= area.radius_m:
                        f.detour(int(i), area.factor)
                        out.problems.append(
                            Problem(
                                int(f.driver_ids[i]),
                                tick.start_at,
                                ExceptionReason.ROAD_CLOSED,
                                f.lat[i],
                                f.lon[i],
                                detail=ProblemDetail(closure=area.id),
                            )
                        )
        self.counts["traffic_incidents"] += sum(
            1 for a in self.disruptions.incidents if tick.start_s <= a.start_s < tick.end_s
        )
        still = []
        for b in self.pending_breakdowns:
            k = self.index.get(b.driver_id)
            if b.at_s >= tick.end_s or k is None:
                still.append(b)
                continue
            if f.phase[k] != Phase.DRIVING:
                if f.phase[k] != Phase.DONE:
                    still.append(b)  # breaks down on its next leg
                continue
            f.phase[k] = Phase.BROKEN
            f.until_s[k] = tick.start_s + b.repair_s if b.repair_s else np.inf
            out.problems.append(
                Problem(
                    b.driver_id,
                    tick.start_at,
                    ExceptionReason.VEHICLE_BREAKDOWN,
                    f.lat[k],
                    f.lon[k],
                    detail=ProblemDetail(repair_s=b.repair_s),
                )
            )
        self.pending_breakdowns = still
        while self.urgent and self.urgent[0].at_s < tick.end_s:
            add_urgent_order(
                session, self.day, self.hubs[self.urgent[0].hub_id], self.urgent.pop(0), self._at, self.seed
            )
            self.counts["urgent_orders"] += 1

    def _handle_problems(self, session: Session, tick: Tick, problems: list[Problem]) -> None:
        active = tuple(a for a in self.disruptions.closures if a.active(tick.start_s))
        rerouted: dict[int, int] = {}
        for p in problems:
            if p.detail.repaired is not None:
                resolve_problem(session, p.detail.repaired, p.at, "repaired")
                self.counts["repairs"] += 1
                continue
            event_id, outcome = handle_problem(
                session, p, self.params.copilot, active, self.params.reroute_stop, self.seed
            )
            self.counts[f"problem_{p.reason.value}"] += 1
            if p.reason is ExceptionReason.VEHICLE_BREAKDOWN:
                self.breakdown_event[p.driver_id] = event_id
            if outcome is not None:
                self.counts["reroutes_applied"] += int(outcome.applied)
                self.counts["escalations"] += int(outcome.escalated)
                if outcome.applied:
                    rerouted[p.driver_id] = self.drivers[p.driver_id].hub_id
        if rerouted:  # only these drivers' sequences changed: re-read just them
            self._reload(session, sorted(set(rerouted.values())), tick.end_s, sorted(rerouted))
            self.versions = plan_versions(session, self.day)

    # -- the tick ------------------------------------------------------------------------
    def step(self, session: Session, tick: Tick) -> TickReport:
        """Advance every driver through `tick` and write what they report, in `session`."""
        if self.started_s is not None and tick.start_s < self.started_s:
            raise ValueError("simulated time only moves forward")
        self.started_s = tick.end_s
        self.session, self.counts = session, Counter()
        report = TickReport(tick, self.counts)
        out = _Buffers()
        self._sync_plans(session, tick.start_s)
        self._start_disruptions(session, tick, out)
        f = self.fleet
        speed = f.speeds(tick.start_s, self.disruptions.incidents)
        movers, busy = f.split(tick.start_s, tick.end_s, speed)
        f.drive(movers, speed[movers] * tick.seconds)
        for i in busy:
            self._step(int(i), tick.start_s, tick.end_s, float(speed[i]), out)
        report.rejections += [r.reason for r in start_routes(session, out.starts, strict=False)]
        report.rejections += [r.reason for r in arrive_many(session, out.arrivals, strict=False)]
        deliveries = [r for r in out.reports if isinstance(r, Delivery)]
        failures = [r for r in out.reports if isinstance(r, Failure)]
        report.rejections += [r.reason for r in deliver_many(session, deliveries, strict=False)]
        report.rejections += [r.reason for r in fail_many(session, failures, strict=False)]
        report.rejections += [r.reason for r in finish_routes(session, out.finishes, strict=False)]
        due = f.due_pings(tick.end_s, self.params.ping_every_s)
        report_positions(
            session, [Ping(int(f.driver_ids[i]), tick.end_at, float(f.lat[i]), float(f.lon[i])) for i in due]
        )
        self._handle_problems(session, tick, out.problems)
        every = self.params.customer_every_s
        if every and tick.end_s - self.last_customer_s >= every:
            self.last_customer_s = tick.end_s
            self.counts["messages_queued"] += run_customer_agent(
                session, self.day, tick.end_at, self.params.customer_policy
            )
            self.counts["messages_sent"] += deliver_outbox(session, self.customers, tick.end_at).sent
            self.counts["customer_choices"] += self.customers.answer(session, tick.end_at)
        self.counts.update(
            pings=len(due),
            arrivals=len(out.arrivals),
            starts=len(out.starts),
            delivered=len(deliveries),
            failed=len(failures),
            finished=len(out.finishes),
        )
        self.counts["rejected"] += len(report.rejections)
        report.on_duty = int(np.isin(f.phase, [int(p) for p in ON_DUTY]).sum())
        self.session = None
        return report

    def run(self, clock: SimClock, on_tick: Callable[[TickReport], None] | None = None) -> Counter[str]:
        """Run the clock's ticks, one unit of work each, then the agents; returns the day's totals."""
        totals: Counter[str] = Counter()
        for tick in clock.ticks():
            with unit_of_work(self.engine) as session:
                report = self.step(session, tick)
            for agent in self.agents:
                agent(self.engine, tick.end_at)
            totals.update(report.counts)
            totals["ticks"] += 1
            totals["driver_s"] += report.on_duty * tick.seconds
            if on_tick is not None:
                on_tick(report)
        return totals


__all__ = ["SimParams", "Simulator", "TickAgent", "TickReport"]

"""The agents at work through a live day, each proposal settled by its agent's policy.

Every `every_s` the autopilot looks at each hub. The dispatch agent re-optimises a hub's rest of
the day when something calls for it: orders waiting without a driver (urgent orders, stops a
broken van could not keep), a co-pilot request to dispatch, or more predicted-late stops than
`late_trigger` (a driver's current delay carried forward along the route). The capacity, hub and
compliance agents look on their own, slower rhythm. Whatever an agent proposes goes into the
inbox and is applied or left for a dispatcher by `core.agents.policy.settle`; a co-pilot request
that an applied re-plan answered is closed, so what is still open at the end needed a person.

It is a `TickAgent` for the simulator and runs the same way beside a real day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.agents.dispatch import RebalanceRequest
from core.agents.policy import DEFAULT_POLICIES, AgentPolicy, Outcome, policy_viewer, settle
from core.agents.rebalance import rebalance
from core.db import unit_of_work
from core.field import ExceptionPayload, ExceptionReason, resolve_problem
from core.kinds import EventKind, OrderStatus, ProposalStatus, StopStatus
from core.models import Driver, Event, Hub, Order, Plan, Route, Stop
from core.plan_change import RouteChange
from core.proposals import ProposalView, reject
from core.timeutil import local_midnight_utc

DISPATCH = "dispatch-agent"
REOPTIMISE = "reoptimise"

HubAgent = Callable[[Session, int, date, datetime], Sequence[ProposalView]]
"""An agent that looks at one hub and returns the proposals it made (already in the inbox)."""


@dataclass(frozen=True)
class AutopilotParams:
    every_s: int = 300  # how often the autopilot looks
    dispatch_seconds: float = 2.0  # solver time per re-plan
    cooldown_s: int = 900  # at least this long between two re-plans of a hub
    late_trigger: int = 4  # predicted-late stops at a hub that call for a re-plan
    late_cooldown_s: int = 2700  # a re-plan for lateness alone waits this long
    policies: Mapping[str, AgentPolicy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))


@dataclass(frozen=True)
class HubSignals:
    """What the dispatch agent reads of one hub at one moment."""

    waiting: frozenset[int]  # open orders without a driver
    requests: tuple[int, ...]  # co-pilot requests to dispatch still open (event ids)
    broken: frozenset[int]  # drivers whose van is down and not repaired
    predicted_late: int  # pending stops predicted past their window


def hub_signals(session: Session, hub_id: int, day: date, now: datetime, tz: str) -> HubSignals:
    """Read the triggers of one hub at `now`."""
    waiting = frozenset(
        session.scalars(
            select(Order.id).where(
                Order.hub_id == hub_id,
                Order.service_date == day,
                Order.status == OrderStatus.UNASSIGNED,
                Order.created_at <= now,
            )
        )
    )
    since = local_midnight_utc(day, tz)
    open_exceptions = session.execute(
        select(Event.id, Event.driver_id, Event.payload)
        .join(Driver, Driver.id == Event.driver_id)
        .where(
            Driver.home_hub_id == hub_id,
            Event.kind == EventKind.EXCEPTION,
            Event.occurred_at >= since,
            Event.occurred_at <= now,
        )
    ).all()
    requests, broken = [], set()
    for event_id, driver_id, data in open_exceptions:
        payload = ExceptionPayload.from_json(data)
        if payload.resolved:
            continue
        if payload.needs_dispatch:
            requests.append(event_id)
        if payload.reason == ExceptionReason.VEHICLE_BREAKDOWN:
            broken.add(driver_id)
    return HubSignals(waiting, tuple(requests), frozenset(broken), predicted_late(session, hub_id, day, now))


def predicted_late(session: Session, hub_id: int, day: date, now: datetime) -> int:
    """Pending stops whose planned ETA plus the driver's current delay is past the window end.

    A driver's delay is how far `now` is past the planned ETA of their next pending stop (zero
    when ahead); it is carried forward unchanged along the rest of the route.
    """
    rows = session.execute(
        select(Route.id, Stop.planned_eta_at, Order.window_end_at)
        .join(Plan, Plan.id == Route.plan_id)
        .join(Stop, Stop.route_id == Route.id)
        .join(Order, Order.id == Stop.order_id)
        .where(
            Plan.hub_id == hub_id,
            Plan.service_date == day,
            Stop.status == StopStatus.PENDING,
            Stop.planned_eta_at.is_not(None),
        )
        .order_by(Route.id, Stop.sequence)
    ).all()
    late, delay, route = 0, 0.0, None
    for route_id, eta, due in rows:
        if route_id != route:
            route, delay = route_id, max(0.0, (now - eta).total_seconds())
        if (eta - due).total_seconds() + delay > 0:
            late += 1
    return late


@dataclass
class Autopilot:
    """`TickAgent`: the agents of a day, each settled by its policy. Keeps what they did."""

    day: date
    params: AutopilotParams = field(default_factory=AutopilotParams)
    agents: Mapping[str, tuple[HubAgent, int, str]] = field(default_factory=dict)
    """Other agents: name -> (look at a hub, every how many seconds, default action)."""
    outcomes: list[Outcome] = field(default_factory=list)
    last_look: datetime | None = None
    last_replan: dict[int, datetime] = field(default_factory=dict)
    seen: dict[int, HubSignals] = field(default_factory=dict)  # each hub's signals at its last re-plan
    last_run: dict[tuple[str, int], datetime] = field(default_factory=dict)
    seed: int = 0

    @property
    def escalations(self) -> int:
        """Proposals the policies left for a person."""
        return sum(1 for o in self.outcomes if o.escalated)

    def __call__(self, engine: Engine, now: datetime) -> None:
        """Look at every hub: the dispatch agent reads, solves with no session open and writes in
        short units of work; each other agent looks and is settled in one short unit of work."""
        if self.last_look is not None and (now - self.last_look).total_seconds() < self.params.every_s:
            return
        self.last_look = now
        with unit_of_work(engine, read_only=True) as session:
            hubs = session.execute(select(Hub.id, Hub.timezone).order_by(Hub.id)).all()
        for hub_id, tz in hubs:
            self._dispatch(engine, hub_id, tz, now)
            for name, (agent, every_s, action) in self.agents.items():
                last = self.last_run.get((name, hub_id))
                if last is not None and (now - last).total_seconds() < every_s:
                    continue
                self.last_run[(name, hub_id)] = now
                with unit_of_work(engine) as session:
                    for proposal in agent(session, hub_id, self.day, now):
                        self._settle(session, proposal, proposal.change.action or action, now)

    def _settle(self, session: Session, proposal: ProposalView, action: str, now: datetime) -> Outcome:
        if proposal.status is not ProposalStatus.PENDING:  # closed at birth: it changed nothing
            outcome = Outcome(proposal.id, action, applied=False, escalated=False, note="changes nothing")
        elif isinstance(proposal.change, RouteChange) and proposal.change.empty:
            reject(session, policy_viewer(proposal.proposed_by), proposal.id, "changes nothing", now)
            outcome = Outcome(proposal.id, action, applied=False, escalated=False, note="changes nothing")
        else:
            outcome = settle(session, proposal, action, now, self.params.policies)
        self.outcomes.append(outcome)
        return outcome

    def _dispatch(self, engine: Engine, hub_id: int, tz: str, now: datetime) -> None:
        with unit_of_work(engine, read_only=True) as session:
            signals = hub_signals(session, hub_id, self.day, now, tz)
        seen = self.seen.get(hub_id)
        # only what is new since the last re-plan calls for another: an order no driver could
        # take then will not fit now either, unless something else changed
        urgent = bool(signals.waiting - seen.waiting if seen else signals.waiting) or bool(
            set(signals.requests) - set(seen.requests if seen else ())
        )
        late = signals.predicted_late - (seen.predicted_late if seen else 0) >= self.params.late_trigger
        last = self.last_replan.get(hub_id)
        since = (now - last).total_seconds() if last is not None else float("inf")
        due = (urgent and since >= self.params.cooldown_s) or (late and since >= self.params.late_cooldown_s)
        if not due:
            return
        self.last_replan[hub_id] = now
        self.seen[hub_id] = signals
        rule = self.params.policies.get(DISPATCH, AgentPolicy(DISPATCH)).rule(REOPTIMISE)
        request = RebalanceRequest(
            hub_id=hub_id,
            day=self.day,
            now=now,
            seconds=self.params.dispatch_seconds,
            max_orders_moved=rule.max_orders_moved,
            max_routes_touched=rule.max_routes_touched,
            seed=self.seed,
        )
        proposal = rebalance(
            engine,
            policy_viewer(DISPATCH),
            request,
            unavailable={driver: "van broken down" for driver in signals.broken},
            agent=DISPATCH,
        )
        with unit_of_work(engine) as session:
            outcome = self._settle(session, proposal, REOPTIMISE, now)
            if outcome.applied:
                for event_id in signals.requests:
                    resolve_problem(session, event_id, now, "re-planned by the dispatch agent")


__all__ = [
    "DISPATCH",
    "REOPTIMISE",
    "Autopilot",
    "AutopilotParams",
    "HubAgent",
    "HubSignals",
    "hub_signals",
    "predicted_late",
]

"""The static dispatcher: the morning plan stands, new orders go in by cheapest insertion.

What a dispatcher with a route optimiser does by hand: the allocator's morning plan is followed
as it is, and every `every_s` the hub's orders without a driver (orders that arrived during the
day, or that the morning plan could not place) are put where they add least to the plan,
into the routes as they stand, by the product's cheapest insertion (`insert_greedily`). Nothing
else moves: no stop changes driver or place in its sequence. Broken vans and drivers the
compliance rules block get nothing (the day state leaves them out). Each placement is a
`rebalance` proposal applied under the dispatcher's authority, so it is versioned and audited
like any other plan change. In the field there is no co-pilot (`SimParams(copilot=False)`): a
customer not at home is a failed delivery, and every exception is left to a dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.access import Viewer
from core.agents.appliers import APPLIERS
from core.agents.autopilot import hub_signals
from core.agents.dispatch_problem import load_day_state
from core.allocator.evaluate import evaluate_plan
from core.allocator.insertion import insert_greedily
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.db import unit_of_work
from core.kinds import OrderStatus, ProposerKind, Role
from core.models import Hub, Order, Plan
from core.plan_change import NewRoute, PlacementEffect, RouteChange, Unplaced
from core.proposals import approve, create_proposal

AGENT = "static-dispatcher"
POLICY = Viewer(username=AGENT, role=Role.ADMIN)


def insert_waiting(
    session: Session,
    hub_id: int,
    day: date,
    now: datetime,
    params: SolveParams = DEFAULT_PARAMS,
) -> tuple[int, int]:
    """Insert the hub's unplaced open orders into its routes as they stand and apply it.

    Returns (orders placed, orders waiting). Only the routes that take an order are rewritten;
    the stops already on them keep their driver and their order in the sequence.
    """
    hub = session.get(Hub, hub_id)
    assert hub is not None
    broken = hub_signals(session, hub_id, day, now, hub.timezone).broken
    state = load_day_state(session, hub_id, day, now, dict.fromkeys(broken, "van broken down"))
    placed = {ref for refs in state.live.values() for ref in refs}
    waiting = [o.id for o in state.problem.orders if o.id not in placed]
    plan = session.get(Plan, state.plan_id) if state.plan_id is not None else None
    if not waiting or plan is None:
        return 0, len(waiting)
    routes, left = insert_greedily(state.problem, state.live, waiting, params)
    touched = sorted(d for d, refs in routes.items() if refs != state.live.get(d, []))
    if not touched:
        return 0, len(waiting)
    evaluated = {r.driver_id: r for r in evaluate_plan(state.problem, routes, params).routes}
    change = RouteChange(
        hub_id,
        day.isoformat(),
        AGENT,
        tuple(NewRoute.planned(code, evaluated[code]) for code in touched),
        unassigned=tuple(Unplaced(ref, "no place in the routes as they stand") for ref in left),
    )
    n = len(waiting) - len(left)
    text = f"cheapest insertion: {n} of {len(waiting)} waiting order(s) into {len(touched)} route(s)"
    proposal = create_proposal(
        session, plan, AGENT, ProposerKind.AGENT, change, PlacementEffect(n, len(touched)), text, now
    )
    approve(session, POLICY, proposal.id, APPLIERS, now=now)
    return n, len(waiting)


@dataclass
class CheapestInsertionDispatch:
    """`TickAgent`: the static dispatcher, looking every `every_s` simulated seconds.

    A hub is looked at again only when an order arrived since its last look: an order that found
    no place then will not find one in routes that only grew shorter in time.
    """

    day: date
    every_s: int = 300
    params: SolveParams = DEFAULT_PARAMS
    last: datetime | None = None
    placed: int = 0
    seen: dict[int, int] = field(default_factory=dict)  # hub id -> newest waiting order id at its last look

    def __call__(self, engine: Engine, now: datetime) -> None:
        if self.last is not None and (now - self.last).total_seconds() < self.every_s:
            return
        self.last = now
        with unit_of_work(engine) as session:
            self._look(session, now)

    def _look(self, session: Session, now: datetime) -> None:
        hubs = session.execute(
            select(Order.hub_id, func.max(Order.id))
            .where(
                Order.service_date == self.day,
                Order.status == OrderStatus.UNASSIGNED,
                Order.created_at <= now,
            )
            .group_by(Order.hub_id)
        ).all()
        for hub_id, newest in hubs:
            if self.seen.get(hub_id) == newest:
                continue
            self.seen[hub_id] = newest
            self.placed += insert_waiting(session, hub_id, self.day, now, self.params)[0]


__all__ = ["AGENT", "CheapestInsertionDispatch", "insert_waiting"]

"""The capacity agent on a hand-built hub at 10:00, every order due by 12:00.

Each order is 30 min at the door plus ~1 min of driving (neighbours ~250-330 m apart, x1.3
circuity x1.4 tour factor at 30 km/h), so ~0.52 driver-hours. Two captive drivers on shift
08-18 give 2 x 2 h x 0.85 = 3.4 productive driver-hours in 10:00-12:00. A DashDrop courier
called in at 10:00 starts at 10:30 (half an hour's lead), so adds 1.5 h x 0.85 = 1.275 h.

    12 orders: ~6.2 h due, 3.4 h on shift: 2.8 h short; g1 and g2 bring it to ~0.27 h (under the
               half-hour tolerance), so g3 stays home.
     4 orders: ~2.1 h due: no shortfall, no proposal.
    24 orders: ~12.4 h due; all three couriers leave ~5.2 h short, so orders go to the two
               ParcelCo drivers on standby: each can load 10:00-10:10 and reach 4 doors by 12:00.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.agents.appliers import APPLIERS
from core.agents.capacity import CALL_IN, MOVE_TO_3PL, capacity_outlook, propose_capacity
from core.agents.dispatch_problem import load_day_state
from core.agents.policy import policy_viewer, settle
from core.kinds import DriverStatus, OrderStatus, ProposalStatus
from core.models import Order, Proposal, Route, Stop
from core.plan_change import RouteChange
from core.proposal_kinds import CallIn, CapacityEffect
from core.proposals import approve
from core.timeutil import hhmm
from tests.core.agents.builders import DAY, World, build, local

NOW = local(10)
AGENT = policy_viewer("capacity-agent")


def _hub(db: Session, orders: int) -> World:
    w = build(db)
    w.driver("c1", "own", 8, 18)
    w.driver("c2", "own", 8, 18)
    for code in ("g1", "g2", "g3"):
        w.driver(code, "gig", 8, 20, DriverStatus.OFF_DUTY)
    w.driver("g9", "gig", 8, 20, DriverStatus.SUSPENDED)
    for _ in range(orders):
        w.order((10, 12))
    return w


def test_outlook_buckets_work_by_window_end_against_drivers_on_shift(db: Session) -> None:
    w = _hub(db, 12)
    outlook = capacity_outlook(db, w.hub.id, DAY, NOW)
    assert outlook.open_orders == 12
    assert [h.start_s // 3600 for h in outlook.hours[:3]] == [10, 11, 12]
    assert outlook.hours[1].work_due_s == sum(h.work_due_s for h in outlook.hours)  # all due 12:00
    assert outlook.hours[0].captive_s == 2 * 3600 * 0.85 and outlook.hours[0].gig_s == 0
    worst = outlook.worst
    assert worst is not None and (worst.start_s, worst.end_s) == (10 * 3600, 12 * 3600)
    assert worst.available_s == 2 * 2 * 3600 * 0.85
    assert 12 * 1800 < worst.work_due_s < 12 * 1900
    assert worst.text("QNS").startswith("QNS 10:00-12:00: 6 driver-hours of work due, 3 on shift")


def test_shortfall_calls_in_off_duty_couriers_and_the_allocator_can_use_them(db: Session) -> None:
    w = _hub(db, 12)
    proposals = propose_capacity(db, AGENT, w.hub.id, DAY, NOW)
    assert [p.change.action for p in proposals] == [CALL_IN]
    call_in = proposals[0]
    change, effect = call_in.change, call_in.effect
    assert isinstance(change, CallIn) and isinstance(effect, CapacityEffect)
    assert [(d.code, hhmm(d.start_s), hhmm(d.end_s)) for d in change.drivers] == [
        ("g1", "10:30", "20:00"),
        ("g2", "10:30", "20:00"),
    ]
    assert effect.shortfall_before_h == 2.8 and effect.shortfall_after_h < 0.5
    assert effect.cost_delta_cents > 0 and "DashDrop" in call_in.rationale
    assert propose_capacity(db, AGENT, w.hub.id, DAY, NOW) == []  # the pending call-in counts

    outcome = settle(db, call_in, CALL_IN, NOW)
    assert outcome.applied and not outcome.escalated
    specs = {d.id: d for d in load_day_state(db, w.hub.id, DAY, NOW).problem.drivers}
    assert not specs["g1"].blocked and not specs["g2"].blocked and specs["g3"].blocked
    assert specs["g1"].shift_start_s == 10 * 3600 + 1800 and specs["g1"].shift_end_s == 20 * 3600
    assert propose_capacity(db, AGENT, w.hub.id, DAY, local(10, 5)) == []  # now counted on shift


def test_enough_capacity_means_no_proposal(db: Session) -> None:
    w = _hub(db, 4)
    assert capacity_outlook(db, w.hub.id, DAY, NOW).worst is None
    assert propose_capacity(db, AGENT, w.hub.id, DAY, NOW) == []
    assert db.scalars(select(Proposal)).first() is None


def test_shortfall_couriers_cannot_cover_goes_to_3pl_for_a_person(db: Session) -> None:
    w = _hub(db, 24)
    w.driver("t1", "3pl", 8, 18)
    w.driver("t2", "3pl", 8, 18)
    by_action = {p.change.action: p for p in propose_capacity(db, AGENT, w.hub.id, DAY, NOW)}
    assert set(by_action) == {CALL_IN, MOVE_TO_3PL}
    call_in = by_action[CALL_IN].change
    assert isinstance(call_in, CallIn) and [d.code for d in call_in.drivers] == ["g1", "g2", "g3"]
    move = by_action[MOVE_TO_3PL]
    change, effect = move.change, move.effect
    assert isinstance(change, RouteChange) and isinstance(effect, CapacityEffect)
    assert move.kind == "rebalance" and {r.driver for r in change.routes} == {"t1", "t2"}
    assert effect.orders_moved == 8 and effect.routes_touched == 2
    assert effect.shortfall_after_h < effect.shortfall_before_h
    assert effect.cost_delta_cents == 2 * 9000  # 4 drops x $4.50 < the $90 route minimum
    assert "ParcelCo" in move.rationale

    escalated = settle(db, move, MOVE_TO_3PL, NOW)
    assert escalated.escalated and not escalated.applied
    assert db.get(Proposal, move.id).status is ProposalStatus.PENDING  # type: ignore[union-attr]
    applied = settle(db, by_action[CALL_IN], CALL_IN, NOW)
    assert applied.applied

    # The call-in touched other drivers and no order, so the 3PL proposal is still valid: the
    # next turn does not repeat it, and a dispatcher approves it on the newer plan version.
    assert db.get(Proposal, move.id).status is ProposalStatus.PENDING  # type: ignore[union-attr]
    again = propose_capacity(db, AGENT, w.hub.id, DAY, NOW)
    assert [p for p in again if p.change.action == MOVE_TO_3PL] == []
    approve(db, SYSTEM, move.id, APPLIERS, now=NOW)
    on_3pl = db.scalars(
        select(Order.status)
        .join(Stop, Stop.order_id == Order.id)
        .join(Route, Route.id == Stop.route_id)
        .where(Route.driver_id.in_([w.drivers["t1"].id, w.drivers["t2"].id]))
    ).all()
    assert len(on_3pl) == 8 and set(on_3pl) == {OrderStatus.PLANNED}

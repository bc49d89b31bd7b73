"""Proposals go stale only when a change applied since touches the same drivers or orders."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.agents.policy import Rule, policy_viewer, settle
from core.errors import StaleProposalError
from core.kinds import ProposalKind, ProposalStatus, ProposerKind
from core.models import Plan
from core.plan_change import NewRoute, OrderMove, PlacementEffect, PlannedStop, RouteChange, Touches
from core.proposal_kinds import (
    CalledIn,
    CallIn,
    CapacityEffect,
    LoadingPlanChange,
    Reroute,
    Retime,
)
from core.proposals import Applied, Applier, Appliers, approve, create_proposal, proposal_view
from tests.core.agents.builders import build, local


def _note(session: Session, plan: Plan, change: CallIn, now: datetime) -> Applied:
    return Applied(f"note on {sorted(d.code for d in change.drivers)}")


NOTES: Appliers = {ProposalKind.CALL_IN_GIG: Applier(CallIn, _note)}


def _effect(orders_moved: int = 0) -> CapacityEffect:
    return CapacityEffect(1.0, 0.0, 0, orders_moved=orders_moved, routes_touched=0)


def _propose(db: Session, plan: Plan, drivers: list[str], by: str = "someone", orders_moved: int = 0) -> int:
    change = CallIn(None, "", by, tuple(CalledIn(d, "gig", 0, 3600) for d in drivers))
    return create_proposal(
        db, plan, by, ProposerKind.AGENT, change, _effect(orders_moved), "test", local(9)
    ).id


def _plan(db: Session) -> Plan:
    w = build(db)
    plan = Plan(hub_id=w.hub.id, service_date=local(9).date(), updated_at=local(6))
    db.add(plan)
    db.flush()
    return plan


def test_each_change_says_what_it_touches() -> None:
    rebalance = RouteChange(
        None,
        "",
        "x",
        (NewRoute("D1", (PlannedStop("o1", 100), PlannedStop("o2", 200)), None, None, 0),),
        (OrderMove("o3", "D2", 0, None, None, "dropped"),),
    )
    assert rebalance.touches() == Touches(frozenset({"D1", "D2"}), frozenset({"o1", "o2", "o3"}))
    loading = LoadingPlanChange(None, "", "x", 2, 1200, (Retime(4, "D5", 1, 0, 600),))
    assert loading.touches() == Touches(frozenset({"D5"}), frozenset())
    call_in = CallIn(None, "", "x", (CalledIn("G1", "gig", 0, 1), CalledIn("G2", "gig", 0, 1)))
    assert call_in.touches().drivers == {"G1", "G2"}
    reroute = Reroute(1, "D1", "road_closed", (PlannedStop("o1", 100),), 200, 1000)
    assert reroute.touches() == Touches(frozenset(), frozenset())  # the stops stay with their driver


def test_a_change_elsewhere_leaves_a_proposal_valid(db: Session) -> None:
    plan = _plan(db)
    first, second = _propose(db, plan, ["a"]), _propose(db, plan, ["b"])
    third = _propose(db, plan, ["a", "c"])
    approve(db, SYSTEM, first, NOTES, now=local(10))
    assert proposal_view(db, second).status is ProposalStatus.PENDING
    assert proposal_view(db, third).status is ProposalStatus.STALE  # shares driver a
    approve(db, SYSTEM, second, NOTES, now=local(10, 5))
    db.refresh(plan)
    assert plan.version == 3
    with pytest.raises(StaleProposalError):
        approve(db, SYSTEM, third, NOTES, now=local(10, 10))


def test_a_proposal_made_before_a_conflicting_change_is_refused(db: Session) -> None:
    plan = _plan(db)
    early = _propose(db, plan, ["a"])
    plan.version += 1  # a change that left no audited proposal: nothing says what it touched
    db.flush()
    with pytest.raises(StaleProposalError, match="plan changed since this proposal was made"):
        approve(db, SYSTEM, early, NOTES, now=local(10))


def test_policy_applies_within_its_caps_and_escalates_beyond(db: Session) -> None:
    assert Rule(True, max_orders_moved=5).allows(_effect(5))
    assert not Rule(True, max_orders_moved=5).allows(_effect(6))
    assert Rule(True, max_orders_moved=5, max_routes_touched=0).allows(PlacementEffect(40, 0))
    assert not Rule(False).allows(_effect())
    plan = _plan(db)
    small = proposal_view(db, _propose(db, plan, ["a"], by="dispatch-agent", orders_moved=3))
    big = proposal_view(db, _propose(db, plan, ["b"], by="dispatch-agent", orders_moved=400))
    unknown = proposal_view(db, _propose(db, plan, ["c"], by="stranger-agent"))
    assert settle(db, small, "reoptimise", local(10), appliers=NOTES).applied
    outcome = settle(db, big, "reoptimise", local(10), appliers=NOTES)
    assert outcome.escalated and not outcome.applied
    assert proposal_view(db, big.id).status is ProposalStatus.PENDING
    assert settle(db, unknown, "anything", local(10), appliers=NOTES).escalated  # no rule: a person decides
    assert policy_viewer("dispatch-agent").username == "dispatch-agent"


def test_a_stale_proposal_is_dropped_not_escalated(db: Session) -> None:
    plan = _plan(db)
    first = proposal_view(db, _propose(db, plan, ["a"], by="compliance-agent"))
    second = proposal_view(db, _propose(db, plan, ["a"], by="compliance-agent"))
    assert settle(db, first, "reassign", local(10), appliers=NOTES).applied
    outcome = settle(db, second, "reassign", local(10), appliers=NOTES)
    assert not outcome.applied and not outcome.escalated and "ask for a fresh proposal" in outcome.note

"""The dispatch agent's proposals, applied atomically and refused when stale."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.access import Viewer
from core.agents.appliers import APPLIERS
from core.agents.dispatch import RebalanceRequest, propose_rebalance
from core.agents.dispatch_problem import load_day_state
from core.errors import AccessDeniedError, StaleProposalError
from core.kinds import OrderStatus, ProposalStatus
from core.models import AuditEntry, Hub, Order, Plan, Stop, User
from core.plan_change import PlanEffect
from core.proposals import approve, list_proposals, reject
from tests.conftest import TEST_DAY

NOON = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 12:00 in New York


def _viewer(session: Session, username: str) -> Viewer:
    u = session.scalars(select(User).where(User.username == username)).one()
    return Viewer(
        username=u.username, role=u.role, user_id=u.id, vendor_id=u.vendor_id, driver_id=u.driver_id
    )


def _hub(session: Session) -> Hub:
    return session.scalars(select(Hub).order_by(Hub.id)).first()  # type: ignore[return-value]


def _request(hub: Hub, **kw: object) -> RebalanceRequest:
    return RebalanceRequest(hub_id=hub.id, day=TEST_DAY, seconds=1.5, **kw)  # type: ignore[arg-type]


def test_day_state_starts_drivers_at_the_hub_with_open_orders(seeded_db: Session) -> None:
    hub = _hub(seeded_db)
    state = load_day_state(seeded_db, hub.id, TEST_DAY)
    open_orders = seeded_db.scalar(
        select(func.count()).select_from(Order).where(Order.hub_id == hub.id, Order.service_date == TEST_DAY)
    )
    assert len(state.problem.orders) == open_orders
    assert all((d.lat, d.lon) == (hub.lat, hub.lon) for d in state.problem.drivers)
    assert state.live == {} and state.plan_id is None
    assert any(d.zone_success for d in state.problem.drivers)  # learned from history


def test_first_dispatch_proposal_assigns_orders_and_approval_applies_it(seeded_db: Session) -> None:
    hub, priya = _hub(seeded_db), _viewer(seeded_db, "priya")
    proposal = propose_rebalance(seeded_db, priya, _request(hub))
    assert proposal.status is ProposalStatus.PENDING and proposal.base_version == 1
    effect = proposal.effect
    assert isinstance(effect, PlanEffect)
    before, after = effect.before, effect.after
    assert after.unassigned < before.unassigned
    placed = effect.orders_placed
    assert placed == before.unassigned - after.unassigned > 0
    assert proposal.rationale

    applied = approve(seeded_db, priya, proposal.id, APPLIERS, now=NOON)
    assert applied.status is ProposalStatus.APPLIED and applied.decided_by == "priya"
    plan = seeded_db.get(Plan, proposal.plan_id)
    assert plan is not None and plan.version == 2
    planned = seeded_db.scalar(
        select(func.count())
        .select_from(Order)
        .where(Order.hub_id == hub.id, Order.service_date == TEST_DAY, Order.status == OrderStatus.PLANNED)
    )
    stops = seeded_db.scalar(
        select(func.count())
        .select_from(Stop)
        .join(Order)
        .where(Order.hub_id == hub.id, Order.service_date == TEST_DAY)
    )
    assert planned == stops == placed
    audit = seeded_db.scalars(select(AuditEntry).where(AuditEntry.action == "apply_rebalance")).one()
    assert audit.actor == "priya" and audit.detail["to_version"] == 2


@pytest.mark.slow
def test_stale_proposal_is_refused_and_changes_nothing(seeded_db: Session) -> None:
    hub, priya = _hub(seeded_db), _viewer(seeded_db, "priya")
    first = propose_rebalance(seeded_db, priya, _request(hub))
    second = propose_rebalance(seeded_db, priya, _request(hub, seed=1))
    approve(seeded_db, priya, first.id, APPLIERS, now=NOON)
    stops_after_first = seeded_db.scalar(select(func.count()).select_from(Stop))
    with pytest.raises(StaleProposalError, match="plan changed since this proposal was made"):
        approve(seeded_db, priya, second.id, APPLIERS, now=NOON)
    assert seeded_db.scalar(select(func.count()).select_from(Stop)) == stops_after_first
    assert seeded_db.get(Plan, first.plan_id).version == 2  # type: ignore[union-attr]


@pytest.mark.slow
def test_rebalance_of_a_day_under_way_is_never_worse_and_keeps_the_budget(seeded_db: Session) -> None:
    hub, priya = _hub(seeded_db), _viewer(seeded_db, "priya")
    approve(seeded_db, priya, propose_rebalance(seeded_db, priya, _request(hub)).id, APPLIERS, now=NOON)
    again = propose_rebalance(seeded_db, priya, _request(hub, max_orders_moved=2, seed=3))
    effect = again.effect
    assert isinstance(effect, PlanEffect)
    assert effect.after.unassigned <= effect.before.unassigned
    assert effect.orders_moved <= 2


def test_only_dispatchers_decide(seeded_db: Session) -> None:
    hub = _hub(seeded_db)
    proposal = propose_rebalance(seeded_db, _viewer(seeded_db, "priya"), _request(hub))
    with pytest.raises(AccessDeniedError):
        approve(seeded_db, _viewer(seeded_db, "jonas"), proposal.id, APPLIERS)
    with pytest.raises(AccessDeniedError):
        propose_rebalance(seeded_db, _viewer(seeded_db, "marcus"), _request(hub))
    rejected = reject(seeded_db, _viewer(seeded_db, "admin"), proposal.id, "too many moves")
    assert rejected.status is ProposalStatus.REJECTED and rejected.decision_reason == "too many moves"
    assert list_proposals(seeded_db, _viewer(seeded_db, "jonas")) == []
    assert [p.id for p in list_proposals(seeded_db, _viewer(seeded_db, "marcus"))] == [proposal.id]


def test_a_rebalance_that_changes_nothing_is_closed_at_once_and_audited(seeded_db: Session) -> None:
    """Nothing open at the hub: the proposal is decided at birth, and like every decision it is
    in the audit log once."""
    hub, priya = _hub(seeded_db), _viewer(seeded_db, "priya")
    seeded_db.execute(
        update(Order)
        .where(Order.hub_id == hub.id, Order.service_date == TEST_DAY)
        .values(status=OrderStatus.DELIVERED, delivered_at=NOON)
    )
    proposal = propose_rebalance(seeded_db, priya, _request(hub))
    assert proposal.status is ProposalStatus.REJECTED and proposal.decided_by == "priya"
    audits = seeded_db.scalars(
        select(AuditEntry).where(AuditEntry.entity == "proposal", AuditEntry.entity_id == proposal.id)
    ).all()
    assert [a.action for a in audits] == ["reject_rebalance"]

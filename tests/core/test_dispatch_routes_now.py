"""The proposal map's "before": the touched drivers' routes as the plan has them now."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import Viewer
from core.agents.appliers import APPLIERS
from core.agents.dispatch import RebalanceRequest, changed_routes, propose_rebalance, routes_now
from core.models import Hub, User
from core.proposals import approve
from tests.conftest import TEST_DAY

SIX_AM = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 06:00 in New York


def _priya(session: Session) -> Viewer:
    u = session.scalars(select(User).where(User.username == "priya")).one()
    return Viewer(username=u.username, role=u.role, user_id=u.id)


def test_routes_now_are_empty_before_and_the_proposed_routes_after_approval(seeded_db: Session) -> None:
    hub = seeded_db.scalars(select(Hub).order_by(Hub.id)).first()
    assert hub is not None
    priya = _priya(seeded_db)
    proposal = propose_rebalance(seeded_db, priya, RebalanceRequest(hub_id=hub.id, day=TEST_DAY, seconds=1.5))
    proposed = changed_routes(seeded_db, proposal)
    assert proposed and routes_now(seeded_db, proposal) == []  # a fresh day: nobody has a route yet
    approve(seeded_db, priya, proposal.id, APPLIERS, now=SIX_AM)
    assert routes_now(seeded_db, proposal) == proposed


def test_a_rebalance_is_stamped_with_the_callers_clock(seeded_db: Session) -> None:
    hub = seeded_db.scalars(select(Hub).order_by(Hub.id)).first()
    assert hub is not None
    request = RebalanceRequest(hub_id=hub.id, day=TEST_DAY, seconds=1.0, recorded_at=SIX_AM)
    proposal = propose_rebalance(seeded_db, _priya(seeded_db), request)
    assert proposal.created_at == SIX_AM

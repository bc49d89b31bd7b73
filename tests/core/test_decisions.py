"""A person's decision in one action: an approval refused as stale closes the proposal, once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, update

from core.access import SYSTEM
from core.db import make_engine, migrate, unit_of_work
from core.decisions import decide
from core.errors import StaleProposalError
from core.kinds import ProposalStatus
from core.models import AuditEntry, Plan
from core.proposals import proposal_view
from tests.conftest import Databases
from tests.core.agents.builders import local
from tests.core.test_proposals import NOTES, _plan, _propose


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh(request: pytest.FixtureRequest, databases: Databases) -> Iterator[Engine]:
    """An empty database of its own: decisions commit."""
    made = make_engine(databases.url(request.param, "decisions"))
    migrate(made)
    yield made
    made.dispose()


def _audits(engine: Engine, proposal_id: int) -> list[str]:
    with unit_of_work(engine, read_only=True) as s:
        audits = select(AuditEntry.action).where(
            AuditEntry.entity == "proposal", AuditEntry.entity_id == proposal_id
        )
        return list(s.scalars(audits))


def test_an_approval_refused_as_stale_closes_the_proposal_once_with_the_reason(fresh: Engine) -> None:
    engine = fresh
    with unit_of_work(engine) as s:
        plan = _plan(s)
        plan_id, stale, other = plan.id, _propose(s, plan, ["a"]), _propose(s, plan, ["b"])
    with unit_of_work(engine) as s:  # a change that left no audited proposal: nothing says what it touched
        s.execute(update(Plan).where(Plan.id == plan_id).values(version=Plan.version + 1))
    for _ in range(2):  # a second click finds it closed and changes nothing more
        with pytest.raises(StaleProposalError, match="plan changed since this proposal was made"):
            decide(engine, SYSTEM, stale, True, NOTES, now=local(10))
    with unit_of_work(engine, read_only=True) as s:
        closed = proposal_view(s, stale)
        assert closed.status is ProposalStatus.STALE
        assert "plan changed since this proposal was made" in (closed.decision_reason or "")
        assert s.get(Plan, plan_id).version == 2  # type: ignore[union-attr]
    assert _audits(engine, stale) == ["stale_call_in_gig"]
    rejected = decide(engine, SYSTEM, other, False, NOTES, reason="not today", now=local(10))
    assert rejected.status is ProposalStatus.REJECTED and _audits(engine, other) == ["reject_call_in_gig"]

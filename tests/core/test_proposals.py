"""Proposals go stale only when a change applied since touches the same drivers or orders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.agents.policy import Rule, policy_viewer, settle
from core.errors import StaleProposalError
from core.kinds import ProposalStatus, ProposerKind
from core.models import Plan
from core.proposals import Touches, approve, create_proposal, proposal_view, register_applier, touches
from tests.core.agents.builders import build, local

KIND = "test_note"


def _note(session: Session, plan: Plan, change: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"summary": f"note on {sorted(change.get('drivers', []))}"}


register_applier(KIND, _note)


def _propose(db: Session, plan: Plan, drivers: list[str], by: str = "someone", **effect: int) -> int:
    return create_proposal(
        db, plan, KIND, by, ProposerKind.AGENT, {"drivers": drivers}, dict(effect), "test", local(9)
    ).id


def _plan(db: Session) -> Plan:
    w = build(db)
    plan = Plan(hub_id=w.hub.id, service_date=local(9).date(), updated_at=local(6))
    db.add(plan)
    db.flush()
    return plan


def test_touches_reads_every_change_shape() -> None:
    rebalance = {
        "routes": {"D1": {"stops": [["o1", 100], ["o2", 200]]}},
        "moves": [{"order": "o3", "from_driver": "D2", "to_driver": None}],
    }
    assert touches(rebalance) == Touches(frozenset({"D1", "D2"}), frozenset({"o1", "o2", "o3"}))
    loading = {"routes": [{"route_id": 4, "driver": "D5"}]}
    assert touches(loading) == Touches(frozenset({"D5"}), frozenset())
    call_in = {"drivers": [{"code": "G1"}, "G2"]}
    assert touches(call_in).drivers == {"G1", "G2"}


def test_a_change_elsewhere_leaves_a_proposal_valid(db: Session) -> None:
    plan = _plan(db)
    first, second = _propose(db, plan, ["a"]), _propose(db, plan, ["b"])
    third = _propose(db, plan, ["a", "c"])
    approve(db, SYSTEM, first, now=local(10))
    assert proposal_view(db, second).status is ProposalStatus.PENDING
    assert proposal_view(db, third).status is ProposalStatus.STALE  # shares driver a
    approve(db, SYSTEM, second, now=local(10, 5))
    db.refresh(plan)
    assert plan.version == 3
    with pytest.raises(StaleProposalError):
        approve(db, SYSTEM, third, now=local(10, 10))


def test_a_proposal_made_before_a_conflicting_change_is_refused(db: Session) -> None:
    plan = _plan(db)
    early = _propose(db, plan, ["a"])
    plan.version += 1  # a change that left no audited proposal: nothing says what it touched
    db.flush()
    with pytest.raises(StaleProposalError, match="plan changed since this proposal was made"):
        approve(db, SYSTEM, early, now=local(10))


def test_policy_applies_within_its_caps_and_escalates_beyond(db: Session) -> None:
    assert Rule(True, max_orders_moved=5).allows({"orders_moved": 5})
    assert not Rule(True, max_orders_moved=5).allows({"orders_moved": 6})
    assert not Rule(False).allows({})
    plan = _plan(db)
    small = proposal_view(db, _propose(db, plan, ["a"], by="dispatch-agent", orders_moved=3))
    big = proposal_view(db, _propose(db, plan, ["b"], by="dispatch-agent", orders_moved=400))
    unknown = proposal_view(db, _propose(db, plan, ["c"], by="stranger-agent"))
    assert settle(db, small, "reoptimise", local(10)).applied
    outcome = settle(db, big, "reoptimise", local(10))
    assert outcome.escalated and not outcome.applied
    assert proposal_view(db, big.id).status is ProposalStatus.PENDING
    assert settle(db, unknown, "anything", local(10)).escalated  # no rule: a person decides
    assert policy_viewer("dispatch-agent").username == "dispatch-agent"


def test_a_stale_proposal_is_dropped_not_escalated(db: Session) -> None:
    plan = _plan(db)
    first = proposal_view(db, _propose(db, plan, ["a"], by="compliance-agent"))
    second = proposal_view(db, _propose(db, plan, ["a"], by="compliance-agent"))
    assert settle(db, first, "reassign", local(10)).applied
    outcome = settle(db, second, "reassign", local(10))
    assert not outcome.applied and not outcome.escalated and "ask for a fresh proposal" in outcome.note

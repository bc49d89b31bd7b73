"""Every kind of proposal can be approved: the applier mapping names each kind, for its change type."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.agents.appliers import APPLIERS
from core.errors import ControlTowerError
from core.kinds import ProposalKind
from core.models import Plan
from core.proposal_kinds import CHANGE_TYPES, CalledIn, CallIn
from tests.core.agents.builders import build, local


def test_every_proposal_kind_has_an_applier_for_its_change_type() -> None:
    assert set(APPLIERS) == set(ProposalKind) == set(CHANGE_TYPES)
    for kind in ProposalKind:
        assert CHANGE_TYPES[kind].KIND is kind
        assert APPLIERS[kind].change_type is CHANGE_TYPES[kind], kind


def test_an_applier_refuses_a_change_of_another_kind(db: Session) -> None:
    w = build(db)
    plan = Plan(hub_id=w.hub.id, service_date=local(9).date(), updated_at=local(6))
    call_in = CallIn(w.hub.id, "", "x", (CalledIn("g1", "gig", 0, 3600),))
    with pytest.raises(ControlTowerError, match="CallIn cannot be applied as a RouteChange"):
        APPLIERS[ProposalKind.REBALANCE](db, plan, call_in, local(9))

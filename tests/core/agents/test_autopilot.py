"""The autopilot: the dispatch agent acts on triggers and its policy decides who applies.

A hand-built hub at 10:00: two captive drivers, each with a route of two stops near the hub;
an urgent order arrives at 10:00 with a 10:30-12:30 window.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.agents.autopilot import DISPATCH, Autopilot, AutopilotParams, predicted_late
from core.agents.policy import DEFAULT_POLICIES, AgentPolicy, Rule
from core.field import ExceptionReason, ProblemReport, report_problem
from core.kinds import OrderStatus, ProposalStatus
from core.models import AuditEntry, Event, Order, Proposal
from tests.core.agents.builders import DAY, World, build, local

FAST = AutopilotParams(dispatch_seconds=1.0)


def _hub(db: Session) -> tuple[World, Order]:
    w = build(db)
    w.driver("c1", "own", 8, 18)
    w.driver("c2", "own", 8, 18)
    a, b, c, d = (w.order((10, 14), service_s=300) for _ in range(4))
    w.route("c1", (9, 0), [(a, (10, 40)), (b, (11, 0))])
    w.route("c2", (9, 0), [(c, (10, 40)), (d, (11, 0))])
    urgent = w.order((10, 12), service_s=300)
    urgent.created_at = local(10)
    db.flush()
    return w, urgent


def test_an_urgent_order_is_placed_by_the_dispatch_agent_under_its_policy(db: Session) -> None:
    _, urgent = _hub(db)
    pilot = Autopilot(DAY, FAST)
    pilot(db, local(10, 5))
    db.refresh(urgent)
    assert urgent.status is OrderStatus.PLANNED
    [proposal] = db.scalars(select(Proposal)).all()
    assert proposal.proposed_by == DISPATCH and proposal.status is ProposalStatus.APPLIED
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "apply_rebalance")).one()
    assert audit.actor == DISPATCH
    assert pilot.escalations == 0
    pilot(db, local(10, 30))  # nothing new since: no second re-plan
    assert len(db.scalars(select(Proposal)).all()) == 1


def test_a_change_bigger_than_the_policy_allows_waits_for_a_dispatcher(db: Session) -> None:
    _, urgent = _hub(db)
    strict = dict(DEFAULT_POLICIES) | {
        DISPATCH: AgentPolicy(DISPATCH, {"reoptimise": Rule(True, max_routes_touched=0)})
    }
    pilot = Autopilot(DAY, replace(FAST, policies=strict))
    pilot(db, local(10, 5))
    [proposal] = db.scalars(select(Proposal)).all()
    assert proposal.status is ProposalStatus.PENDING
    assert pilot.escalations == 1 and pilot.outcomes[0].note == "needs a dispatcher"
    db.refresh(urgent)
    assert urgent.status is OrderStatus.UNASSIGNED  # nothing applied behind the dispatcher's back


def test_an_applied_re_plan_answers_the_co_pilot_s_request_to_dispatch(db: Session) -> None:
    w, _ = _hub(db)
    request = report_problem(
        db,
        w.drivers["c1"].id,
        local(10),
        ProblemReport(reason=ExceptionReason.ROAD_CLOSED, lat=40.70, lon=-74.0, needs_dispatch=True),
    )
    Autopilot(DAY, FAST)(db, local(10, 5))
    event = db.get(Event, request)
    assert event is not None and event.payload["resolved"] is True
    assert "dispatch agent" in event.payload["resolution"]


def test_a_hub_with_nothing_new_is_left_alone(db: Session) -> None:
    w = build(db)
    w.driver("c1", "own", 8, 18)
    a = w.order((10, 14))
    w.route("c1", (9, 0), [(a, (10, 40))])
    Autopilot(DAY, FAST)(db, local(10, 5))
    assert db.scalars(select(Proposal)).all() == []


def test_predicted_lateness_carries_the_driver_s_delay_along_the_route(db: Session) -> None:
    w = build(db)
    w.driver("c1", "own", 8, 18)
    first, second, third = w.order((9, 10)), w.order((9, 11)), w.order((9, 12))
    first.window_end_at, second.window_end_at = local(10, 30), local(10, 45)
    w.route("c1", (9, 0), [(first, (10, 0)), (second, (10, 30)), (third, (11, 0))])
    assert predicted_late(db, w.hub.id, DAY, local(9, 50)) == 0  # on time: no delay
    assert predicted_late(db, w.hub.id, DAY, local(10, 20)) == 1  # 20 min behind: 10:50 > 10:45
    assert predicted_late(db, w.hub.id, DAY, local(11, 10)) == 3  # 70 min behind: all three


def test_the_registry_names_each_hub_agent_and_refuses_an_unknown_one() -> None:
    from core.agents.registry import hub_agents

    agents = hub_agents()
    assert set(agents) == {"capacity-agent", "hub-agent", "compliance-agent"}
    assert {every for _, every, _ in agents.values()} <= {1800, 3600}
    assert set(hub_agents(["hub"])) == {"hub-agent"}
    with pytest.raises(ValueError, match="unknown agents \\['weather'\\]"):
        hub_agents(["weather"])

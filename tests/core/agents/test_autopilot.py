"""The autopilot: the dispatch agent acts on triggers and its policy decides who applies.

A hand-built hub at 10:00: two captive drivers, each with a route of two stops near the hub;
an urgent order arrives at 10:00 with a 10:30-12:30 window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.agents.autopilot import DISPATCH, Autopilot, AutopilotParams, predicted_late
from core.agents.policy import DEFAULT_POLICIES, AgentPolicy, Rule
from core.db import make_engine, migrate, unit_of_work
from core.field import ExceptionReason, ProblemReport, report_problem
from core.kinds import OrderStatus, ProposalStatus
from core.models import AuditEntry, Event, Order, Proposal
from tests.core.agents.builders import DAY, build, local

FAST = AutopilotParams(dispatch_seconds=1.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    """A database of its own: the autopilot commits its short units of work."""
    made = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(made)
    yield made
    made.dispose()


def _hub(engine: Engine) -> tuple[int, int]:
    """The hub above; returns (driver c1's id, the urgent order's id)."""
    with unit_of_work(engine) as db:
        w = build(db)
        w.driver("c1", "own", 8, 18)
        w.driver("c2", "own", 8, 18)
        a, b, c, d = (w.order((10, 14), service_s=300) for _ in range(4))
        w.route("c1", (9, 0), [(a, (10, 40)), (b, (11, 0))])
        w.route("c2", (9, 0), [(c, (10, 40)), (d, (11, 0))])
        urgent = w.order((10, 12), service_s=300)
        urgent.created_at = local(10)
        db.flush()
        return w.drivers["c1"].id, urgent.id


def _status(engine: Engine, order_id: int) -> OrderStatus:
    with unit_of_work(engine, read_only=True) as db:
        order = db.get(Order, order_id)
        assert order is not None
        return order.status


def _proposals(engine: Engine) -> list[tuple[str, ProposalStatus]]:
    with unit_of_work(engine, read_only=True) as db:
        return [(p.proposed_by, p.status) for p in db.scalars(select(Proposal))]


def test_an_urgent_order_is_placed_by_the_dispatch_agent_under_its_policy(store: Engine) -> None:
    _, urgent = _hub(store)
    pilot = Autopilot(DAY, FAST)
    pilot(store, local(10, 5))
    assert _status(store, urgent) is OrderStatus.PLANNED
    assert _proposals(store) == [(DISPATCH, ProposalStatus.APPLIED)]
    with unit_of_work(store, read_only=True) as db:
        audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "apply_rebalance")).one()
        assert audit.actor == DISPATCH
    assert pilot.escalations == 0
    pilot(store, local(10, 30))  # nothing new since: no second re-plan
    assert len(_proposals(store)) == 1


def test_a_change_bigger_than_the_policy_allows_waits_for_a_dispatcher(store: Engine) -> None:
    _, urgent = _hub(store)
    strict = dict(DEFAULT_POLICIES) | {
        DISPATCH: AgentPolicy(DISPATCH, {"reoptimise": Rule(True, max_routes_touched=0)})
    }
    pilot = Autopilot(DAY, replace(FAST, policies=strict))
    pilot(store, local(10, 5))
    assert _proposals(store) == [(DISPATCH, ProposalStatus.PENDING)]
    assert pilot.escalations == 1 and pilot.outcomes[0].note == "needs a dispatcher"
    assert _status(store, urgent) is OrderStatus.UNASSIGNED  # nothing applied behind the dispatcher's back


def test_an_applied_re_plan_answers_the_co_pilot_s_request_to_dispatch(store: Engine) -> None:
    c1, _ = _hub(store)
    with unit_of_work(store) as db:
        request = report_problem(
            db,
            c1,
            local(10),
            ProblemReport(reason=ExceptionReason.ROAD_CLOSED, lat=40.70, lon=-74.0, needs_dispatch=True),
        )
    Autopilot(DAY, FAST)(store, local(10, 5))
    with unit_of_work(store, read_only=True) as db:
        event = db.get(Event, request)
        assert event is not None and event.payload["resolved"] is True
        assert "dispatch agent" in event.payload["resolution"]


def test_a_hub_with_nothing_new_is_left_alone(store: Engine) -> None:
    with unit_of_work(store) as db:
        w = build(db)
        w.driver("c1", "own", 8, 18)
        a = w.order((10, 14))
        w.route("c1", (9, 0), [(a, (10, 40))])
    Autopilot(DAY, FAST)(store, local(10, 5))
    assert _proposals(store) == []


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

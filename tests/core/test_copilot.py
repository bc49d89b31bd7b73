"""The driver co-pilot: not-home options the customer allowed, ranked by cost; reroute or ask
dispatch on a disruption; the driver's own page only."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import Viewer
from core.agents.copilot import act_on_not_home, copilot_view, not_home_options
from core.agents.copilot_reroute import Closure, DisruptedTravel, reroute
from core.agents.customer import ChoiceRequest, issue_token, record_customer_choice
from core.allocator.stop import MaxSolutions
from core.errors import AccessDeniedError
from core.field import ExceptionAction, ExceptionReason, ProblemReport, report_problem
from core.kinds import CustomerChoiceKind, EventKind, OrderStatus, ProposalStatus, Role, StopStatus
from core.models import AuditEntry, Driver, Event, Fleet, Order, Plan, Proposal, Route, Stop
from core.plan_change import RouteChange
from tests.core.sim.fixtures import first_stop, open_stops, plan_day

A = ExceptionAction
SOLVE = MaxSolutions(100, max_runtime_s=20.0, stall_s=2.0)  # a count, not a clock: same answer anywhere


@pytest.fixture
def planned(seeded_db: Session) -> Session:
    plan_day(seeded_db, hub_ids=[1])
    return seeded_db


def _prefs(
    session: Session,
    order_id: int,
    safe: bool,
    neighbour: bool,
    locker: bool,
    skills: list[str] | None = None,
) -> Order:
    order = session.get(Order, order_id)
    assert order is not None
    order.safe_place_allowed, order.neighbour_allowed, order.locker_allowed = safe, neighbour, locker
    order.safe_place_note = "behind the side gate"
    order.required_skills = skills or []
    session.flush()
    return order


def test_only_the_actions_the_customer_allowed_are_offered(planned: Session) -> None:
    s = first_stop(planned)
    _prefs(planned, s.order_id, safe=False, neighbour=True, locker=False)
    advice = not_home_options(planned, s.driver_id, s.order_id, s.eta)
    assert [o.action for o in advice.options] == [A.NEIGHBOUR, A.RESCHEDULE, A.RETURN_TO_DEPOT]
    assert dict(advice.excluded) == {
        A.SAFE_PLACE: "the customer did not allow a safe place",
        A.LOCKER: "the customer did not allow a locker",
    }

    _prefs(planned, s.order_id, safe=True, neighbour=False, locker=True)
    advice = not_home_options(planned, s.driver_id, s.order_id, s.eta)
    offered = {o.action for o in advice.options}
    assert A.SAFE_PLACE in offered and A.NEIGHBOUR not in offered
    assert A.LOCKER in offered or "no locker within" in dict(advice.excluded)[A.LOCKER]
    safe = next(o for o in advice.options if o.action is A.SAFE_PLACE)
    assert safe.place == "behind the side gate"


def test_options_are_ranked_by_expected_cost_with_a_reason_each(planned: Session) -> None:
    s = first_stop(planned)
    _prefs(planned, s.order_id, safe=True, neighbour=True, locker=False)
    fleet = planned.scalars(select(Fleet).join(Driver).where(Driver.id == s.driver_id)).one()
    fleet.per_hour_cents = 3200  # 53.33 cents a minute, whatever the fleet
    options = not_home_options(planned, s.driver_id, s.order_id, s.eta).options
    # safe place: 1 min (53) + 2% x 1778 (36) = 89; neighbour: 4 min (213) + 15% x 1778 (267) = 480;
    # reschedule: 0.5 min (27) + a failed delivery 1778 = 1805; return: 1805 + 450 handling = 2255.
    assert [(o.action, o.expected_cost_cents) for o in options] == [
        (A.SAFE_PLACE, 89),
        (A.NEIGHBOUR, 480),
        (A.RESCHEDULE, 1805),
        (A.RETURN_TO_DEPOT, 2255),
    ]
    assert all(o.reason for o in options)
    assert "neighbour at number" in options[1].reason
    assert options[2].slot is not None and "08:00-10:00" in options[2].reason


def test_an_age_checked_parcel_goes_to_the_customer_only(planned: Session) -> None:
    s = first_stop(planned)
    _prefs(planned, s.order_id, safe=True, neighbour=True, locker=True, skills=["age_check"])
    advice = not_home_options(planned, s.driver_id, s.order_id, s.eta)
    assert [o.action for o in advice.options] == [A.RESCHEDULE, A.RETURN_TO_DEPOT]
    assert set(dict(advice.excluded)) == {A.SAFE_PLACE, A.NEIGHBOUR, A.LOCKER}


def test_a_choice_made_through_the_tracking_link_comes_first(planned: Session) -> None:
    s = first_stop(planned)
    _prefs(planned, s.order_id, safe=False, neighbour=False, locker=False)
    token = issue_token(planned, s.order_id, s.eta - timedelta(hours=2))
    record_customer_choice(
        planned,
        token,
        ChoiceRequest(CustomerChoiceKind.SAFE_PLACE, place="in the porch"),
        s.eta - timedelta(hours=1),
    )
    best = not_home_options(planned, s.driver_id, s.order_id, s.eta).options[0]
    assert best.action is A.SAFE_PLACE and best.customer_asked and best.place == "in the porch"
    assert best.reason.startswith("customer asked for this")


def test_sla_impact_names_the_later_stops_an_action_makes_late(planned: Session) -> None:
    stops = open_stops(planned)
    s = first_stop(planned, min_left=2)
    nxt = next(x for x in stops if x.route_id == s.route_id and x.order_id != s.order_id)
    _prefs(planned, s.order_id, safe=True, neighbour=True, locker=False)
    later = planned.get(Order, nxt.order_id)
    assert later is not None
    later.window_start_at = nxt.eta - timedelta(hours=1)
    later.window_end_at = nxt.eta + timedelta(minutes=2)  # 2 min of slack: gone after 4 min
    planned.flush()
    options = {o.action: o for o in not_home_options(planned, s.driver_id, s.order_id, s.eta).options}
    assert options[A.SAFE_PLACE].stops_made_late == ()
    assert options[A.NEIGHBOUR].stops_made_late == (later.external_ref,)
    # k later stops already late lose 1 min each with a safe place (50k cents); the neighbour's
    # 4 min cost them 4 min each, plus 2 min on the stop it makes late: 50 x (4k + 2).
    assert options[A.NEIGHBOUR].sla_cost_cents == 4 * options[A.SAFE_PLACE].sla_cost_cents + 100
    assert "makes 1 later stop(s) late" in options[A.NEIGHBOUR].reason


def test_the_chosen_action_is_recorded_as_delivery_or_failure(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    _prefs(planned, s.order_id, safe=True, neighbour=False, locker=False)
    safe = not_home_options(planned, s.driver_id, s.order_id, s.eta).options[0]
    act_on_not_home(planned, s.driver_id, s.order_id, s.eta, safe, s.lat, s.lon, photo_ref="photo:1")
    assert planned.get(Order, s.order_id).status is OrderStatus.DELIVERED  # type: ignore[union-attr]
    nxt = next(x for x in open_stops(planned) if x.route_id == s.route_id)
    options = not_home_options(planned, s.driver_id, nxt.order_id, nxt.eta).options
    resched = next(o for o in options if o.action is A.RESCHEDULE)
    act_on_not_home(planned, s.driver_id, nxt.order_id, nxt.eta, resched, nxt.lat, nxt.lon)
    assert planned.get(Order, nxt.order_id).status is OrderStatus.FAILED  # type: ignore[union-attr]
    record = planned.scalars(
        select(Event).where(Event.order_id == nxt.order_id, Event.kind == EventKind.EXCEPTION)
    ).one()
    assert record.payload["action"] == "reschedule" and "reschedule_start_at" in record.payload


def test_a_driver_sees_only_their_own_copilot(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    other = next(x.driver_id for x in open_stops(planned) if x.driver_id != s.driver_id)
    me = Viewer(username="sam", role=Role.DRIVER, driver_id=s.driver_id)
    report_problem(planned, s.driver_id, s.eta, ProblemReport(ExceptionReason.RUNNING_LATE, s.lat, s.lon))
    view = copilot_view(planned, me, s.driver_id, s.eta + timedelta(minutes=10))
    assert view.next_stop is not None and view.next_stop.order_id == s.order_id
    assert view.eta_at == s.eta + timedelta(minutes=10)  # ten minutes behind: the ETA moves with it
    assert view.running_late_s == 600 and len(view.remaining) >= 2
    assert view.route_points[0] == (view.lon, view.lat) and len(view.route_points) == len(view.remaining) + 2
    assert [e.reason for e in view.open_exceptions] == ["running_late"]
    with pytest.raises(AccessDeniedError):
        copilot_view(planned, me, other, s.eta)
    dispatcher = Viewer(username="priya", role=Role.DISPATCHER)
    assert copilot_view(planned, dispatcher, other, s.eta).driver_id == other


def test_disrupted_travel_slows_points_inside_a_closure_only() -> None:
    points = np.array([[40.70, -73.95], [40.71, -73.95], [40.75, -73.90]])
    base = DisruptedTravel().matrices(points, 12 * 3600)[1]
    closed = DisruptedTravel(closures=(Closure(40.71, -73.95, 300, 2.0),)).matrices(points, 12 * 3600)[1]
    assert closed[0, 1] >= 2 * base[0, 1] - 1 and closed[0, 2] == base[0, 2]


def test_a_road_closure_resequences_the_remaining_stops_under_policy(planned: Session) -> None:
    s = first_stop(planned, min_left=4)
    plan = planned.scalars(select(Plan).join(Route).where(Route.id == s.route_id)).one()
    version = plan.version
    out = reroute(
        planned,
        s.driver_id,
        s.eta - timedelta(minutes=20),
        ExceptionReason.ROAD_CLOSED,
        s.lat + 0.01,
        s.lon,
        closures=(Closure(s.lat, s.lon, 250, 3.0),),
        stop=SOLVE,
    )
    assert not out.escalated and sorted(out.before) == sorted(out.after)
    assert ("will now be late" in out.message) == bool(out.late_after)
    if out.applied:
        proposal = planned.get(Proposal, out.proposal_id)
        assert proposal is not None and proposal.kind == "reroute"
        assert proposal.status is ProposalStatus.APPLIED and proposal.proposed_by == "copilot"
        planned.refresh(plan)
        assert plan.version == version + 1
        refs = planned.scalars(
            select(Order.external_ref)
            .join(Stop)
            .where(Stop.route_id == s.route_id, Stop.status == StopStatus.PENDING)
            .order_by(Stop.sequence)
        ).all()
        assert tuple(refs) == out.after
        assert planned.scalars(select(AuditEntry).where(AuditEntry.action == "apply_reroute")).one()


def test_stops_that_cannot_be_kept_go_to_dispatch(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    night = s.eta.replace(hour=3) + timedelta(days=1)  # 22:00 in New York: windows long gone
    out = reroute(planned, s.driver_id, night, ExceptionReason.RUNNING_LATE, s.lat, s.lon, stop=SOLVE)
    assert out.escalated and "asked dispatch" in out.message
    event = planned.get(Event, out.escalation_event_id)
    assert event is not None and event.payload["needs_dispatch"] is True
    assert event.payload["detail"]["at_risk_count"] >= 1


def test_a_breakdown_asks_dispatch_at_once(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    event_id = report_problem(
        planned, s.driver_id, s.eta, ProblemReport(ExceptionReason.VEHICLE_BREAKDOWN, s.lat, s.lon)
    )
    out = reroute(
        planned,
        s.driver_id,
        s.eta,
        ExceptionReason.VEHICLE_BREAKDOWN,
        s.lat,
        s.lon,
        problem_event_id=event_id,
    )
    assert out.escalated and not out.applied and out.escalation_event_id == event_id
    payload = planned.get(Event, event_id).payload  # type: ignore[union-attr]
    assert payload["needs_dispatch"] is True and s.order_id in [
        planned.scalar(select(Order.id).where(Order.external_ref == r)) for r in payload["detail"]["at_risk"]
    ]


@pytest.mark.slow
def test_a_breakdown_can_put_a_rebalance_in_the_dispatchers_inbox(planned: Session) -> None:
    s = first_stop(planned, min_left=2)
    out = reroute(
        planned,
        s.driver_id,
        s.eta - timedelta(hours=1),
        ExceptionReason.VEHICLE_BREAKDOWN,
        s.lat,
        s.lon,
        propose_to_dispatch=True,
    )
    proposal = planned.get(Proposal, out.dispatch_proposal_id)
    assert proposal is not None and proposal.kind == "rebalance"
    assert proposal.status is ProposalStatus.PENDING  # a person decides
    code = planned.scalar(select(Driver.code).where(Driver.id == s.driver_id))
    assert not any(r.driver == code and r.stops for r in RouteChange.from_json(proposal.change).routes)

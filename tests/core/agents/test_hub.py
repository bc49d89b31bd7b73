"""The hub agent: loading waves for a hand-built dock, and a turnaround too long for the SLA.

Six vans, two bays, 20 min to load, all planned to start loading at 08:00 (drivers on shift
from 07:00, first stop due 12:00). Turning up together, they load 08:00/08:00, 08:20/08:20,
08:40/08:40: dock waits 0, 0, 20, 20, 40, 40 min (max 40, mean 20). The plan keeps the two
most urgent at 08:00 and brings the others in earlier: 07:40/07:40, 07:20/07:20; no one waits,
at most two load at once, four routes re-timed, nobody leaves late.

A 100 min turnaround with two bays and three vans planned at 08:00, drivers on shift from
08:00, first stops due 10:00 and planned at 09:50: two vans load 08:00-09:40, the third
09:40-11:20, so its first stop moves from 09:50 to 11:30: 90 min late, for a person.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.agents.hub import LOADING_PLAN, TURNAROUND_WARNING, loading_plan, propose_loading_plan
from core.agents.policy import policy_viewer, settle
from core.kinds import ProposalStatus
from core.models import Proposal, Route, Stop
from core.proposal_kinds import LoadingEffect, TurnaroundWarning, WarningEffect
from core.timeutil import seconds_since_midnight
from tests.core.agents.builders import DAY, TZ, World, build, local

NOW = local(6)
AGENT = policy_viewer("hub-agent")


def _dock(
    db: Session,
    vans: int,
    bays: int,
    turnaround_s: int,
    shift_start: int,
    due: tuple[int, int],
    eta: tuple[int, int],
) -> World:
    w = build(db, loading_bays=bays, turnaround_s=turnaround_s)
    for i in range(vans):
        w.driver(f"c{i + 1}", "own", shift_start, 18)
        w.route(f"c{i + 1}", (8, 0), [(w.order(due), eta)])
    return w


def _starts(db: Session) -> list[int]:
    starts = db.scalars(select(Route.planned_start_at)).all()
    return sorted(seconds_since_midnight(s, DAY, TZ) // 60 for s in starts)


def test_six_vans_two_bays_load_in_waves_without_waiting(db: Session) -> None:
    w = _dock(db, vans=6, bays=2, turnaround_s=1200, shift_start=7, due=(8, 12), eta=(8, 35))
    lp = loading_plan(db, w.hub.id, DAY, NOW)
    assert sorted(d.wait_before_s // 60 for d in lp.departures) == [0, 0, 20, 20, 40, 40]
    assert lp.max_wait_before_s == 2400 and lp.mean_wait_before_s == 1200
    assert lp.max_loading_at_once() == 2
    assert sorted(d.load_start_s // 60 for d in lp.departures) == [440, 440, 460, 460, 480, 480]
    assert len(lp.retimed) == 4 and lp.late == ()

    proposals = propose_loading_plan(db, AGENT, w.hub.id, DAY, NOW)
    assert [p.change.action for p in proposals] == [LOADING_PLAN]
    p = proposals[0]
    effect = p.effect
    assert isinstance(effect, LoadingEffect)
    assert effect.max_dock_wait_min_before == 40 and effect.max_dock_wait_min_after == 0
    assert effect.routes_retimed == 4 and effect.max_departure_delay_min == 0
    assert settle(db, p, LOADING_PLAN, NOW).applied
    assert _starts(db) == [440, 440, 460, 460, 480, 480]
    assert loading_plan(db, w.hub.id, DAY, NOW).max_wait_before_s == 0  # the plan holds
    assert propose_loading_plan(db, AGENT, w.hub.id, DAY, NOW) == []


def test_a_dock_without_queue_gets_no_proposal(db: Session) -> None:
    w = _dock(db, vans=2, bays=2, turnaround_s=1200, shift_start=7, due=(8, 12), eta=(8, 35))
    assert loading_plan(db, w.hub.id, DAY, NOW).max_wait_before_s == 0
    assert propose_loading_plan(db, AGENT, w.hub.id, DAY, NOW) == []


def test_turnaround_too_long_for_a_two_hour_window_is_flagged_for_a_person(db: Session) -> None:
    w = _dock(db, vans=3, bays=2, turnaround_s=6000, shift_start=8, due=(8, 10), eta=(9, 50))
    lp = loading_plan(db, w.hub.id, DAY, NOW)
    late = lp.late
    assert [(d.driver_code, d.load_start_s // 60, d.minutes_late) for d in late] == [("c3", 580, 90)]

    by_action = {p.change.action: p for p in propose_loading_plan(db, AGENT, w.hub.id, DAY, NOW)}
    assert set(by_action) == {LOADING_PLAN, TURNAROUND_WARNING}
    warning = by_action[TURNAROUND_WARNING]
    change, effect = warning.change, warning.effect
    assert isinstance(change, TurnaroundWarning) and isinstance(effect, WarningEffect)
    assert [(r.driver, r.minutes_late) for r in change.routes] == [("c3", 90)]
    assert effect.max_minutes_late == 90 and "100 min turnaround" in warning.rationale
    outcome = settle(db, warning, TURNAROUND_WARNING, NOW)
    assert outcome.escalated and not outcome.applied
    assert db.get(Proposal, warning.id).status is ProposalStatus.PENDING  # type: ignore[union-attr]

    assert settle(db, by_action[LOADING_PLAN], LOADING_PLAN, NOW).applied  # c3 loads at 09:40
    c3 = db.scalars(select(Route).where(Route.driver_id == w.drivers["c3"].id)).one()
    eta = db.scalars(select(Stop.planned_eta_at).where(Stop.route_id == c3.id)).one()
    assert seconds_since_midnight(eta, DAY, TZ) == 11 * 3600 + 30 * 60  # 09:50 + 100 min
    again = propose_loading_plan(db, AGENT, w.hub.id, DAY, NOW)  # the warning went stale: asked afresh
    assert [p.change.action for p in again] == [TURNAROUND_WARNING]
    assert propose_loading_plan(db, AGENT, w.hub.id, DAY, NOW) == []  # and not twice

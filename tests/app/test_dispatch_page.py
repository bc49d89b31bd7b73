"""Dispatch page: rebalance with progress, approve to change the plan, stale approvals refused."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from core.access import SYSTEM, Viewer
from core.agents.appliers import APPLIERS
from core.agents.dispatch import RebalanceRequest, propose_rebalance
from core.db import engine_for, unit_of_work
from core.kinds import ProposalStatus, ProposerKind, Role, StopStatus
from core.models import Driver, Hub, Order, Plan, Proposal, Route, Stop
from core.plan_change import NewRoute, PlannedStop, RouteChange
from core.proposal_kinds import LateDeparture, ProposalEffect, TurnaroundWarning, WarningEffect
from core.proposals import approve, create_proposal
from tests.app.conftest import APP_NOW, signed_in
from tests.conftest import TEST_DAY


@dataclass(frozen=True)
class HubRef:
    id: int
    code: str


def _first_hub(url: str) -> HubRef:
    with unit_of_work(engine_for(url), read_only=True) as s:
        hub = s.scalars(select(Hub).order_by(Hub.code)).first()
        assert hub is not None
        return HubRef(hub.id, hub.code)


def _plan_version(url: str, hub_id: int) -> int:
    with unit_of_work(engine_for(url), read_only=True) as s:
        plan = s.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == TEST_DAY)).one()
        return plan.version


def _open_dispatch(username: str) -> AppTest:
    """Dispatch on the first hub (by code): with "All hubs" in the sidebar the page asks for one."""
    at = signed_in(username)
    at.switch_page("dispatch.py").run()
    assert not at.exception, at.exception
    hubs = sorted(b.key for b in at.button if b.key and b.key.startswith("dispatch.open."))
    at.button(key=hubs[0]).click().run()
    assert not at.exception, at.exception
    return at


def test_rebalance_then_approve_moves_the_plan_version(scratch_db_url: str) -> None:
    hub = _first_hub(scratch_db_url)
    version = _plan_version(scratch_db_url, hub.id)
    at = _open_dispatch("priya")
    assert at.selectbox(key="frame.hub").value == hub.code  # the sidebar's choice, the page's hub
    assert at.subheader[0].value.startswith(f"Dispatch · {hub.code}")
    at.slider(key="dispatch.seconds").set_value(2)
    at.button(key="FormSubmitter:dispatch.rebalance-Rebalance").click().run()
    for _ in range(60):
        time.sleep(0.5)
        at.run()
        if any(b.key and b.key.startswith("dispatch.approve.") for b in at.button):
            break
    approve_buttons = [b for b in at.button if b.key and b.key.startswith("dispatch.approve.")]
    assert len(approve_buttons) == 1, [e.value for e in at.error]
    proposal_id = approve_buttons[0].key.rsplit(".", 1)[1]
    effect, moves, _history = (d.value for d in at.dataframe)  # one card, then the history
    assert list(effect["measure"]) == ["Cost", "Distance", "CO2", "Predicted late", "Unassigned"]
    assert {"order", "from", "to", "reason"} <= set(moves.columns)
    approve_buttons[0].click().run()
    assert [s.value for s in at.success] == [f"Proposal {proposal_id} approved and applied."]
    assert _plan_version(scratch_db_url, hub.id) == version + 1
    assert list(at.dataframe[-1].value["status"]) == ["applied"]


def _resequence(s: Session, hub_id: int, effect: ProposalEffect, reverse: bool) -> Proposal:
    """A rebalance proposal that re-orders the pending stops of the hub's busiest route."""
    rows = s.execute(
        select(Driver.code, Order.external_ref, Stop.planned_eta_at)
        .join(Route, Route.id == Stop.route_id)
        .join(Driver, Driver.id == Route.driver_id)
        .join(Plan, Plan.id == Route.plan_id)
        .join(Order, Order.id == Stop.order_id)
        .where(Plan.hub_id == hub_id, Stop.status == StopStatus.PENDING)
        .order_by(Stop.sequence)
    ).all()
    by_driver: dict[str, list[str]] = {}
    for code, ref, _ in rows:
        by_driver.setdefault(code, []).append(ref)
    code, refs = max(by_driver.items(), key=lambda kv: len(kv[1]))
    stops = tuple(
        PlannedStop(ref, 12 * 3600 + 600 * k) for k, ref in enumerate(reversed(refs) if reverse else refs)
    )
    plan = s.scalars(select(Plan).where(Plan.hub_id == hub_id, Plan.service_date == TEST_DAY)).one()
    change = RouteChange(hub_id, TEST_DAY.isoformat(), "priya", (NewRoute(code, stops, None, None, 1000),))
    return create_proposal(s, plan, "priya", ProposerKind.USER, change, effect, "re-order", APP_NOW)


def test_stale_approval_is_refused_with_what_moved(scratch_db_url: str) -> None:
    hub = _first_hub(scratch_db_url)
    admin = Viewer(username="admin", role=Role.ADMIN)
    with unit_of_work(engine_for(scratch_db_url)) as s:
        solved = propose_rebalance(s, SYSTEM, RebalanceRequest(hub.id, TEST_DAY, APP_NOW, seconds=1))
        first, second = (_resequence(s, hub.id, solved.effect, reverse) for reverse in (False, True))
    at = _open_dispatch("priya")
    with unit_of_work(engine_for(scratch_db_url)) as s:
        approve(s, admin, first.id, APPLIERS, now=APP_NOW)
    version = _plan_version(scratch_db_url, hub.id)
    at.button(key=f"dispatch.approve.{second.id}").click().run()
    [error] = [e.value for e in at.error]
    assert "plan changed since this proposal was made" in error and "admin applied" in error
    assert _plan_version(scratch_db_url, hub.id) == version
    assert at.button(key="dispatch.fresh").label == "Ask for a fresh proposal"
    with unit_of_work(engine_for(scratch_db_url), read_only=True) as s:
        assert s.get(Proposal, second.id).status is ProposalStatus.STALE  # type: ignore[union-attr]


def test_head_of_last_mile_reads_the_inbox_but_cannot_decide(scratch_db_url: str) -> None:
    hub = _first_hub(scratch_db_url)
    with unit_of_work(engine_for(scratch_db_url)) as s:
        pending = propose_rebalance(s, SYSTEM, RebalanceRequest(hub.id, TEST_DAY, APP_NOW, seconds=1))
    at = _open_dispatch("marcus")
    assert len(at.dataframe) == 3  # the pending card's effect and moves, and the history
    assert f"Proposal {pending.id}" in " ".join(m.value for m in at.markdown)
    assert not [b for b in at.button if b.key and b.key.startswith("dispatch.approve.")]
    assert not [b for b in at.button if b.key == "FormSubmitter:dispatch.rebalance-Rebalance"]


def test_a_vendor_has_no_dispatch_page() -> None:
    """The page is not registered for a vendor at all, so no link or switch can reach it."""
    at = signed_in("jonas")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("dispatch.py")


def test_an_agent_proposal_that_is_not_a_re_plan_shows_its_facts_and_applies(scratch_db_url: str) -> None:
    hub = _first_hub(scratch_db_url)
    with unit_of_work(engine_for(scratch_db_url)) as s:
        plan = s.scalars(select(Plan).where(Plan.hub_id == hub.id, Plan.service_date == TEST_DAY)).one()
        late = LateDeparture(1, "C-001", "X-1", "09:00", "09:40", "09:10", 40)
        change = TurnaroundWarning(hub.id, TEST_DAY.isoformat(), "hub-agent", 2, 3600, (late,))
        effect = WarningEffect(routes_late=1, max_minutes_late=40, turnaround_min=60)
        warning = create_proposal(
            s, plan, "hub-agent", ProposerKind.AGENT, change, effect, "first stops late", APP_NOW
        ).id
    at = _open_dispatch("priya")
    cards = " ".join(m.value for m in at.markdown)
    assert f"**Proposal {warning}** · turnaround warning by hub-agent" in cards
    facts, detail, _history = (d.value for d in at.dataframe)  # one card, then the history
    assert dict(zip(facts["measure"], facts["value"], strict=True)) == {
        "routes late": "1",
        "max minutes late": "40",
        "turnaround min": "60",
        "routes touched": "0",
        "orders moved": "0",
    }
    assert list(detail["driver"]) == ["C-001"]
    at.button(key=f"dispatch.approve.{warning}").click().run()
    assert [s.value for s in at.success] == [f"Proposal {warning} approved and applied."]
    with unit_of_work(engine_for(scratch_db_url), read_only=True) as s:
        assert s.get(Proposal, warning).status is ProposalStatus.APPLIED  # type: ignore[union-attr]


def test_history_is_in_the_apps_clock_and_hub_time_so_it_reads_in_order(scratch_db_url: str) -> None:
    hub = _first_hub(scratch_db_url)
    with unit_of_work(engine_for(scratch_db_url)) as s:  # made on the app's (simulated) clock
        made = propose_rebalance(s, SYSTEM, RebalanceRequest(hub.id, TEST_DAY, APP_NOW, seconds=1))
    at = _open_dispatch("priya")
    at.button(key=f"dispatch.approve.{made.id}").click().run()  # decided on the app's clock too
    history = at.dataframe[-1].value
    assert list(history.columns[:7]) == [
        "id",
        "kind",
        "proposed by",
        "created",
        "status",
        "decided by",
        "decided",
    ]
    row = history[history["id"] == made.id].iloc[0]
    assert (row["created"], row["decided"]) == ("Fri 27 Nov 10:40", "Fri 27 Nov 10:40")  # 15:40 UTC
    assert row["status"] == "applied"
    with unit_of_work(engine_for(scratch_db_url), read_only=True) as s:
        stored = s.get(Proposal, made.id)
        assert stored is not None and stored.decided_at is not None
        assert stored.created_at <= stored.decided_at


def test_progress_speaks_in_the_proposals_terms_and_never_passes_the_limit() -> None:
    from datetime import date

    from core.agents.dispatch import RebalanceRequest, ReplanProgress
    from ui.dispatch_jobs import RebalanceJob, progress_text

    job = RebalanceJob(RebalanceRequest(hub_id=1, day=date(2026, 11, 27), seconds=10))
    assert progress_text(job).endswith("repairing the plan on the road")  # no plan yet, no number
    job.progress = ReplanProgress(2.0, late=37, unassigned=11, cost_cents=409_423, solutions=0)
    assert "best so far: 37 late, 11 unassigned, $4,094.23" in progress_text(job)
    job.started -= 60  # a minute on a 10 s limit
    assert progress_text(job).startswith("Solving: 10 of 10 s · best so far: 37 late")

"""A proposal's change and effect are typed, written to JSON and read back in one place, and the
reader takes what older versions stored: rows written in their shapes still load through the view."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.json_data import JsonObject
from core.kinds import ProposalKind, ProposalStatus, ProposerKind
from core.models import Plan, Proposal
from core.plan_change import (
    DriverRisk,
    LoadHandover,
    NewRoute,
    OrderMove,
    PlacementEffect,
    PlanEffect,
    PlanMetrics,
    PlannedStop,
    RouteChange,
    SolverRun,
    Unplaced,
)
from core.proposal_kinds import (
    CalledIn,
    CallIn,
    CapacityEffect,
    LateDeparture,
    LoadingEffect,
    LoadingPlanChange,
    ProposalChange,
    ProposalEffect,
    Reroute,
    RerouteEffect,
    Retime,
    TurnaroundWarning,
    WarningEffect,
    parse_change,
    parse_effect,
)
from core.proposals import list_proposals
from tests.core.agents.builders import build, local

METRICS = PlanMetrics(1000, 5000, 700, 2, 1, 3)
ROUND_TRIPS: list[tuple[ProposalChange, ProposalEffect]] = [
    (
        RouteChange(
            7,
            "2026-03-02",
            "priya",
            (
                NewRoute("D1", (PlannedStop("o1", 36000), PlannedStop("o2", 37000)), 30000, 40000, 5000),
                NewRoute("D2", (), None, None, 0),
            ),
            (OrderMove("o1", "D2", 0, "D1", 0, "ETA 10:00"),),
            (Unplaced("o3", "no room"),),
            (LoadHandover("D2", "van", "D1", 40.7, -73.9, 36000, ("o1",), "van broken down"),),
            "reassign",
            (DriverRisk("D2", "daily", "2026-03-02T16:00:00+00:00", ("o1",)),),
        ),
        PlanEffect(METRICS, METRICS, 1, 0, 0, 2, 9, SolverRun("optimal", 1.5, 12, ("warm",)), 1, 1, 2, 0.2),
    ),
    (
        RouteChange(7, "2026-03-02", "static-dispatcher", (NewRoute("D1", (), 1, 2, 3),)),
        PlacementEffect(3, 1, 0),
    ),
    (
        Reroute(5, "D1", "road_closed", (PlannedStop("o2", 37000), PlannedStop("o1", 38000)), 40000, 4000),
        RerouteEffect(2, 1),
    ),
    (
        CallIn(7, "2026-03-02", "capacity-agent", (CalledIn("g1", "DASH", 37800, 72000),)),
        CapacityEffect(2.8, 0.4, 4000, 0, 0, 1, 9.5),
    ),
    (
        LoadingPlanChange(7, "2026-03-02", "hub-agent", 2, 1200, (Retime(3, "c1", 1, 27000, 26400),)),
        LoadingEffect(40, 20, 0, 0, 0, 4, 4, 0, 2),
    ),
    (
        TurnaroundWarning(
            7,
            "2026-03-02",
            "hub-agent",
            2,
            6000,
            (LateDeparture(3, "c3", "o9", "10:00", "11:30", "09:40", 90),),
        ),
        WarningEffect(1, 90, 100),
    ),
]


@pytest.mark.parametrize(("change", "effect"), ROUND_TRIPS, ids=lambda x: type(x).__name__)
def test_each_kind_reads_back_what_it_wrote(change: ProposalChange, effect: ProposalEffect) -> None:
    assert parse_change(change.KIND, change.to_json()) == change
    assert parse_effect(change.KIND, effect.to_json()) == effect


# What earlier versions stored, key for key.
OLD_ROWS: list[tuple[ProposalKind, JsonObject, JsonObject]] = [
    (  # the first dispatch agent: no handovers, metrics named `late` and `unassigned`
        ProposalKind.REBALANCE,
        {
            "hub_id": 7,
            "day": "2026-03-02",
            "requested_by": "priya",
            "routes": {
                "D1": {"stops": [["o1", 36000]], "start_s": 30000, "end_s": 40000, "distance_m": 5000}
            },
            "moves": [
                {
                    "order": "o1",
                    "from_driver": None,
                    "from_position": None,
                    "to_driver": "D1",
                    "to_position": 0,
                    "reason": "placed, ETA 10:00 (due 11:00)",
                }
            ],
            "unassigned": [{"order": "o2", "reason": "no room"}],
        },
        {
            "before": {
                "cost_cents": 0,
                "distance_m": 0,
                "co2_g": 0,
                "late": 0,
                "unassigned": 2,
                "drivers_used": 0,
            },
            "after": {"cost_cents": 900, "distance_m": 5000, "co2_g": 600, "late": 0, "unassigned": 1},
            "orders_moved": 0,
            "orders_placed": 1,
            "orders_dropped": 0,
            "routes_touched": 1,
            "routes_total": 1,
            "solver": {"status": "feasible", "runtime_s": 2.0, "solutions": 4, "notes": []},
        },
    ),
    (  # the compliance agent before the typed change: `drivers`, a cost delta and its own runtime
        ProposalKind.REBALANCE,
        {
            "hub_id": 7,
            "day": "2026-03-02",
            "requested_by": "compliance-agent",
            "action": "reassign",
            "drivers": ["D2"],
            "routes": {"D2": {"stops": [], "start_s": 28800, "end_s": 28800, "distance_m": 0}},
            "moves": [],
            "unassigned": [],
            "risks": [
                {"driver": "D2", "rule": "daily", "breach_at": "2026-03-02T16:00:00+00:00", "orders": []}
            ],
        },
        {
            "before": {"cost_cents": 1, "distance_m": 2, "co2_g": 3, "late_count": 4, "orders_unassigned": 5},
            "after": {"cost_cents": 1, "distance_m": 2, "co2_g": 3, "late": 0, "unassigned": 0},
            "orders_moved": 0,
            "orders_dropped": 0,
            "routes_touched": 1,
            "routes_total": 3,
            "breaches": 1,
            "breaches_avoided": 1,
            "cost_delta_cents": 0,
            "runtime_s": 0.05,
        },
    ),
    (  # a rule-based dispatcher's placement
        ProposalKind.REBALANCE,
        {"hub_id": 7, "day": "2026-03-02", "requested_by": "baseline-dispatcher", "moves": [], "routes": {}},
        {"orders_placed": 3, "orders_unplaced": 1, "routes_touched": 1},
    ),
    (  # the capacity agent's 3PL move
        ProposalKind.REBALANCE,
        {"action": "move_to_3pl", "hub_id": 7, "routes": {}, "moves": [], "unassigned": []},
        {
            "shortfall_before_h": 3.0,
            "shortfall_after_h": 1.0,
            "orders_moved": 8,
            "routes_touched": 2,
            "cost_delta_cents": 18000,
        },
    ),
    (
        ProposalKind.CALL_IN_GIG,
        {
            "action": "call_in_gig",
            "hub_id": 7,
            "day": "2026-03-02",
            "requested_by": "capacity-agent",
            "drivers": [
                {
                    "code": "g1",
                    "fleet": "DASH",
                    "start_s": 37800,
                    "end_s": 72000,
                    "start": "10:30",
                    "end": "20:00",
                }
            ],
        },
        {
            "shortfall_before_h": 2.8,
            "shortfall_after_h": 0.4,
            "drivers_called": 1,
            "driver_hours_added": 9.5,
            "orders_moved": 0,
            "routes_touched": 0,
            "cost_delta_cents": 4000,
        },
    ),
    (
        ProposalKind.LOADING_PLAN,
        {
            "action": "loading_plan",
            "hub_id": 7,
            "day": "2026-03-02",
            "requested_by": "hub-agent",
            "loading_bays": 2,
            "turnaround_s": 1200,
            "routes": [
                {
                    "route_id": 3,
                    "driver": "c1",
                    "bay": 1,
                    "from_s": 27000,
                    "to_s": 26400,
                    "load": "07:20-07:40",
                }
            ],
        },
        {
            "max_dock_wait_min_before": 40,
            "mean_dock_wait_min_before": 20,
            "max_dock_wait_min_after": 0,
            "mean_dock_wait_min_after": 0,
            "max_departure_delay_min": 0,
            "routes_retimed": 4,
            "routes_touched": 4,
            "orders_moved": 0,
            "max_loading_at_once": 2,
        },
    ),
    (
        ProposalKind.TURNAROUND_WARNING,
        {
            "action": "turnaround_warning",
            "hub_id": 7,
            "day": "2026-03-02",
            "routes": [
                {
                    "route_id": 3,
                    "driver": "c3",
                    "first_order": "o9",
                    "due": "10:00",
                    "eta": "11:30",
                    "departs": "09:40",
                    "minutes_late": 90,
                }
            ],
        },
        {"routes_late": 1, "max_minutes_late": 90},
    ),
    (
        ProposalKind.REROUTE,
        {
            "route_id": 5,
            "driver": "D1",
            "reason": "road_closed",
            "stops": [["o2", 37000], ["o1", 38000]],
            "end_s": 40000,
            "distance_m": 4000,
        },
        {"late_before": 2, "late_after": 1, "orders_moved": 0, "routes_touched": 1},
    ),
    *((kind, {}, {}) for kind in ProposalKind),  # every key missing
]


def _store(db: Session, rows: list[tuple[ProposalKind, JsonObject, JsonObject]]) -> list[int]:
    """Write rows straight into the table, past the typed writer, as an older version did."""
    w = build(db)
    plan = Plan(hub_id=w.hub.id, service_date=local(9).date(), updated_at=local(6))
    db.add(plan)
    db.flush()
    stored = [
        Proposal(
            plan_id=plan.id,
            base_version=plan.version,
            kind=kind.value,
            proposer_kind=ProposerKind.AGENT,
            proposed_by="older-version",
            created_at=local(8, i),
            change=change,
            effect=effect,
            rationale="stored before the typed change",
            status=ProposalStatus.PENDING,
        )
        for i, (kind, change, effect) in enumerate(rows)
    ]
    db.add_all(stored)
    db.flush()
    return [p.id for p in stored]


def test_rows_stored_in_older_shapes_load_through_the_view(db: Session) -> None:
    ids = _store(db, OLD_ROWS)
    views = {v.id: v for v in list_proposals(db, SYSTEM, ProposalStatus.PENDING)}
    assert sorted(views) == sorted(ids)
    first, compliance, placement, move, call_in, loading, warning, reroute, *empty = (views[i] for i in ids)

    assert isinstance(first.change, RouteChange) and isinstance(first.effect, PlanEffect)
    assert first.change.routes == (NewRoute("D1", (PlannedStop("o1", 36000),), 30000, 40000, 5000),)
    assert first.change.moves == (OrderMove("o1", None, None, "D1", 0, "placed, ETA 10:00 (due 11:00)"),)
    assert first.change.unassigned == (Unplaced("o2", "no room"),) and first.change.handovers == ()
    assert (first.effect.before.unassigned, first.effect.after.cost_cents) == (2, 900)
    assert first.effect.after.drivers_used == 0 and first.effect.solver == SolverRun("feasible", 2.0, 4)

    assert isinstance(compliance.change, RouteChange) and isinstance(compliance.effect, PlanEffect)
    assert compliance.change.action == "reassign"
    assert compliance.change.risks == (DriverRisk("D2", "daily", "2026-03-02T16:00:00+00:00", ()),)
    assert compliance.change.routes == (NewRoute("D2", (), 28800, 28800, 0),)
    assert compliance.change.touches().drivers == {"D2"}
    assert (compliance.effect.before.late, compliance.effect.before.unassigned) == (4, 5)
    assert compliance.effect.breaches_avoided == 1 and compliance.effect.runtime_s == 0.05

    assert placement.effect == PlacementEffect(3, 1, 1) and placement.change == RouteChange(
        7, "2026-03-02", "baseline-dispatcher", ()
    )
    assert move.effect == CapacityEffect(3.0, 1.0, 18000, 8, 2)
    assert isinstance(move.change, RouteChange) and move.change.action == "move_to_3pl"

    assert call_in.change == CallIn(
        7, "2026-03-02", "capacity-agent", (CalledIn("g1", "DASH", 37800, 72000),)
    )
    assert call_in.effect == CapacityEffect(2.8, 0.4, 4000, 0, 0, 1, 9.5)
    assert loading.change == LoadingPlanChange(
        7, "2026-03-02", "hub-agent", 2, 1200, (Retime(3, "c1", 1, 27000, 26400),)
    )
    assert loading.effect == LoadingEffect(40, 20, 0, 0, 0, 4, 4, 0, 2)
    assert warning.change == TurnaroundWarning(
        7, "2026-03-02", "", 0, 0, (LateDeparture(3, "c3", "o9", "10:00", "11:30", "09:40", 90),)
    )
    assert warning.effect == WarningEffect(1, 90, 0)
    assert reroute.change == Reroute(
        5, "D1", "road_closed", (PlannedStop("o2", 37000), PlannedStop("o1", 38000)), 40000, 4000
    )
    assert reroute.effect == RerouteEffect(2, 1)

    expected: dict[ProposalKind, Any] = {
        ProposalKind.REBALANCE: (RouteChange(None, "", "", ()), PlacementEffect(0, 0)),
        ProposalKind.REROUTE: (Reroute(0, "", "", (), 0, 0), RerouteEffect(0, 0)),
        ProposalKind.CALL_IN_GIG: (CallIn(None, "", "", ()), CapacityEffect(0.0, 0.0, 0, 0, 0)),
        ProposalKind.LOADING_PLAN: (
            LoadingPlanChange(None, "", "", 0, 0, ()),
            LoadingEffect(0, 0, 0, 0, 0, 0, 0, 0, 0),
        ),
        ProposalKind.TURNAROUND_WARNING: (TurnaroundWarning(None, "", "", 0, 0, ()), WarningEffect(0, 0, 0)),
    }
    assert {v.kind: (v.change, v.effect) for v in empty} == expected

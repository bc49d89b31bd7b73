"""Disruptions are planned from a seed; what happens at a door depends on the order, not the visit."""

from __future__ import annotations

import numpy as np

from core.field import ExceptionReason
from core.sim.disruptions import DayOutline, DisruptionParams, Door, door_outcome, plan_disruptions

OUTLINE = DayOutline(
    order_points={1: np.array([[40.70, -73.95], [40.71, -73.96], [40.72, -73.94]])},
    order_zones={1: ("A", "B", "C")},
    driver_spans={d: (1, 8 * 3600, 17 * 3600) for d in range(1, 201)},
)


def test_the_same_seed_plans_the_same_day_and_another_seed_another() -> None:
    params = DisruptionParams(incidents_per_hub=3, closures_per_hub=2, urgent_orders_per_hub_hour=2)
    a, b = plan_disruptions(params, OUTLINE, 7), plan_disruptions(params, OUTLINE, 7)
    assert a == b
    assert a != plan_disruptions(params, OUTLINE, 8)


def test_each_kind_of_disruption_is_drawn_inside_the_day() -> None:
    params = DisruptionParams(
        incidents_per_hub=5,
        closures_per_hub=5,
        breakdowns_per_100_drivers=5,
        late_start_share=0.2,
        urgent_orders_per_hub_hour=3,
    )
    plan = plan_disruptions(params, OUTLINE, 3)
    assert plan.incidents and plan.closures and plan.breakdowns and plan.late_starts and plan.urgent
    assert all(a.start_s < a.end_s and a.factor == 0.35 for a in plan.incidents)
    assert all(8 * 3600 < b.at_s < 17 * 3600 for b in plan.breakdowns)
    assert all(600 <= d <= params.late_start_max_s for d in plan.late_starts.values())
    assert all(u.window_start_s == u.at_s + 1800 and u.zone in "ABC" for u in plan.urgent)


def test_two_plans_of_the_same_day_meet_the_same_disruptions() -> None:
    # rule-based routes use drivers 1-200, the allocator only 1-60: what happens to the day and
    # to each driver in both must not depend on who else is routed
    params = DisruptionParams(
        incidents_per_hub=3,
        closures_per_hub=2,
        breakdowns_per_100_drivers=10,
        late_start_share=0.3,
        urgent_orders_per_hub_hour=3,
    )
    fewer = DayOutline(
        OUTLINE.order_points,
        OUTLINE.order_zones,
        {d: span for d, span in OUTLINE.driver_spans.items() if d <= 60},
    )
    every, some = plan_disruptions(params, OUTLINE, 5), plan_disruptions(params, fewer, 5)
    assert some.urgent == every.urgent and some.incidents == every.incidents
    assert some.closures == every.closures
    assert some.late_starts == {d: s for d, s in every.late_starts.items() if d <= 60}
    assert some.breakdowns == tuple(b for b in every.breakdowns if b.driver_id <= 60)
    assert some.late_starts and some.breakdowns


def test_a_calm_day_has_no_disruptions_and_everyone_at_home() -> None:
    plan = plan_disruptions(DisruptionParams.none(), OUTLINE, 3)
    assert not (plan.incidents or plan.closures or plan.breakdowns or plan.late_starts or plan.urgent)
    assert {door_outcome(DisruptionParams.none(), 3, o).door for o in range(500)} == {Door.DELIVERED}


def test_a_door_outcome_depends_on_seed_and_order_only() -> None:
    params = DisruptionParams(not_home_rate=0.3, other_failure_rate=0.1)
    outcomes = [door_outcome(params, 11, o) for o in range(2000)]
    assert outcomes == [door_outcome(params, 11, o) for o in range(2000)]
    share = sum(o.door is Door.NOT_HOME for o in outcomes) / len(outcomes)
    assert 0.25 < share < 0.35
    failed = {o.reason for o in outcomes if o.door is Door.FAILED}
    assert (
        failed
        <= {
            ExceptionReason.ACCESS_ISSUE,
            ExceptionReason.ADDRESS_NOT_FOUND,
            ExceptionReason.REFUSED,
            ExceptionReason.DAMAGED,
        }
        and failed
    )

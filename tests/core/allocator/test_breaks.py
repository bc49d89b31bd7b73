"""Where breaks go: into the waits a plan already has, so a break does not make a stop late
that an earlier break would have kept on time (evaluated from plain routes, no solver)."""

from core.allocator import families as fam
from core.allocator.evaluate import evaluate_plan
from core.allocator.metro import late_by_breaks
from core.allocator.params import SolveParams
from core.allocator.result import Break
from tests.core.allocator.builders import driver, order, problem

PARAMS = SolveParams(progress_interval_s=999)


def _visits(result_routes: tuple) -> dict:
    return {v.order_id: v for r in result_routes for v in r.visits}


def test_break_goes_into_an_earlier_wait_instead_of_delaying_a_stop() -> None:
    # 3000 s of work before a 1000 s break.  A at 1 km (1000 s), B at 2 km opens at 3000 s
    # (1000 s of waiting), C at 3 km is due by 4500 s.  Taking the break only when the
    # stretch runs over (leaving B) would serve C at 5000 s, 500 s late; resting in B's
    # wait serves every stop at its no-break time.
    d = driver(work_before_break_s=3_000, break_duration_s=1_000)
    orders = [order("A", 1), order("B", 2, ready_s=3_000), order("C", 3, due_s=4_500)]
    pr = problem([d], orders)
    plan = {"D1": ["A", "B", "C"]}
    ev = evaluate_plan(pr, plan, PARAMS)
    visits = _visits(ev.routes)
    assert [visits[o].service_start_s for o in "ABC"] == [1_000, 3_000, 4_000]
    assert ev.routes[0].breaks[0] == Break(2_000, 1_000)  # (a second one on the way back)
    assert ev.metrics.late_count == 0 and ev.metrics.feasible
    assert late_by_breaks(pr, plan, PARAMS) == set()


def test_break_before_a_tight_stop_moves_to_the_leg_that_keeps_it_on_time() -> None:
    # No long wait anywhere: A at 1 km, B at 2 km due by 2100 s, C at 3 km (no window).
    # The stretch runs over only at C, but a break on the way to C cannot help B; any break
    # placed after B keeps B on time, and C (no due) absorbs the delay.
    d = driver(work_before_break_s=2_500, break_duration_s=1_000)
    orders = [order("A", 1), order("B", 2, due_s=2_100), order("C", 3)]
    ev = evaluate_plan(problem([d], orders), {"D1": ["A", "B", "C"]}, PARAMS)
    visits = _visits(ev.routes)
    assert visits["B"].service_start_s == 2_000
    assert visits["C"].service_start_s == 4_000
    assert ev.metrics.late_count == 0


def test_a_route_without_slack_still_takes_its_break_and_reports_the_lateness() -> None:
    # Every leg is tight: the break must go somewhere, and the stop after it is late.
    d = driver(work_before_break_s=1_500, break_duration_s=1_000)
    orders = [order("A", 1, due_s=1_000), order("B", 2, due_s=2_000)]
    pr = problem([d], orders)
    ev = evaluate_plan(pr, {"D1": ["A", "B"]}, PARAMS)
    # The break starts as late as the stretch allows, on the way to B: B starts at 3000 s.
    assert ev.routes[0].breaks[0] == Break(1_500, 1_000)
    assert _visits(ev.routes)["B"].service_start_s == 3_000
    assert ev.metrics.late_count == 1
    assert late_by_breaks(pr, {"D1": ["A", "B"]}, PARAMS) == {"B"}
    off = evaluate_plan(pr, {"D1": ["A", "B"]}, PARAMS.without(fam.HOS_BREAK))
    assert off.metrics.late_count == 0


def test_metro_plan_leaves_room_for_breaks_where_the_day_allows(monkeypatch) -> None:
    # Two hubs, 30 orders with 2-4 h windows, a 30 min break after 2 h of work.  Built
    # without breaks, the first plan packs routes so that putting the breaks back makes
    # stops late; closing those windows one break earlier and building again does not.
    from core.allocator import metro as m
    from core.allocator.executor import SerialExecutor
    from core.allocator.params import DEFAULT_PARAMS
    from core.allocator.stop import MaxSolutions
    from tests.core.allocator.test_metro import two_hub_day

    first = MaxSolutions(1, max_runtime_s=60.0, stall_s=60.0)
    for seed in (0, 1):
        pr = two_hub_day(seed, 30, per_hub=2, work_before_break_s=2 * 3600)
        result = m.solve_metro(pr, first, executor=SerialExecutor())
        assert result.metrics.orders_served == 30
        assert m.late_by_breaks(pr, result.plan(), DEFAULT_PARAMS) == set()
        monkeypatch.setattr(m, "BREAK_ROUNDS", 0)
        packed = m.solve_metro(pr, first, executor=SerialExecutor())
        monkeypatch.undo()
        assert m.late_by_breaks(pr, packed.plan(), DEFAULT_PARAMS)

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
    # stops late.  Closing those windows one break earlier and building again, then
    # relocating stops on the real part, each removes late stops; with both, no more stops
    # are late than with either alone.
    from core.allocator import metro as m
    from core.allocator.executor import SerialExecutor
    from core.allocator.params import DEFAULT_PARAMS
    from core.allocator.stop import MaxSolutions
    from tests.core.allocator.test_metro import two_hub_day

    first = MaxSolutions(1, max_runtime_s=60.0, stall_s=60.0)

    def solve(pr, rounds: int, repair: bool):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(m, "BREAK_ROUNDS", rounds)
        if not repair:
            monkeypatch.setattr(m, "improve", lambda pr, plan, *a, **kw: plan)
        result = m.solve_metro(pr, first, executor=SerialExecutor())
        monkeypatch.undo()
        assert result.metrics.orders_served == 30
        return result.metrics, m.late_by_breaks(pr, result.plan(), DEFAULT_PARAMS)

    for seed in (0, 1):
        pr = two_hub_day(seed, 30, per_hub=2, work_before_break_s=2 * 3600)
        both, both_late = solve(pr, m.BREAK_ROUNDS, True)
        rounds, rounds_late = solve(pr, m.BREAK_ROUNDS, False)
        repair, repair_late = solve(pr, 0, True)
        neither, neither_late = solve(pr, 0, False)
        assert neither_late  # packed without room for breaks
        assert len(rounds_late) < len(neither_late) and len(repair_late) < len(neither_late)
        assert both.late_count <= min(rounds.late_count, repair.late_count)
        assert len(both_late) < len(neither_late)


def test_a_short_budget_does_not_cut_the_late_stop_repair(monkeypatch) -> None:
    # A part whose limit is spent by its construction still gets its late stops relocated
    # for at least the construction's floor, as its first plan would: a budget buys search,
    # never a plan a break made late.
    from core.allocator import metro as m
    from core.allocator.stop import MaxRuntime
    from tests.core.allocator.test_metro import two_hub_day

    pr = two_hub_day(0, 30, per_hub=2, work_before_break_s=2 * 3600)
    monkeypatch.setattr(m, "BREAK_ROUNDS", 0)  # leave the break-late stops to the repair
    deadlines: list[float] = []
    real = m.improve

    def spy(*args, **kw):  # type: ignore[no-untyped-def]
        deadlines.append(kw["deadline_s"])
        return real(*args, **kw)

    monkeypatch.setattr(m, "improve", spy)
    # a limit of MIN_PHASE_S leaves the local search no phase, so the construction's plan
    # (late stops from its breaks, whatever the machine's speed) goes to the repair
    m.solve_part(m.PartTask("all", pr, MaxRuntime(m.MIN_PHASE_S)))
    assert deadlines, "the construction left no late stop to repair"
    assert min(deadlines) >= m.CONSTRUCT_S


def test_repair_hands_an_on_time_stop_away_so_a_break_no_longer_makes_the_next_late() -> None:
    # D1 (the only driver with the "cold" skill) serves A (1.4 km off the axis, due 1500 s)
    # then B (2 km out, needs "cold", due 3000 s); 2100 s of work before a 1000 s break.
    # Through A, B is reached at 2828 s: on time without the break, 828 s late with it.
    # B cannot leave D1, and A first is the only order that keeps A on time, so moving the
    # late stop itself does nothing; handing A to D2 lets D1 reach B at 2000 s, in the stretch.
    from core.allocator.insertion import improve

    d1 = driver("D1", skills={"cold"}, work_before_break_s=2_100, break_duration_s=1_000)
    d2 = driver("D2", work_before_break_s=2_100, break_duration_s=1_000)
    orders = [order("A", 1, 1, due_s=1_500), order("B", 2, due_s=3_000, required_skills={"cold"})]
    pr = problem([d1, d2], orders)
    plan = {"D1": ["A", "B"]}
    assert late_by_breaks(pr, plan, PARAMS) == {"B"}
    assert improve(pr, plan, PARAMS, deadline_s=10.0) == plan  # the late stop alone cannot move
    repaired = improve(pr, plan, PARAMS, deadline_s=10.0, make_room=True)
    assert repaired == {"D1": ["B"], "D2": ["A"]}
    ev = evaluate_plan(pr, repaired, PARAMS)
    assert ev.metrics.late_count == 0 and ev.metrics.feasible
    assert ev.metrics.objective_units < evaluate_plan(pr, plan, PARAMS).metrics.objective_units


def test_resumed_break_placement_walks_like_a_walk_from_the_start() -> None:
    # The leg-by-leg options of a forced break resume from the walk so far; every route of a
    # day with tight and loose windows gets the same times and breaks as walked from scratch.
    from core.allocator.evaluate import RouteSchedule, _Trace
    from core.allocator.pricing import Pricing

    d = driver(work_before_break_s=2_000, break_duration_s=600)
    orders = [
        order(f"O{i}", 1 + i % 4, i % 3, due_s=2_000 + 900 * i, ready_s=300 * (i % 5)) for i in range(12)
    ]
    pr = problem([d], orders)
    walk = RouteSchedule(Pricing(pr, PARAMS), 0, list(range(12)))
    start = d.available_s
    base = walk._trace(start, [])
    assert base.forced is not None
    for k in range(base.forced[1], base.forced[0] + 1):
        resumed: _Trace = walk._trace(start, [k], base, k)
        fresh = walk._trace(start, [k])
        assert (resumed.times, resumed.breaks, resumed.end, resumed.late_s, resumed.forced) == (
            fresh.times,
            fresh.breaks,
            fresh.end,
            fresh.late_s,
            fresh.forced,
        )
        assert resumed.states == fresh.states


def _random_routes(seed: int, n_routes: int = 40):
    """Routes of 4-14 stops on one driver, windows from loose to impossible, breaks on."""
    import random

    from core.allocator.pricing import Pricing

    rng = random.Random(seed)
    d = driver(work_before_break_s=2_400, break_duration_s=600, shift_end_s=30_000)
    orders = []
    for i in range(60):
        ready = rng.choice([0, 0, rng.randrange(0, 9_000)])
        due = ready + rng.choice([400, 1_500, 4_000, 20_000])
        orders.append(
            order(
                f"O{i}", rng.uniform(-3, 3), rng.uniform(-3, 3), ready_s=ready, due_s=due, service_time_s=120
            )
        )
    pr = problem([d], orders)
    pricing = Pricing(pr, PARAMS)
    return pricing, [rng.sample(range(60), rng.randrange(4, 15)) for _ in range(n_routes)]


def test_the_chosen_break_legs_are_those_an_exhaustive_search_of_every_leg_would_choose() -> None:
    # Options are walked latest leg first and given up once they cannot beat the best so far;
    # the schedule must be the one trying every leg to the end (ties to the later leg) gives.
    from core.allocator.evaluate import RouteSchedule

    def exhaustive(walk: RouteSchedule, start: int):
        planned: list[int] = []
        tr = walk._trace(start, planned)
        while tr.forced is not None and len(planned) <= len(walk.legs):
            forced, lo = tr.forced
            options = [(walk._trace(start, [*planned, k], tr, k), k) for k in range(lo, forced + 1)]
            tr, leg = min(options, key=lambda x: (walk._score(x[0]), -x[1]))
            planned.append(leg)
        return tr

    pricing, routes = _random_routes(7)
    forced = 0
    for nodes in routes:
        walk = RouteSchedule(pricing, 0, nodes)
        start = walk.d.available_s
        chosen, reference = walk._place_breaks(start), exhaustive(walk, start)
        forced += walk._trace(start, []).forced is not None
        assert (chosen.times, chosen.breaks, chosen.end, chosen.late_s, chosen.stretch_over) == (
            reference.times,
            reference.breaks,
            reference.end,
            reference.late_s,
            reference.stretch_over,
        )
    assert forced >= len(routes) // 2  # most routes had a break to place


def test_a_break_goes_into_a_short_wait_when_that_ends_the_route_sooner() -> None:
    # 2000 s of work before a 600 s break; B opens 300 s after the driver can reach it.  The
    # stretch runs over on the way to D, but resting on the way to B uses B's 300 s wait, so
    # every later stop and the route's end come 300 s sooner than with the latest leg (no
    # stop is late either way: only the end tells the two apart).
    from core.allocator.evaluate import RouteSchedule
    from core.allocator.pricing import Pricing

    d = driver(work_before_break_s=2_000, break_duration_s=600)
    orders = [
        order("A", 0.5),
        order("B", 1.0, ready_s=1_300),
        order("C", 1.5),
        order("D", 2.0),
        order("E", 2.5),
    ]
    walk = RouteSchedule(Pricing(problem([d], orders), PARAMS), 0, [0, 1, 2, 3, 4])
    assert walk.route.breaks[0] == Break(1_000, 600)
    assert [v.service_start_s for v in walk.route.visits] == [500, 1_600, 2_100, 2_600, 3_100]
    assert walk.route.end_s == 6_200  # 6,500 with the first break on the way to D


def test_the_floor_of_a_route_is_never_above_its_units_and_rules_out_only_broken_routes() -> None:
    from core.allocator.evaluate import RouteSchedule

    pricing, routes = _random_routes(11, 80)
    outcomes = set()
    for nodes in routes:
        walk = RouteSchedule(pricing, 0, nodes)
        floor = RouteSchedule.floor_units(pricing, 0, nodes)
        if floor is None:
            assert walk.violations
        else:
            assert floor <= walk.units
        outcomes.add("ruled out" if floor is None else "below" if floor < walk.units else "equal")
    assert {"ruled out", "below"} <= outcomes  # the routes tried both cases

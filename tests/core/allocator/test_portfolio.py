"""The portfolio: identical drivers share one PyVRP vehicle type; when PyVRP can express the
whole model both cores run its search, which post their bests and restart from the other's
when stalled; otherwise OR-Tools keeps the full model."""

import time
from dataclasses import replace

import pytest

from core.allocator import families as fam
from core.allocator.evaluate import evaluate
from core.allocator.kinds import SlaMode
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.portfolio import Search, pyvrp_data, relaxation, relaxation_is_exact
from core.allocator.precheck import check_candidates
from core.allocator.pricing import Pricing
from core.allocator.solve import solve
from core.allocator.stop import MaxRuntime
from tests.core.allocator.builders import driver, order, problem

pytest.importorskip("pyvrp")

VRPTW = SolveParams(
    enabled=frozenset({fam.CAPACITY, fam.SHIFT_WINDOW, fam.SLA_WINDOW, fam.FLEET_COST, fam.UNSERVED}),
    sla_mode=SlaMode.HARD,
    portfolio=True,
    portfolio_share=0.9,
)


def _day(n_drivers: int = 3, **driver_kw):
    drivers = [driver(f"D{k}", capacity_parcels=4, **driver_kw) for k in range(n_drivers)]
    orders = [order(f"O{j}", (j % 4) - 1.5, (j // 4) - 1.0, due_s=20_000) for j in range(10)]
    return problem(drivers, orders)


def _relaxation(pr, params):
    pricing = Pricing(pr, params)
    return pricing, check_candidates(pricing, params)


def test_relaxation_is_exact_only_when_pyvrp_expresses_every_rule() -> None:
    pr = _day()
    assert relaxation_is_exact(*_relaxation(pr, VRPTW))
    assert not relaxation_is_exact(*_relaxation(pr, DEFAULT_PARAMS))  # breaks, soft SLA, ...
    skilled = problem(pr.drivers, [*pr.orders, order("cold", 1.0, required_skills={"cold_chain"})])
    assert not relaxation_is_exact(
        *_relaxation(skilled, replace(VRPTW, enabled=VRPTW.enabled | {fam.SKILLS}))
    )


def test_identical_drivers_share_one_vehicle_type_and_get_distinct_routes() -> None:
    pr = _day(n_drivers=3)
    relax = pyvrp_data(*_relaxation(pr, VRPTW))
    assert relax.data.num_vehicle_types == 1 and relax.data.num_vehicles == 3
    late = problem([*pr.drivers, driver("L", capacity_parcels=4, shift_end_s=50_000)], pr.orders)
    assert pyvrp_data(*_relaxation(late, VRPTW)).data.num_vehicle_types == 2
    best = Search(relax.data, seed=0).run(time.monotonic() + 0.3)
    plan = relax.plan(best, pr)
    assert sorted(o for os_ in plan.values() for o in os_) == sorted(o.id for o in pr.orders)
    assert len(plan) == best.num_routes()  # each route on a driver of its own


class _Peer:
    """One end of a pipe: what we sent, and one message waiting for us."""

    def __init__(self, message: tuple | None) -> None:
        self.sent: list[tuple] = []
        self.waiting = [message] if message is not None else []

    def send(self, msg: tuple) -> None:
        self.sent.append(msg)

    def poll(self, timeout: float = 0.0) -> bool:
        return bool(self.waiting)

    def recv(self) -> tuple:
        return self.waiting.pop(0)


def _stalled_search():
    relax = pyvrp_data(*_relaxation(_day(), VRPTW))
    search = Search(relax.data, seed=0)
    routes = [(r.vehicle_type(), [a.idx for a in r if a.is_client()]) for r in search.init.routes()]
    return search, routes


@pytest.mark.slow
def test_a_stalled_search_restarts_from_the_peers_cheaper_best() -> None:
    # Ten orders: the search has its best long before the second check (at 1 s), so it has stalled
    # there, and takes the peer's best when the peer reports it cheaper.
    search, routes = _stalled_search()
    peer = _Peer(("best", 0, routes))
    search.run(time.monotonic() + 1.5, peer, checks=2)
    assert search.adopted == 1
    posted = [m for m in peer.sent if m[0] == "best"]
    assert posted and posted[0][1] > 0  # our own best went to the peer (once: it never changed)


@pytest.mark.slow
def test_a_search_never_takes_a_peer_best_that_costs_more() -> None:
    search, routes = _stalled_search()
    peer = _Peer(("best", 10**12, routes))
    search.run(time.monotonic() + 1.5, peer, checks=2)
    assert search.adopted == 0


@pytest.mark.slow
def test_solve_runs_pyvrp_on_both_cores_when_it_is_the_whole_model() -> None:
    pr = _day()
    result = solve(pr, MaxRuntime(1.5), seed=0, params=VRPTW)
    assert any("both cores" in n for n in result.notes)
    assert result.metrics.orders_served == 10 and result.metrics.feasible
    assert result.metrics == evaluate(pr, result.plan(), VRPTW)


def test_orders_are_required_in_pyvrp_only_when_a_first_plan_serves_them_all() -> None:
    # Ten orders of one parcel: three vans of 4 carry them all; one van of 4 cannot, so
    # orders stay optional (priced by their drop penalty), so PyVRP may leave some out.
    roomy, _ = relaxation(*_relaxation(_day(n_drivers=3), VRPTW), seed=0)
    assert all(roomy.data.client(k).required for k in range(roomy.data.num_clients))
    tight, _ = relaxation(*_relaxation(_day(n_drivers=1), VRPTW), seed=0)
    assert not any(tight.data.client(k).required for k in range(tight.data.num_clients))

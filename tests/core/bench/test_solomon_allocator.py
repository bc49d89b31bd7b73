"""The pure-VRPTW configuration returns checked-feasible routes of customer numbers."""

from pathlib import Path

import pytest

from core.bench.solomon import check, parse_solomon
from core.bench.solomon_allocator import solve_solomon

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "benchmarks" / "solomon" / "C101.txt"


@pytest.mark.slow
def test_solve_solomon_returns_feasible_routes_on_a_small_instance() -> None:
    if not DATA.exists():
        pytest.skip("Solomon data not present")
    inst = parse_solomon(DATA).head(15)
    routes = solve_solomon(inst, seconds=1.5, seed=0)
    assert sorted(c for r in routes for c in r) == list(range(1, 16))
    assert check(inst, routes).feasible

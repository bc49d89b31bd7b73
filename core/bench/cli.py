"""`ctower bench ...`: the benchmarks, mounted on the project CLI."""

from __future__ import annotations

import argparse
from typing import Any

from core.bench import day, kpi, metro, rebalance, replan, seed_import, simulator, solomon


def add_bench_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="run a benchmark and print its table")
    kinds = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    for name, module, text in (
        ("solomon", solomon, "Solomon VRPTW: allocator vs PyVRP vs VROOM against best-known"),
        ("seed", seed_import, "time seeding a large demo metro and importing a large CSV"),
        ("kpi", kpi, "time KPIs over 30 days x 2,000 orders by fleet type and by vendor"),
        ("metro", metro, "metro days: decomposed parallel solves, 1k to 20k orders"),
        ("rebalance", rebalance, "rebalance the demo day after 20 urgent orders arrive mid-day"),
        ("replan", replan, "re-plan disrupted days under way: live, rebalance, budgeted, from scratch"),
        ("day", day, "one seeded day: rule-based, a static optimised plan and the agents, side by side"),
        ("sim", simulator, "simulated driver-hours per wall second, demo day and a 1,000-driver day"),
    ):
        p = kinds.add_parser(name, help=text, description=text)
        module.add_arguments(p)
        p.set_defaults(handler=_runner(module))


def _runner(module: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        return int(module.main(args))

    return run

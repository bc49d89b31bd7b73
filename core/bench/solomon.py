"""Solomon VRPTW benchmark: run solvers on the 56 instances, check every plan, score the gaps.

The front door is `run(...)`, which writes one CSV row per instance and solver, and
`summary(rows)`, which prints the per-class table. `add_arguments` and `main` are the
`ctower bench solomon` command.

    ctower bench solomon --instances '../shared/benchmarks/solomon/*.txt' \
        --bks ../shared/benchmarks/solomon/bks.csv --seconds 5 --solvers pyvrp,vroom \
        --out bench/out/solomon.csv

Gaps are 100 * (distance - best known) / best known, on the checker's real-valued distance.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.bench.solomon_check import Check, check
from core.bench.solomon_instance import (
    DEFAULT_SCALE,
    SolomonInstance,
    euclidean,
    integer_matrix,
    parse_solomon,
)
from core.bench.solomon_solvers import SOLVERS, Routes, Runner, SolverUnavailable

__all__ = [
    "COLUMNS",
    "DEFAULT_SCALE",
    "SOLVERS",
    "Check",
    "Routes",
    "Runner",
    "SolomonInstance",
    "SolverUnavailable",
    "add_arguments",
    "check",
    "euclidean",
    "integer_matrix",
    "load_bks",
    "main",
    "parse_solomon",
    "run",
    "summary",
]

COLUMNS = ("instance", "solver", "seconds", "vehicles", "distance", "feasible", "gap_pct", "routes")
"""The fixed leading CSV columns; extra columns follow them."""

GAP_DISTANCE_MIN = "gap_distance_min_pct"
EXTRA_COLUMNS = ("limit_s", "seed", "cpu_s", "error", "violations")
CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")
_TIE = 1e-6  # distances this close (absolute) share a win

Row = dict[str, Any]


def load_bks(path: str | Path) -> dict[str, tuple[int, float]]:
    """`instance,vehicles,distance` CSV -> {instance: (vehicles, distance)}.

    Raises ValueError naming the line when a row is missing a field or is not a number.
    """
    table: dict[str, tuple[int, float]] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"instance", "vehicles", "distance"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: header lacks {', '.join(sorted(missing))}")
        for row in reader:
            try:
                table[row["instance"].strip()] = (int(row["vehicles"]), float(row["distance"]))
            except (TypeError, ValueError, AttributeError):
                raise ValueError(f"{path}:{reader.line_num}: bad row {row}") from None
    return table


def _gap_pct(distance: float, bks: tuple[int, float] | None) -> float | None:
    if bks is None or not math.isfinite(distance):
        return None
    return 100.0 * (distance - bks[1]) / bks[1]


@dataclass(frozen=True)
class _Outcome:
    result: Check | None  # None when the solver raised
    routes: Routes
    wall_s: float
    cpu_s: float  # this process's CPU time: less than wall_s when other work shares the CPU
    error: str


def _solve_one(inst: SolomonInstance, runner: Runner, seconds: float, seed: int) -> _Outcome:
    """Run one solver, time it, check its plan; an exception becomes an error string."""
    start, start_cpu = time.perf_counter(), time.process_time()
    try:
        routes = [list(r) for r in runner(inst, seconds, seed) if len(r) > 0]
    except Exception as exc:  # noqa: BLE001 - one broken solver must not stop the run
        routes, error = [], f"{type(exc).__name__}: {exc}"
    else:
        error = ""
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    result = None if error else check(inst, routes)
    return _Outcome(result, routes, wall_s, cpu_s, error)


def run(
    instances_glob: str,
    bks_path: str | Path,
    seconds: float,
    solvers: Sequence[str],
    out_csv: str | Path,
    seed: int = 0,
    bks_distance_min_path: str | Path | None = None,
    progress: Callable[[str], object] = print,
) -> list[Row]:
    """Run every instance with every solver, one at a time, and write `out_csv`.

    Each plan is checked by `check`. Columns: `COLUMNS`, then `gap_distance_min_pct` when
    `bks_distance_min_path` is given, then `limit_s, seed, cpu_s, error, violations` (`cpu_s`
    is this process's CPU time for the solve: well under `seconds` means the CPU was shared). `gap_pct` is
    empty for an infeasible plan or an instance missing from the table. A solver that raises
    gives a row with feasible=False and the exception in `error`; the run goes on.

    Raises ValueError for an unknown solver name or a glob that matches no file.
    """
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown:
        raise ValueError(f"unknown solver(s) {unknown}; choose from {sorted(SOLVERS)}")
    paths = sorted(glob.glob(instances_glob))
    if not paths:
        raise ValueError(f"no instance file matches {instances_glob!r}")
    bks = load_bks(bks_path)
    bks_min = load_bks(bks_distance_min_path) if bks_distance_min_path is not None else None
    columns = [*COLUMNS, *([GAP_DISTANCE_MIN] if bks_min is not None else []), *EXTRA_COLUMNS]

    rows: list[Row] = []
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for path in paths:
            inst = parse_solomon(path)
            for solver in solvers:
                outcome = _solve_one(inst, SOLVERS[solver], seconds, seed)
                result = outcome.result
                feasible = result is not None and result.feasible
                distance = result.distance if result is not None else math.nan
                row: Row = {
                    "instance": inst.name,
                    "solver": solver,
                    "seconds": round(outcome.wall_s, 3),
                    "vehicles": result.vehicles if result is not None else 0,
                    "distance": round(distance, 4) if math.isfinite(distance) else None,
                    "feasible": feasible,
                    "gap_pct": _gap_pct(distance, bks.get(inst.name)) if feasible else None,
                    "routes": json.dumps(outcome.routes, separators=(",", ":")),
                    "limit_s": seconds,
                    "seed": seed,
                    "cpu_s": round(outcome.cpu_s, 3),
                    "error": outcome.error,
                    "violations": "; ".join(result.violations) if result is not None else "",
                }
                if bks_min is not None:
                    gap = _gap_pct(distance, bks_min.get(inst.name)) if feasible else None
                    row[GAP_DISTANCE_MIN] = gap
                for key in ("gap_pct", GAP_DISTANCE_MIN):
                    if row.get(key) is not None:
                        row[key] = round(row[key], 4)
                writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in columns})
                f.flush()
                rows.append(row)
                progress(_progress_line(row))
    return rows


def _progress_line(row: Mapping[str, Any]) -> str:
    if row["error"]:
        return f"{row['instance']:>6} {row['solver']:<10} ERROR {row['error']}"
    gap = "" if row["gap_pct"] is None else f" gap {row['gap_pct']:+.2f}%"
    status = "feasible" if row["feasible"] else "INFEASIBLE"
    return (
        f"{row['instance']:>6} {row['solver']:<10} {status} {row['vehicles']:>2} veh"
        f" {row['distance']:.2f}{gap} in {row['seconds']:.1f} s"
    )


def _instance_class(name: str) -> str:
    letters = name.rstrip("0123456789")
    digits = name[len(letters) :]
    return f"{letters.upper()}{digits[:1]}" if digits else name


def _wins(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], bool]:
    """(instance, solver) -> whether its feasible plan has the best distance (ties all win)."""
    best: dict[str, float] = {}
    for r in rows:
        if r["feasible"]:
            best[r["instance"]] = min(best.get(r["instance"], math.inf), float(r["distance"]))
    return {
        (r["instance"], r["solver"]): bool(r["feasible"])
        and float(r["distance"]) <= best[r["instance"]] + _TIE
        for r in rows
    }


def _mean(values: Sequence[float]) -> str:
    return f"{statistics.fmean(values):.2f}" if values else "-"


def summary(rows: Sequence[Mapping[str, Any]], gap_columns: Sequence[str] | None = None) -> str:
    """Table per instance class (C1 .. RC2) and overall, one line per solver.

    Columns: mean gap % to each table (over the solver's feasible plans), feasible / run,
    mean vehicles (over feasible plans), mean wall seconds (over all runs), and the share of instances
    the solver wins on distance among all solvers' feasible plans (a tie is a win for each).
    `gap_columns` defaults to `gap_pct` plus `gap_distance_min_pct` when rows carry it.
    """
    if gap_columns is None:
        gap_columns = [c for c in ("gap_pct", GAP_DISTANCE_MIN) if any(c in r for r in rows)]
    wins = _wins(rows)
    solvers = list(dict.fromkeys(r["solver"] for r in rows))
    present = {_instance_class(r["instance"]) for r in rows}
    groups = [c for c in CLASSES if c in present] + sorted(present - set(CLASSES)) + ["all"]
    labels = {"gap_pct": "gap% bks", GAP_DISTANCE_MIN: "gap% dmin"}

    header = ["class", "solver", *[labels.get(c, c) for c in gap_columns]]
    header += ["feasible", "vehicles", "seconds", "wins"]
    table: list[list[str]] = []
    for group in groups:
        for solver in solvers:
            mine = [
                r
                for r in rows
                if r["solver"] == solver and (group == "all" or _instance_class(r["instance"]) == group)
            ]
            if not mine:
                continue
            ok = [r for r in mine if r["feasible"]]
            line = [group, solver]
            for col in gap_columns:
                line.append(_mean([float(r[col]) for r in ok if r.get(col) is not None]))
            won = sum(wins[(r["instance"], solver)] for r in mine)
            line += [
                f"{len(ok)}/{len(mine)}",
                _mean([float(r["vehicles"]) for r in ok]),
                _mean([float(r["seconds"]) for r in mine]),
                f"{100.0 * won / len(mine):.0f}%",
            ]
            table.append(line)

    widths = [max(len(str(x)) for x in col) for col in zip(header, *table, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for line in table:
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [cell.rjust(w) for cell, w in zip(line[2:], widths[2:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `ctower bench solomon` options."""
    parser.add_argument("--instances", required=True, help="glob of Solomon files: 'DIR/*.txt'")
    parser.add_argument("--bks", required=True, help="instance,vehicles,distance CSV (bks.csv)")
    parser.add_argument(
        "--bks-distance-min",
        default=None,
        help="second best-known table, distance-only (bks_distance_min.csv)",
    )
    parser.add_argument("--seconds", type=float, required=True, help="time limit per solve")
    parser.add_argument(
        "--solvers",
        default="allocator,pyvrp,vroom",
        help=f"comma-separated, from {','.join(SOLVERS)} (default: all)",
    )
    parser.add_argument("--out", required=True, help="CSV written row by row")
    parser.add_argument("--seed", type=int, default=0, help="seed passed to every solver")


def main(args: argparse.Namespace) -> int:
    """Run the benchmark the parsed `args` describe and print the summary; returns 0."""
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    rows = run(
        args.instances,
        args.bks,
        args.seconds,
        solvers,
        args.out,
        seed=args.seed,
        bks_distance_min_path=args.bks_distance_min,
    )
    print()
    print(f"seed {args.seed}, limit {args.seconds:g} s per solve, {args.out}")
    print(summary(rows))
    return 0

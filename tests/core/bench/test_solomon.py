"""Solomon benchmark harness: parser, matrices, checker, runners, run/summary and CLI.

The hand-built instance T101 (depot 0, customers 1..3, capacity 30, 2 vehicles):

    no.  x  y  demand  ready  due  service
     0   0  0     0       0   100     0      depot
     1   3  4    10       0    20    10      d(0,1) = 5
     2   6  8    20      25    40    10      d(0,2) = 10, d(1,2) = 5
     3   0  4    15       0   100     5      d(0,3) = 4,  d(1,3) = 3, d(2,3) = sqrt(52)

The valid plan [[1, 2], [3]]:
    route 1: 1 starts at 5, leaves 15; reaches 2 at 20, waits to 25, leaves 35; back at 45.
             load 30, distance 5 + 5 + 10 = 20
    route 2: 3 starts at 4, leaves 9; back at 13. load 15, distance 4 + 4 = 8
    total distance 28
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.bench.solomon import (
    COLUMNS,
    SOLVERS,
    SolomonInstance,
    add_arguments,
    check,
    euclidean,
    integer_matrix,
    load_bks,
    main,
    parse_solomon,
    run,
    summary,
)

SOLOMON_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "benchmarks" / "solomon"
C101 = SOLOMON_DIR / "C101.txt"
needs_solomon = pytest.mark.skipif(not C101.exists(), reason=f"the Solomon files are not at {SOLOMON_DIR}")

TINY = """T101

VEHICLE
NUMBER     CAPACITY
  2         30

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0        100          0
    1      3          4         10          0         20         10
    2      6          8         20         25         40         10
    3      0          4         15          0        100          5
"""
VALID = [[1, 2], [3]]


def write(tmp_path: Path, text: str, name: str = "T101.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode())  # the originals have CRLF endings
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> SolomonInstance:
    return parse_solomon(write(tmp_path, TINY))


# ---- parser -------------------------------------------------------------------------------


def test_parser_reads_header_and_every_column(tiny: SolomonInstance) -> None:
    assert (tiny.name, tiny.vehicles, tiny.capacity) == ("T101", 2, 30)
    assert tiny.x.tolist() == [0, 3, 6, 0]
    assert tiny.y.tolist() == [0, 4, 8, 4]
    assert tiny.demand.tolist() == [0, 10, 20, 15]
    assert tiny.demand.dtype == np.int64
    assert tiny.ready.tolist() == [0, 0, 25, 0]
    assert tiny.due.tolist() == [100, 20, 40, 100]
    assert tiny.service.tolist() == [0, 10, 10, 5]


@needs_solomon
def test_parser_reads_the_real_c101() -> None:
    inst = parse_solomon(C101)
    assert (inst.name, inst.vehicles, inst.capacity, len(inst.x)) == ("C101", 25, 200, 101)
    assert (inst.x[0], inst.y[0], inst.due[0]) == (40, 50, 1236)
    assert (inst.demand[100], inst.ready[100], inst.due[100], inst.service[100]) == (
        20,
        647,
        726,
        90,
    )


@pytest.mark.parametrize(
    ("broken", "where", "why"),
    [
        ("    2      6          8         20         25         40", ":12:", "expected 7 numbers"),
        ("    2      6          8         20         25        abc  10", ":12:", "7 numbers"),
        ("    5      6          8         20         25         40  10", ":12:", "number 2, got 5"),
        ("    2      6          8         20         45         40  10", ":12:", "after due"),
    ],
)
def test_parser_names_the_line_and_the_reason(tmp_path: Path, broken: str, where: str, why: str) -> None:
    row = "    2      6          8         20         25         40         10"
    assert row in TINY
    text = TINY.replace(row, broken)
    with pytest.raises(ValueError, match=why) as err:
        parse_solomon(write(tmp_path, text))
    assert where in str(err.value)


def test_parser_rejects_missing_vehicle_section(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r":3: expected a line starting with 'VEHICLE'"):
        parse_solomon(write(tmp_path, TINY.replace("VEHICLE", "VEHICULE")))


def test_parser_rejects_a_file_without_customers(tmp_path: Path) -> None:
    text = TINY.split("    1      3")[0]
    with pytest.raises(ValueError, match="at least one customer"):
        parse_solomon(write(tmp_path, text))


# ---- matrices -----------------------------------------------------------------------------


def test_euclidean_is_real_valued(tiny: SolomonInstance) -> None:
    d = euclidean(tiny)
    assert d[0, 1] == 5.0 and d[1, 2] == 5.0 and d[0, 3] == 4.0
    assert d[2, 3] == pytest.approx(math.sqrt(52), abs=1e-15)


def test_integer_matrix_rounds_up_and_keeps_exact_values(tiny: SolomonInstance) -> None:
    m = integer_matrix(tiny)  # scale 100
    assert m.dtype == np.int64
    assert m[0, 1] == 500  # exactly 5: not bumped to 501
    assert m[2, 3] == 722  # sqrt(52) = 7.2111 -> 721.11 -> 722
    assert integer_matrix(tiny, scale=1)[2, 3] == 8


@needs_solomon
def test_integer_matrix_is_the_least_integer_not_below_the_real_leg() -> None:
    inst = parse_solomon(C101)
    real = euclidean(inst) * 100
    m = integer_matrix(inst)
    assert np.all(m >= real - 1e-9) and np.all(m - real < 1)


# ---- checker ------------------------------------------------------------------------------


def test_checker_accepts_valid_plan_with_waiting(tiny: SolomonInstance) -> None:
    result = check(tiny, VALID)
    assert result.violations == []
    assert result.feasible and result.vehicles == 2
    assert result.distance == pytest.approx(28.0)  # 20 + 8, see the module docstring


def test_checker_flags_missed_customer(tiny: SolomonInstance) -> None:
    result = check(tiny, [[1, 2]])
    assert not result.feasible
    assert result.violations == ["customer 3 is not visited"]
    assert result.distance == pytest.approx(20.0)


def test_checker_flags_duplicate_visit(tiny: SolomonInstance) -> None:
    # route 2: 3 at 4, leaves 9; 1 at 12 (<= 20), leaves 22; back at 27. 4 + 3 + 5 = 12
    result = check(tiny, [[1, 2], [3, 1]])
    assert result.violations == ["customer 1 is visited 2 times"]
    assert result.distance == pytest.approx(32.0)


def test_checker_flags_capacity(tiny: SolomonInstance) -> None:
    # 1 at 5, 2 at 20 -> 25, leaves 35; 3 at 35 + sqrt(52) = 42.2; back at 51.2. load 45 > 30
    result = check(tiny, [[1, 2, 3]])
    assert result.violations == ["route 1: load 45 exceeds capacity 30"]
    assert result.distance == pytest.approx(5 + 5 + math.sqrt(52) + 4)


def test_checker_flags_late_service_start(tiny: SolomonInstance) -> None:
    # 2 at 10, waits to 25, leaves 35; 1 at 40 > due 20
    result = check(tiny, [[2, 1], [3]])
    assert result.violations == ["route 1: customer 1 service starts at 40.0000, after its due date 20"]


def test_checker_flags_late_return_to_depot(tiny: SolomonInstance) -> None:
    due = tiny.due.copy()
    due[0] = 44  # route 1 of the valid plan is back at 45
    result = check(dataclasses.replace(tiny, due=due), VALID)
    assert result.violations == ["route 1: back at the depot at 45.0000, after the depot's due date 44"]


def test_checker_flags_too_many_routes(tiny: SolomonInstance) -> None:
    # 10 + 20 + 8 = 38
    result = check(tiny, [[1], [2], [3]])
    assert result.violations == ["3 routes but only 2 vehicles"]
    assert result.vehicles == 3
    assert result.distance == pytest.approx(38.0)


def test_checker_flags_unknown_customer_and_ignores_empty_routes(tiny: SolomonInstance) -> None:
    assert check(tiny, [[1, 2], [], [3]]).feasible
    assert check(tiny, [[np.int64(1), np.int64(2)], [3]]).feasible
    result = check(tiny, [[1, 2], [3, 0]])
    assert result.violations == ["unknown customer 0: customers are 1..3"]


def test_checker_time_bound_is_inclusive(tiny: SolomonInstance) -> None:
    due = tiny.due.copy()
    due[0] = 45  # back at exactly 45
    assert check(dataclasses.replace(tiny, due=due), VALID).feasible


# ---- runners ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def c101_25() -> SolomonInstance:
    return parse_solomon(C101).head(25)


@needs_solomon
@pytest.mark.parametrize("solver", ["pyvrp", "vroom"])
def test_runner_plan_passes_the_checker(solver: str, c101_25: SolomonInstance) -> None:
    routes = SOLVERS[solver](c101_25, 1.0, 0)
    result = check(c101_25, routes)
    assert result.violations == []
    assert result.distance >= 191.3 - 0.01  # the optimum of C101 with 25 customers is 191.3


@pytest.mark.parametrize("solver", ["pyvrp", "vroom"])
def test_runner_solves_the_tiny_instance(solver: str, tiny: SolomonInstance) -> None:
    routes = SOLVERS[solver](tiny, 1.0, 0)
    assert check(tiny, routes).feasible
    # the optimum, 28; the only other feasible split, [[1, 3], [2]], costs 12 + 20 = 32
    assert sorted(map(sorted, routes)) == [[1, 2], [3]]


@needs_solomon
def test_allocator_runner_plan_passes_the_checker(c101_25: SolomonInstance) -> None:
    routes = SOLVERS["allocator"](c101_25, 1.0, 0)
    assert check(c101_25, routes).violations == []


# ---- run, summary, CLI --------------------------------------------------------------------


def perfect(inst: SolomonInstance, seconds: float, seed: int) -> list[list[int]]:
    return [list(r) for r in VALID]


def wasteful(inst: SolomonInstance, seconds: float, seed: int) -> list[list[int]]:
    return [[1], [2], [3]]


def broken(inst: SolomonInstance, seconds: float, seed: int) -> list[list[int]]:
    raise RuntimeError("boom")


@pytest.fixture
def bench_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, TINY)
    write(tmp_path, TINY.replace("T101", "T201"), "T201.txt")
    (tmp_path / "bks.csv").write_text("instance,vehicles,distance\nT101,2,28.00\nT201,2,25.00\n")
    (tmp_path / "dmin.csv").write_text("instance,vehicles,distance\nT101,2,20.00\n")
    for name, runner in [("perfect", perfect), ("wasteful", wasteful), ("broken", broken)]:
        monkeypatch.setitem(SOLVERS, name, runner)
    return tmp_path


def test_load_bks_reads_the_table(bench_dir: Path) -> None:
    assert load_bks(bench_dir / "bks.csv") == {"T101": (2, 28.0), "T201": (2, 25.0)}
    if C101.exists():
        assert load_bks(SOLOMON_DIR / "bks.csv")["RC103"] == (11, 1261.67)


def test_run_writes_exact_columns_and_gaps(bench_dir: Path) -> None:
    out = bench_dir / "out" / "r.csv"
    rows = run(
        str(bench_dir / "T1*.txt"),
        bench_dir / "bks.csv",
        1.0,
        ["perfect"],
        out,
        progress=lambda line: None,
    )
    with open(out, newline="") as f:
        reader = csv.DictReader(f)
        written = list(reader)
    assert (
        tuple(reader.fieldnames or [])[: len(COLUMNS)]
        == COLUMNS
        == (
            "instance",
            "solver",
            "seconds",
            "vehicles",
            "distance",
            "feasible",
            "gap_pct",
            "routes",
        )
    )
    assert len(rows) == len(written) == 1
    row = written[0]
    assert (row["instance"], row["solver"], row["vehicles"], row["feasible"]) == (
        "T101",
        "perfect",
        "2",
        "True",
    )
    assert float(row["distance"]) == pytest.approx(28.0)
    assert float(row["gap_pct"]) == pytest.approx(0.0)
    assert json.loads(row["routes"]) == VALID
    assert float(row["seconds"]) >= 0 and float(row["cpu_s"]) >= 0 and row["error"] == ""


def test_run_adds_the_distance_min_gap_when_given(bench_dir: Path) -> None:
    rows = run(
        str(bench_dir / "T1*.txt"),
        bench_dir / "bks.csv",
        1.0,
        ["perfect"],
        bench_dir / "r.csv",
        bks_distance_min_path=bench_dir / "dmin.csv",
        progress=lambda line: None,
    )
    assert rows[0]["gap_distance_min_pct"] == pytest.approx(40.0)  # 28 vs 20


def test_failing_solver_gives_an_error_row_not_a_crash(bench_dir: Path) -> None:
    lines: list[str] = []
    rows = run(
        str(bench_dir / "T*.txt"),
        bench_dir / "bks.csv",
        1.0,
        ["broken", "perfect"],
        bench_dir / "r.csv",
        progress=lines.append,
    )
    assert [(r["instance"], r["solver"], r["feasible"]) for r in rows] == [
        ("T101", "broken", False),
        ("T101", "perfect", True),
        ("T201", "broken", False),
        ("T201", "perfect", True),
    ]
    assert rows[0]["error"] == "RuntimeError: boom" and rows[0]["gap_pct"] is None
    assert "ERROR RuntimeError: boom" in lines[0]


def test_infeasible_plan_is_recorded_with_its_violations(bench_dir: Path) -> None:
    rows = run(
        str(bench_dir / "T1*.txt"),
        bench_dir / "bks.csv",
        1.0,
        ["wasteful"],
        bench_dir / "r.csv",
        progress=lambda line: None,
    )
    assert rows[0]["feasible"] is False and rows[0]["gap_pct"] is None
    assert rows[0]["violations"] == "3 routes but only 2 vehicles"


def test_run_rejects_unknown_solver_and_empty_glob(bench_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown solver"):
        run(str(bench_dir / "T*.txt"), bench_dir / "bks.csv", 1.0, ["nope"], bench_dir / "r.csv")
    with pytest.raises(ValueError, match="no instance file"):
        run(str(bench_dir / "X*.txt"), bench_dir / "bks.csv", 1.0, ["perfect"], bench_dir / "r")


def test_summary_counts_wins_and_feasibility_per_class() -> None:
    def row(instance: str, solver: str, distance: float, feasible: bool = True) -> dict:
        return {
            "instance": instance,
            "solver": solver,
            "distance": distance,
            "feasible": feasible,
            "vehicles": 3,
            "seconds": 1.0,
            "gap_pct": distance - 100 if feasible else None,
        }

    rows = [
        row("C101", "a", 100.0),
        row("C101", "b", 101.0),
        row("R101", "a", 103.0),
        row("R101", "b", 102.0),
        row("R102", "a", 104.0),
        row("R102", "b", 0.0, feasible=False),
    ]
    lines = {tuple(line.split()[:2]): line.split()[2:] for line in summary(rows).splitlines()}
    # gap, feasible, vehicles, seconds, wins
    assert lines[("C1", "a")] == ["0.00", "1/1", "3.00", "1.00", "100%"]
    assert lines[("R1", "b")] == ["2.00", "1/2", "3.00", "1.00", "50%"]
    assert lines[("all", "a")] == ["2.33", "3/3", "3.00", "1.00", "67%"]
    assert lines[("all", "b")] == ["1.50", "2/3", "3.00", "1.00", "33%"]


def test_cli_options_and_main_print_the_summary(bench_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--instances",
            str(bench_dir / "T*.txt"),
            "--bks",
            str(bench_dir / "bks.csv"),
            "--bks-distance-min",
            str(bench_dir / "dmin.csv"),
            "--seconds",
            "0.5",
            "--solvers",
            "perfect,broken",
            "--out",
            str(bench_dir / "o.csv"),
            "--seed",
            "3",
        ]
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "gap% bks" in out and "gap% dmin" in out
    assert any(line.split()[:2] == ["all", "perfect"] for line in out.splitlines())
    with open(bench_dir / "o.csv", newline="") as f:
        assert {r["seed"] for r in csv.DictReader(f)} == {"3"}


@pytest.mark.slow
def test_bench_command_runs_on_the_tiny_instance(bench_dir: Path) -> None:
    """`ctower bench solomon` itself, end to end with the real solvers, so it cannot rot."""
    root = Path(__file__).resolve().parents[3]
    out = bench_dir / "script.csv"
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "bench", "solomon",
         "--instances", str(bench_dir / "T1*.txt"), "--bks", str(bench_dir / "bks.csv"),
         "--seconds", "0.2", "--solvers", "pyvrp,vroom", "--out", str(out)],
        capture_output=True, text=True, cwd=root, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "all    pyvrp" in done.stdout
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["solver"], r["feasible"], r["gap_pct"]) for r in rows] == [
        ("pyvrp", "True", "0.0"),
        ("vroom", "True", "0.0"),
    ]

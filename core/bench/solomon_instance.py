"""Solomon VRPTW instances: the frozen instance, its parser and its two travel matrices.

Conventions (see shared/benchmarks/solomon/README.md): distance is the real-valued Euclidean
distance between the given coordinates, travel time equals distance, waiting is allowed,
service must *start* inside [ready, due], and every route is back at the depot by the depot's
due date. Customer 0 is the depot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_SCALE = 100
"""Integer units per Solomon time/distance unit: 1 unit of distance is 100 integer units."""

_FIELDS = ("CUST NO.", "XCOORD.", "YCOORD.", "DEMAND", "READY TIME", "DUE DATE", "SERVICE TIME")


@dataclass(frozen=True, eq=False)
class SolomonInstance:
    """One Solomon instance. Arrays have length n + 1; index 0 is the depot.

    Coordinates and times are float64 (the files hold integers, but nothing here relies on
    it); demand is int64. Build it with `parse_solomon`, which validates.
    """

    name: str
    vehicles: int
    capacity: int
    x: FloatArray
    y: FloatArray
    demand: IntArray
    ready: FloatArray
    due: FloatArray
    service: FloatArray

    @property
    def num_customers(self) -> int:
        return len(self.x) - 1

    def head(self, customers: int) -> SolomonInstance:
        """The depot and the first `customers` customers, as a smaller instance (for tests)."""
        if not 1 <= customers <= self.num_customers:
            raise ValueError(f"customers must be in [1, {self.num_customers}], got {customers}")
        k = customers + 1
        return SolomonInstance(
            name=f"{self.name}-{customers}",
            vehicles=self.vehicles,
            capacity=self.capacity,
            x=self.x[:k].copy(),
            y=self.y[:k].copy(),
            demand=self.demand[:k].copy(),
            ready=self.ready[:k].copy(),
            due=self.due[:k].copy(),
            service=self.service[:k].copy(),
        )


class _Lines:
    """Non-blank lines with their 1-based line numbers, for error messages."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self._items = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        self._pos = 0

    def error(self, lineno: int | None, why: str) -> ValueError:
        where = f"{self.path}:{lineno}" if lineno is not None else f"{self.path}"
        return ValueError(f"{where}: {why}")

    def next(self, what: str) -> tuple[int, str]:
        if self._pos >= len(self._items):
            raise self.error(None, f"file ends before {what}")
        item = self._items[self._pos]
        self._pos += 1
        return item

    def expect_word(self, word: str) -> None:
        lineno, line = self.next(f"the {word!r} line")
        if not line.upper().startswith(word):
            raise self.error(lineno, f"expected a line starting with {word!r}, got {line!r}")

    def rest(self) -> list[tuple[int, str]]:
        items = self._items[self._pos :]
        self._pos = len(self._items)
        return items


def _numbers(lines: _Lines, lineno: int, line: str, count: int, what: str) -> list[float]:
    parts = line.split()
    if len(parts) != count:
        raise lines.error(lineno, f"expected {count} numbers ({what}), got {len(parts)}: {line!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise lines.error(lineno, f"expected {count} numbers ({what}), got {line!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise lines.error(lineno, f"non-finite number in {line!r}")
    return values


def _integer(lines: _Lines, lineno: int, value: float, what: str) -> int:
    if value != int(value):
        raise lines.error(lineno, f"{what} must be an integer, got {value}")
    return int(value)


def parse_solomon(path: str | Path) -> SolomonInstance:
    """Read a file in the original Solomon text format.

    Raises ValueError naming the file, the line and the reason when the file is malformed:
    missing sections, wrong number of fields, non-numeric fields, customer numbers that are
    not 0, 1, 2, ... in order, negative demand or service time, ready after due, or a
    non-positive fleet size or capacity.
    """
    path = Path(path)
    lines = _Lines(path, path.read_text(encoding="utf-8-sig"))
    _, name = lines.next("the instance name")
    lines.expect_word("VEHICLE")
    lines.expect_word("NUMBER")
    lineno, line = lines.next("the vehicle number and capacity")
    number, capacity = _numbers(lines, lineno, line, 2, "VEHICLE NUMBER, CAPACITY")
    vehicles = _integer(lines, lineno, number, "VEHICLE NUMBER")
    cap = _integer(lines, lineno, capacity, "CAPACITY")
    if vehicles <= 0 or cap <= 0:
        raise lines.error(lineno, f"vehicle number and capacity must be positive, got {line!r}")
    lines.expect_word("CUSTOMER")
    lines.expect_word("CUST")

    rows: list[list[float]] = []
    for lineno, line in lines.rest():
        row = _numbers(lines, lineno, line, len(_FIELDS), " ".join(_FIELDS))
        cust, _, _, demand, ready, due, service = row
        if cust != len(rows):
            raise lines.error(lineno, f"expected customer number {len(rows)}, got {cust:g}")
        _integer(lines, lineno, demand, "DEMAND")
        if demand < 0 or service < 0:
            raise lines.error(lineno, f"negative demand or service time in {line!r}")
        if ready > due:
            raise lines.error(lineno, f"ready time {ready:g} is after due date {due:g}")
        rows.append(row)
    if len(rows) < 2:
        raise lines.error(None, f"need the depot and at least one customer, found {len(rows)} rows")

    data = np.asarray(rows, dtype=np.float64)
    return SolomonInstance(
        name=name,
        vehicles=vehicles,
        capacity=cap,
        x=data[:, 1].copy(),
        y=data[:, 2].copy(),
        demand=data[:, 3].astype(np.int64),
        ready=data[:, 4].copy(),
        due=data[:, 5].copy(),
        service=data[:, 6].copy(),
    )


def euclidean(inst: SolomonInstance) -> FloatArray:
    """Real-valued Euclidean distances (= travel times), double precision, not rounded."""
    dx = inst.x[:, None] - inst.x[None, :]
    dy = inst.y[:, None] - inst.y[None, :]
    return np.asarray(np.hypot(dx, dy), dtype=np.float64)


def integer_matrix(inst: SolomonInstance, scale: int = DEFAULT_SCALE) -> IntArray:
    """Travel times in 1/`scale` units, rounded up: ceil(d * scale).

    Rounding up means every integer leg is at least the real one, so a plan whose integer
    schedule is on time is also on time in floating point. With integer coordinates (all
    Solomon files) the ceiling is exact, worked out on the squared distance in integers, so
    floating-point noise can never round a leg down.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    coords = np.concatenate([inst.x, inst.y])
    if float(scale).is_integer() and np.array_equal(coords, np.round(coords)):
        xi = inst.x.astype(np.int64)
        yi = inst.y.astype(np.int64)
        s = int(scale)
        squared = ((xi[:, None] - xi[None, :]) ** 2 + (yi[:, None] - yi[None, :]) ** 2) * (s * s)
        k = np.ceil(np.sqrt(squared.astype(np.float64))).astype(np.int64)
        # Fix the float estimate so that k is the least integer with k*k >= squared.
        k = np.where(k * k < squared, k + 1, k)
        k = np.where((k > 0) & ((k - 1) * (k - 1) >= squared), k - 1, k)
        return k
    return np.ceil(euclidean(inst) * scale).astype(np.int64)

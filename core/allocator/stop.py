"""Stopping rules: tiny objects named for what they test.

Every rule also carries a wall-clock cap, because guided local search never stops by itself.
Tests that compare exact routes use `MaxSolutions`, which does not depend on the machine.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class MaxRuntime:
    """Stop after `seconds` of wall time."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("seconds must be > 0")

    @property
    def time_limit_s(self) -> float:
        return self.seconds


@dataclass(frozen=True)
class MaxSolutions:
    """Stop after the search has produced `n` solutions.

    Machine-independent, so tests that compare exact routes use it.  Also stops when no new
    solution came for `stall_s` (a tiny problem runs out of solutions long before `n`; the
    answer is the same whenever it stops) and after `max_runtime_s` as a safety.
    """

    n: int
    max_runtime_s: float = 30.0
    stall_s: float = 0.5

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ValueError("n must be > 0")
        if self.max_runtime_s <= 0:
            raise ValueError("max_runtime_s must be > 0")

    @property
    def time_limit_s(self) -> float:
        return self.max_runtime_s


StopRule = MaxRuntime | MaxSolutions

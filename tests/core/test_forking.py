"""Forked children (the metro's pool workers, the re-plan child, the solver's helpers) keep
the heap they inherit out of their collector's reach, and still collect what they make."""

import gc
import weakref
from multiprocessing.connection import Connection

from core import forking
from core.allocator.executor import LocalPoolExecutor
from core.allocator.params import SolveParams
from core.allocator.result import Status
from core.allocator.solve import solve
from core.allocator.stop import MaxRuntime
from tests.core.allocator.builders import driver, order, problem

INHERITED = 50_000


def _frozen(_: object) -> int:
    return gc.get_freeze_count()


def _report(conn: Connection) -> None:
    conn.send(gc.get_freeze_count())
    conn.close()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def _collects_its_own(_: object) -> bool:
    made = _Cycle()
    alive = weakref.ref(made)
    del made
    gc.collect()
    return alive() is None


def test_a_pool_worker_and_a_forked_process_freeze_the_heap_they_inherit():
    heap = [[i] for i in range(INHERITED)]  # what a parent holding a big day has
    with LocalPoolExecutor(1, context="fork") as pool:
        assert pool.map(_frozen, [0])[0] >= INHERITED
        assert pool.map(_collects_its_own, [0]) == [True]
    here, there = forking.FORK.Pipe(duplex=False)
    proc = forking.process(_report, (there,))
    proc.start()
    there.close()
    assert here.recv() >= INHERITED
    proc.join()
    assert proc.exitcode == 0
    assert len(heap) == INHERITED and gc.get_freeze_count() == 0  # the parent's own collector is untouched


def _tells_may_fork_and_solves(conn: Connection) -> None:
    pr = problem([driver("V0")], [order(f"O{i}", 1.0 + i, 1.0) for i in range(4)])
    result = solve(pr, MaxRuntime(1.5), params=SolveParams(portfolio=True))
    conn.send((forking.may_fork(), result.status, len(result.unassigned)))
    conn.close()


def test_a_daemonic_process_such_as_a_dask_worker_may_not_fork_and_solves_without_pyvrp():
    assert forking.may_fork()
    for daemon, may in ((True, False), (False, True)):
        here, there = forking.FORK.Pipe(duplex=False)
        proc = forking.process(_tells_may_fork_and_solves, (there,), daemon=daemon)
        proc.start()
        there.close()
        assert here.recv() == (may, Status.SOLVED, 0)
        proc.join()
        assert proc.exitcode == 0

"""One small interface to run independent solves in parallel: `map(fn, items) -> list`.

`LocalPoolExecutor` (a process pool on this machine) is the default; `DaskExecutor` sends
the same calls to a `dask.distributed` cluster when one is configured, so the fan-out
scales past one machine on an existing engine.  `executor_for(address)` picks one from the
configured scheduler address (settings' `dask_scheduler`); the allocator never reads
settings itself.

`fn` must be a module-level function and items picklable: both go to other processes.
Results come back in the order of `items`, whichever worker finished first.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs `fn` on every item, possibly elsewhere; returns the results in item order.

    Executors here also say how many items they run at once (`slots`), which a time budget
    is shared out by; one without it counts as one.
    """

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...


class SerialExecutor:
    """In this process, one item after another: for one part, tests and debugging."""

    slots = 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(x) for x in items]


class LocalPoolExecutor:
    """A pool of worker processes on this machine (`workers` defaults to the CPU count).

    Used as a context manager the pool is kept between `map` calls (no start-up per solve);
    otherwise each `map` starts and stops its own.  `context` is the multiprocessing start
    method: "fork" starts fastest on Linux; use "spawn" from a process that runs threads.
    """

    def __init__(self, workers: int | None = None, context: str | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.context = context
        self._pool: ProcessPoolExecutor | None = None

    @property
    def slots(self) -> int:
        return self.workers

    def _make(self) -> ProcessPoolExecutor:
        ctx = mp.get_context(self.context) if self.context else None
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)

    def __enter__(self) -> LocalPoolExecutor:
        self._pool = self._make()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        if self._pool is not None:
            return _gather(self._pool, fn, items)
        with self._make() as pool:
            return _gather(pool, fn, items)


def _gather(pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    futures = [pool.submit(fn, x) for x in items]
    return [f.result() for f in futures]


class DaskExecutor:
    """A `dask.distributed` cluster: `Client.map` and `Client.gather`.

    `cluster`: a scheduler address ("tcp://host:8786"), a `LocalCluster`, or a `Client`.
    A client made here is closed with the executor; one passed in is left open.
    """

    def __init__(self, cluster: str | Any) -> None:
        from dask.distributed import Client

        self._own = not isinstance(cluster, Client)
        self.client: Any = Client(cluster) if self._own else cluster  # type: ignore[no-untyped-call]

    @property
    def slots(self) -> int:
        """Threads across the cluster's workers, as the scheduler reports them now."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own:
            self.client.close()

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        # pure=False: equal items are still separate tasks (dask would otherwise dedupe by
        # hash); one key per item keeps the results in item order.
        futures = self.client.map(fn, list(items), pure=False)
        return list(self.client.gather(futures))


def executor_for(scheduler: str | None, workers: int | None = None) -> LocalPoolExecutor | DaskExecutor:
    """A `DaskExecutor` on `scheduler` when one is configured, else a local process pool."""
    if scheduler:
        return DaskExecutor(scheduler)
    return LocalPoolExecutor(workers)


def largest_first(sizes: Sequence[int]) -> list[int]:
    """Positions sorted by size, largest first: long tasks start early, so the last worker
    to finish is not the one that drew the biggest part last (LPT scheduling)."""
    return sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))

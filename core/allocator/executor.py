"""One small interface to run independent solves in parallel: `map(fn, items) -> list`.

`LocalPoolExecutor` (a process pool on this machine) is the default; `DaskExecutor` sends
the same calls to a `dask.distributed` cluster when one is configured, so the fan-out
scales past one machine on an existing engine.  `executor_for(address)` picks one from the
configured scheduler address (settings' `dask_scheduler`); the allocator never reads
settings itself.

`fn` must be a module-level function and items picklable: both go to other processes.
`map` gives the results in the order of `items`, whichever worker finished first; `each`
yields them as they finish and stops early when a cancel event is set (tasks not started are
dropped; a local pool's workers are stopped, a dask task already running ends on its own and
its result is not waited for).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar

from core import forking

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs `fn` on every item, possibly elsewhere; returns the results in item order.

    Executors here also say how many items they run at once (`slots`), which a time budget
    is shared out by; one without it counts as one.
    """

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]: ...

    def each(
        self, fn: Callable[[T], R], items: Sequence[T], cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, R]]: ...


POLL_S = 0.2  # how often a wait for results looks at the cancel event


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


class SerialExecutor:
    """In this process, one item after another: for one part, tests and debugging."""

    slots = 1

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        return [fn(x) for x in items]

    def each(
        self, fn: Callable[[T], R], items: Sequence[T], cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, R]]:
        for i, x in enumerate(items):
            if _cancelled(cancel):
                return
            yield i, fn(x)


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
        return forking.pool(self.workers, self.context)

    def __enter__(self) -> LocalPoolExecutor:
        self._pool = self._make()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, wait: bool = True) -> None:
        """Stop the kept pool; `wait=False` also stops the tasks still running."""
        if self._pool is not None:
            _shutdown(self._pool, stop=not wait)
            self._pool = None

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        if self._pool is not None:
            return _gather(self._pool, fn, items)
        with self._make() as pool:
            return _gather(pool, fn, items)

    def each(
        self, fn: Callable[[T], R], items: Sequence[T], cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, R]]:
        if not items:
            return
        if self._pool is not None:
            yield from _as_done(self._pool, fn, items, cancel)
            return
        pool = self._make()
        try:
            yield from _as_done(pool, fn, items, cancel)
        finally:
            _shutdown(pool, stop=_cancelled(cancel))


def _shutdown(pool: ProcessPoolExecutor, stop: bool) -> None:
    """Shut the pool down; with `stop`, end its worker processes now, tasks running or not,
    rather than wait for them (the pool keeps them in `_processes`; there is no public way
    before Python 3.14's `terminate_workers`)."""
    if stop:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
    pool.shutdown(wait=not stop, cancel_futures=True)


def _gather(pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    futures = [pool.submit(fn, x) for x in items]
    return [f.result() for f in futures]


def _as_done(
    pool: ProcessPoolExecutor, fn: Callable[[T], R], items: Sequence[T], cancel: threading.Event | None
) -> Iterator[tuple[int, R]]:
    index: dict[Future[R], int] = {pool.submit(fn, x): i for i, x in enumerate(items)}
    pending = set(index)
    try:
        while pending and not _cancelled(cancel):
            done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=index.__getitem__):
                yield index[f], f.result()
    finally:
        for f in pending:
            f.cancel()


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

    def each(
        self, fn: Callable[[T], R], items: Sequence[T], cancel: threading.Event | None = None
    ) -> Iterator[tuple[int, R]]:
        from dask.distributed import as_completed

        if not items:
            return
        futures = self.client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        done: Any = as_completed(futures)  # type: ignore[no-untyped-call]
        try:
            while not done.is_empty() and not _cancelled(cancel):
                for f in done.next_batch(block=False) or []:
                    yield index[f.key], f.result()
                if not done.is_empty():
                    time.sleep(POLL_S)
        finally:
            for f in futures:
                if not f.done():
                    f.cancel()


def executor_for(scheduler: str | None, workers: int | None = None) -> LocalPoolExecutor | DaskExecutor:
    """A `DaskExecutor` on `scheduler` when one is configured, else a local process pool."""
    if scheduler:
        return DaskExecutor(scheduler)
    return LocalPoolExecutor(workers)


def largest_first(sizes: Sequence[int]) -> list[int]:
    """Positions sorted by size, largest first: long tasks start early, so the last worker
    to finish is not the one that drew the biggest part last (LPT scheduling)."""
    return sorted(range(len(sizes)), key=lambda i: (-sizes[i], i))

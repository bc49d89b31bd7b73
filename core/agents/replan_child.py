"""A re-plan in a forked child process, for a long-lived server such as the app's.

A hub of thousands of orders needs duration matrices of a gigabyte or more while it is
re-planned; in a child they are the child's and go back to the system when it ends, instead of
staying in the server's heap. The child also has its own interpreter, so the server's pages keep
running at full speed while it searches.

The child is forked after the day was read, so nothing is pickled on the way in and it never
touches the database; what comes back is small and plain: progress reports while it runs, then
the re-plan less the state (the caller already holds it), or the error it ended with.
"""

from __future__ import annotations

import logging
import threading
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent

from core import forking
from core.agents.dispatch import RebalanceRequest, Replan, ReplanProgress, ReplanProgressFn, replan
from core.agents.dispatch_problem import DayState
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.errors import ControlTowerError

log = logging.getLogger(__name__)

POLL_S = 0.2  # how often the waiting side looks at the cancel event and the child's health
JOIN_S = 5.0  # how long an answered child may take to exit before it is killed


class ReplanProcessError(RuntimeError):
    """The child ended without a re-plan: it crashed, was killed, or failed unexpectedly."""


def _watch(flag: ProcessEvent, cancel: threading.Event) -> None:
    flag.wait()
    cancel.set()


def _child(
    state: DayState,
    request: RebalanceRequest,
    requested_by: str,
    params: SolveParams,
    flag: ProcessEvent,
    conn: Connection,
) -> None:
    cancel = threading.Event()
    threading.Thread(target=_watch, args=(flag, cancel), daemon=True).start()

    def progress(p: ReplanProgress) -> None:
        conn.send(("progress", p))

    try:
        done = replan(state, request, requested_by, params, progress, cancel)
        conn.send(("done", (done.change, done.effect, done.rationale, done.plan)))
    except ControlTowerError as exc:  # a reason for a person: goes back as it is worded
        conn.send(("refused", str(exc)))
    except Exception as exc:  # noqa: BLE001 - the parent raises it; the traceback stays in this log
        log.exception("re-plan of hub %s failed", state.hub_code)
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _ended(proc: BaseProcess) -> ReplanProcessError:
    proc.join(JOIN_S)
    return ReplanProcessError(f"the re-plan's process ended without an answer (exit code {proc.exitcode})")


def replan_in_child(
    state: DayState,
    request: RebalanceRequest,
    requested_by: str,
    params: SolveParams = DEFAULT_PARAMS,
    progress: ReplanProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> Replan:
    """`replan(...)` run in a forked child: the same re-plan, its memory and CPU the child's.
    Progress arrives here as in-process; `cancel` reaches the child within `POLL_S`. Raises
    what `replan` raises for a person (`ControlTowerError`, with its words), else
    `ReplanProcessError`."""
    here, there = forking.FORK.Pipe(duplex=False)
    flag = forking.FORK.Event()
    # not a daemon: the re-plan forks its own helpers, which a daemonic process may not have
    proc = forking.process(
        _child, (state, request, requested_by, params, flag, there), name=f"replan-{state.hub_code}"
    )
    proc.start()
    there.close()
    try:
        while True:
            if cancel is not None and cancel.is_set():
                flag.set()
            if not here.poll(POLL_S):
                if not proc.is_alive() and not here.poll(0):
                    raise _ended(proc)
                continue
            try:
                kind, payload = here.recv()
            except EOFError as exc:
                raise _ended(proc) from exc
            if kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "done":
                return Replan(state, *payload)
            elif kind == "refused":
                raise ControlTowerError(payload)
            else:
                raise ReplanProcessError(payload)
    finally:
        here.close()
        proc.join(JOIN_S)
        if proc.is_alive():
            proc.kill()
            proc.join()

"""A rebalance running in a worker thread, so the page can show progress and stay responsive;
the solve itself runs in a child process (`rebalance(..., in_child=True)`), so its memory and
CPU are never the server's.

The job lives in the user's own session state (never a module-level registry); the thread
never calls st.*. Its result is a pending proposal in the database, so it survives the user
navigating away: the inbox shows it either way.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from core.access import Viewer
from core.agents.dispatch import RebalanceRequest, ReplanProgress
from core.agents.rebalance import rebalance
from core.errors import ControlTowerError
from ui import services

log = logging.getLogger(__name__)


@dataclass
class RebalanceJob:
    request: RebalanceRequest
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: float = field(default_factory=time.monotonic)
    progress: ReplanProgress | None = None
    proposal_id: int | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    reported: bool = False  # the page has rerun once to show the result

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


def progress_text(job: RebalanceJob) -> str:
    """What the progress bar says: time used against the limit (never past it), and the best
    plan so far in the proposal's own terms (late, unassigned, cost), once there is one."""
    limit = job.request.seconds
    p = job.progress
    best = ""
    if p is not None and p.late is not None and p.cost_cents is not None:
        best = f" · best so far: {p.late:,} late, {p.unassigned:,} unassigned, ${p.cost_cents / 100:,.2f}"
    if job.elapsed_s >= limit:
        return (
            f"Solving: {limit:.0f} of {limit:.0f} s{best} · checking the best plan and writing the proposal"
        )
    return f"Solving: {job.elapsed_s:.0f} of {limit:.0f} s" + (best or " · repairing the plan on the road")


def _run(job: RebalanceJob, viewer: Viewer) -> None:
    def on_progress(p: ReplanProgress) -> None:
        job.progress = p

    try:
        view = rebalance(
            services.current_engine(),
            viewer,
            job.request,
            progress=on_progress,
            cancel=job.cancel,
            in_child=True,
        )
        job.proposal_id = view.id
    except ControlTowerError as exc:
        job.error = str(exc)
    except Exception:  # noqa: BLE001 - the page must show something, the log keeps the detail
        log.exception("rebalance %s failed", job.id)
        job.error = "The rebalance failed unexpectedly; the details are in the server log."


def start(viewer: Viewer, request: RebalanceRequest) -> RebalanceJob:
    job = RebalanceJob(request)
    job.thread = threading.Thread(target=_run, args=(job, viewer), name=f"rebalance-{job.id}", daemon=True)
    job.thread.start()
    return job

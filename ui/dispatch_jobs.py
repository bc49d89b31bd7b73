"""A rebalance running in a worker thread, so the page can show progress and stay responsive.

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
from core.agents.dispatch import RebalanceRequest
from core.agents.rebalance import rebalance
from core.allocator.solve import Progress
from core.errors import ControlTowerError
from ui import services

log = logging.getLogger(__name__)


@dataclass
class RebalanceJob:
    request: RebalanceRequest
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: float = field(default_factory=time.monotonic)
    progress: Progress | None = None
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
    """What the progress bar says: time used against the limit (never past it), and how many
    plans the search has found. The solver's running objective is not shown: it includes
    penalties, so it is not the cost the proposal will show."""
    limit = job.request.seconds
    if job.elapsed_s >= limit:
        return f"Solving: {limit:.0f} of {limit:.0f} s · checking the best plan and writing the proposal"
    found = job.progress.solutions if job.progress else 0
    tried = "looking for a first plan" if not found else f"{found:,} plan{'s' if found != 1 else ''} found"
    return f"Solving: {job.elapsed_s:.0f} of {limit:.0f} s · {tried}"


def _run(job: RebalanceJob, viewer: Viewer) -> None:
    def on_progress(p: Progress) -> None:
        job.progress = p

    try:
        view = rebalance(
            services.current_engine(), viewer, job.request, progress=on_progress, cancel=job.cancel
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

"""A person's rebalance as one action: read the day in a short read-only unit of work, solve
with no session open, write the proposal in a short unit of work.

The solve can take a minute; holding a transaction through it would make every simulator
tick and approval wait (on SQLite, fail with "database is locked"). The proposal records the
plan version it read, so approval still refuses it if the plan moved while it was solved.
A long-lived server solves in a child process (`in_child`, see `replan_child`).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import Engine

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.agents.dispatch import RebalanceRequest, ReplanProgressFn, read_day, record, replan
from core.agents.replan_child import replan_in_child
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.db import unit_of_work
from core.proposals import ProposalView


def rebalance(
    engine: Engine,
    viewer: Viewer,
    request: RebalanceRequest,
    progress: ReplanProgressFn | None = None,
    cancel: threading.Event | None = None,
    params: SolveParams = DEFAULT_PARAMS,
    unavailable: dict[int, str] | None = None,
    agent: str | None = None,
    in_child: bool = False,
) -> ProposalView:
    """Re-plan the request's hub and day as `viewer`, who is credited with the proposal (an
    agent acting under `viewer` names itself in `agent`). `unavailable`: drivers.id -> why they
    may not work for this re-plan (a van just broken down).
    `in_child`: solve in a forked child process, so its memory and CPU are not the caller's."""
    viewer.require(PLAN_CHANGE_ROLES, "run a rebalance")
    now = request.recorded_at or request.now or datetime.now(UTC)
    with unit_of_work(engine, read_only=True) as session:
        state = read_day(session, request, unavailable)
    solve = replan_in_child if in_child else replan
    done = solve(state, request, agent or viewer.username, params, progress, cancel)
    with unit_of_work(engine) as session:
        return record(session, done, viewer, now, agent)

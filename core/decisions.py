"""A person's decision on a proposal as one action: one transaction that applies it whole or
refuses it whole.

An approval refused because the plan or its orders moved on closes the proposal as stale in a
second short transaction (audited, with the refusal's words), so the inbox stops offering a
proposal that can never be applied; the refusal still reaches the person.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from core.access import Viewer
from core.db import unit_of_work
from core.errors import StaleProposalError
from core.proposals import Appliers, ProposalView, approve, close_stale, reject


def decide(
    engine: Engine,
    viewer: Viewer,
    proposal_id: int,
    approved: bool,
    appliers: Appliers,
    reason: str = "",
    now: datetime | None = None,
) -> ProposalView:
    """Approve (with `appliers`) or reject (with `reason`) the proposal as `viewer`."""
    now = now or datetime.now(UTC)
    try:
        with unit_of_work(engine) as session:
            if approved:
                return approve(session, viewer, proposal_id, appliers, now=now)
            return reject(session, viewer, proposal_id, reason, now=now)
    except StaleProposalError as exc:
        with unit_of_work(engine) as session:
            close_stale(session, viewer, proposal_id, str(exc), now)
        raise

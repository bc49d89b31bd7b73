"""Proposals: agents and people propose, a person with the right role approves or rejects.

Applying is atomic inside the caller's unit of work and version-checked. A proposal built on
an older plan version is refused with a sentence saying what moved, never half-applied, when
a change applied since touches any of its drivers or orders (or says nothing of what it
touched); a change elsewhere on the plan does not make it stale, so an agent re-planning one
corner of a hub does not void the proposal a dispatcher is reading about another.
Every decision is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.errors import ControlTowerError, StaleProposalError
from core.kinds import ProposalStatus, ProposerKind
from core.models import AuditEntry, Hub, Plan, Proposal, User

Applier = Callable[[Session, Plan, dict[str, Any], datetime], dict[str, Any]]
_APPLIERS: dict[str, Applier] = {}


def register_applier(kind: str, applier: Applier) -> None:
    """Agents register how their kind of change is written to the plan."""
    _APPLIERS[kind] = applier


@dataclass(frozen=True)
class ProposalView:
    id: int
    kind: str
    hub_code: str
    plan_id: int
    base_version: int
    proposed_by: str
    proposer_kind: str
    created_at: datetime
    status: ProposalStatus
    rationale: str
    change: dict[str, Any]
    effect: dict[str, Any]
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


def _view(p: Proposal, hub_code: str, decided_by: str | None) -> ProposalView:
    return ProposalView(
        p.id,
        p.kind,
        hub_code,
        p.plan_id,
        p.base_version,
        p.proposed_by,
        p.proposer_kind.value,
        p.created_at,
        p.status,
        p.rationale,
        p.change,
        p.effect,
        decided_by,
        p.decided_at,
        p.decision_reason,
    )


def create_proposal(
    session: Session,
    plan: Plan,
    kind: str,
    proposed_by: str,
    proposer_kind: ProposerKind,
    change: dict[str, Any],
    effect: dict[str, Any],
    rationale: str,
    now: datetime | None = None,
    base_version: int | None = None,
) -> Proposal:
    """Record a pending proposal against `base_version`, the plan version its author read
    (default: the plan's current version)."""
    proposal = Proposal(
        plan_id=plan.id,
        base_version=plan.version if base_version is None else base_version,
        kind=kind,
        proposer_kind=proposer_kind,
        proposed_by=proposed_by,
        created_at=now or datetime.now(UTC),
        change=change,
        effect=effect,
        rationale=rationale,
        status=ProposalStatus.PENDING,
    )
    session.add(proposal)
    session.flush()
    return proposal


@dataclass(frozen=True)
class Touches:
    """The drivers and orders a change writes to; two changes conflict when these meet."""

    drivers: frozenset[str]
    orders: frozenset[str]

    def meets(self, other: Touches) -> bool:
        return bool(self.drivers & other.drivers or self.orders & other.orders)


def touches(change: dict[str, Any]) -> Touches:
    """What a change touches, read from the shapes proposals use: `routes` by driver code (with
    `stops` of [order, eta]) or as a list of entries naming a `driver`, `moves` of orders between
    drivers, and `drivers` as codes or entries with a `code`."""
    drivers: set[str] = set()
    orders: set[str] = set()
    routes = change.get("routes", {})
    if isinstance(routes, dict):
        drivers |= set(routes)
        orders |= {str(stop[0]) for r in routes.values() for stop in r.get("stops", [])}
    else:
        drivers |= {str(r["driver"]) for r in routes if r.get("driver")}
    for move in change.get("moves", []):
        orders.add(str(move["order"]))
        drivers |= {str(move[k]) for k in ("from_driver", "to_driver") if move.get(k)}
    drivers |= {str(d["code"] if isinstance(d, dict) else d) for d in change.get("drivers", [])}
    return Touches(frozenset(drivers), frozenset(orders))


def _conflicts_since(session: Session, plan: Plan, proposal: Proposal) -> bool:
    """Did a change applied to the plan after the proposal's version touch what it touches?"""
    mine = touches(proposal.change)
    entries = [
        e
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "plan", AuditEntry.entity_id == plan.id)
        )
        if int(e.detail.get("to_version", 0)) > proposal.base_version
    ]
    if len(entries) < plan.version - proposal.base_version:
        return True  # a version without an audited proposal: nothing says what it touched
    for entry in entries:
        applied = session.get(Proposal, entry.detail.get("proposal_id", -1))
        if applied is None or touches(applied.change).meets(mine):
            return True
    return False


def _pending(session: Session, proposal_id: int, *, stale_ok: bool = False) -> Proposal:
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise ControlTowerError(f"proposal {proposal_id} does not exist")
    if proposal.status is ProposalStatus.STALE and stale_ok:
        return proposal
    if proposal.status is not ProposalStatus.PENDING:
        raise ControlTowerError(f"proposal {proposal_id} is already {proposal.status.value}")
    return proposal


def _what_moved(session: Session, plan: Plan, since_version: int) -> str:
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "plan", AuditEntry.entity_id == plan.id)
        .order_by(AuditEntry.at.desc())
    ).all()
    later = [e for e in entries if int(e.detail.get("to_version", 0)) > since_version]
    if not later:
        return ""
    parts = [f"{e.actor} applied {e.detail.get('summary', e.action)} at {e.at:%H:%M} UTC" for e in later[:3]]
    return " Since then: " + "; ".join(parts) + "."


def approve(session: Session, viewer: Viewer, proposal_id: int, now: datetime | None = None) -> ProposalView:
    """Apply a pending proposal atomically; refuse it if the plan moved since it was made."""
    viewer.require(PLAN_CHANGE_ROLES, "approve proposals")
    now = now or datetime.now(UTC)
    proposal = _pending(session, proposal_id, stale_ok=True)
    plan = session.get(Plan, proposal.plan_id, populate_existing=True)
    assert plan is not None
    moved = plan.version != proposal.base_version
    if proposal.status is ProposalStatus.STALE or (moved and _conflicts_since(session, plan, proposal)):
        raise StaleProposalError(
            f"The plan changed since this proposal was made (it was built on version "
            f"{proposal.base_version}, the plan is now at version {plan.version}); ask for a fresh "
            f"proposal.{_what_moved(session, plan, proposal.base_version)}"
        )
    applier = _APPLIERS.get(proposal.kind)
    if applier is None:
        raise ControlTowerError(f"no way to apply a {proposal.kind!r} proposal")
    from_version = plan.version
    summary = applier(session, plan, proposal.change, now)
    session.flush()
    bumped = session.execute(
        update(Plan)
        .where(Plan.id == plan.id, Plan.version == from_version)
        .values(version=Plan.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], bumped).rowcount != 1:  # another approval got there between our read and write
        raise StaleProposalError(
            "The plan was changed by someone else while this proposal was being applied; "
            "nothing was changed. Ask for a fresh proposal."
        )
    session.refresh(plan)
    proposal.status = ProposalStatus.APPLIED
    proposal.decided_by_id = viewer.user_id
    proposal.decided_at = now
    mine = touches(proposal.change)
    for other in session.scalars(
        select(Proposal).where(
            Proposal.plan_id == plan.id, Proposal.status == ProposalStatus.PENDING, Proposal.id != proposal.id
        )
    ):
        if touches(other.change).meets(mine):
            other.status = ProposalStatus.STALE
    session.add(
        AuditEntry(
            at=now,
            actor=viewer.username,
            action=f"apply_{proposal.kind}",
            entity="plan",
            entity_id=plan.id,
            detail={
                "proposal_id": proposal.id,
                "from_version": from_version,
                "to_version": plan.version,
                **summary,
            },
        )
    )
    session.flush()
    return proposal_view(session, proposal.id)


def reject(
    session: Session, viewer: Viewer, proposal_id: int, reason: str, now: datetime | None = None
) -> ProposalView:
    """Reject a pending proposal with a reason a colleague can read later."""
    viewer.require(PLAN_CHANGE_ROLES, "reject proposals")
    if not reason.strip():
        raise ControlTowerError("say why the proposal is rejected")
    now = now or datetime.now(UTC)
    proposal = _pending(session, proposal_id)
    proposal.status = ProposalStatus.REJECTED
    proposal.decided_by_id = viewer.user_id
    proposal.decided_at = now
    proposal.decision_reason = reason.strip()
    session.add(
        AuditEntry(
            at=now,
            actor=viewer.username,
            action=f"reject_{proposal.kind}",
            entity="proposal",
            entity_id=proposal.id,
            detail={"reason": reason},
        )
    )
    session.flush()
    return proposal_view(session, proposal.id)


def _views(session: Session, stmt: Any) -> list[ProposalView]:
    rows = session.execute(
        stmt.add_columns(Hub.code, User.username)
        .join(Plan, Plan.id == Proposal.plan_id)
        .join(Hub, Hub.id == Plan.hub_id)
        .outerjoin(User, User.id == Proposal.decided_by_id)
    ).all()
    return [_view(p, hub_code, who) for p, hub_code, who in rows]


def proposal_view(session: Session, proposal_id: int) -> ProposalView:
    views = _views(session, select(Proposal).where(Proposal.id == proposal_id))
    if not views:
        raise ControlTowerError(f"proposal {proposal_id} does not exist")
    return views[0]


def list_proposals(
    session: Session,
    viewer: Viewer,
    status: ProposalStatus | None = None,
    hub_id: int | None = None,
    limit: int = 100,
) -> list[ProposalView]:
    """The inbox (pending) or the history; plan changes are visible to operations roles only."""
    if not viewer.sees_everything:
        return []
    stmt = select(Proposal).order_by(Proposal.created_at.desc(), Proposal.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Proposal.status == status)
    if hub_id is not None:
        stmt = stmt.where(Proposal.plan_id.in_(select(Plan.id).where(Plan.hub_id == hub_id)))
    return _views(session, stmt)

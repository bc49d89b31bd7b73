"""Proposals: agents and people propose, a person with the right role approves or rejects.

Applying is atomic inside the caller's unit of work and version-checked. A proposal built on
an older plan version is refused with a sentence saying what moved, never half-applied, when
a change applied since touches any of its drivers or orders (or says nothing of what it
touched); a change elsewhere on the plan does not make it stale, so an agent re-planning one
corner of a hub does not void the proposal a dispatcher is reading about another.
Every decision is in the audit log, and there is one decision per proposal: approve and reject
take the proposal with a conditional update (`WHERE status = 'pending'`) inside the transaction
that changes the plan, so of two concurrent decisions the second finds it decided and changes
nothing (PostgreSQL makes it wait for the first's row lock; SQLite writes one at a time).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core.access import PLAN_CHANGE_ROLES, Viewer
from core.errors import ControlTowerError, StaleProposalError
from core.json_data import JsonObject, without_none
from core.kinds import ProposalKind, ProposalStatus, ProposerKind
from core.models import AuditEntry, Hub, Plan, Proposal, User
from core.proposal_kinds import ProposalChange, ProposalEffect, parse_change, parse_effect

C = TypeVar("C", bound=ProposalChange)


@dataclass(frozen=True)
class Applied:
    """What an applier wrote, for the audit log: a summary and the counts it names."""

    summary: str
    orders_moved: int | None = None
    routes_touched: int | None = None
    drivers_called: int | None = None

    def to_json(self) -> JsonObject:
        return without_none(asdict(self))


@dataclass(frozen=True)
class Applier(Generic[C]):
    """How one kind of change is written into the plan."""

    change_type: type[C]
    write: Callable[[Session, Plan, C, datetime], Applied]

    def __call__(self, session: Session, plan: Plan, change: ProposalChange, now: datetime) -> Applied:
        if not isinstance(change, self.change_type):
            raise ControlTowerError(
                f"a {type(change).__name__} cannot be applied as a {self.change_type.__name__}"
            )
        return self.write(session, plan, change, now)


Appliers = Mapping[ProposalKind, Applier[Any]]
"""How each kind of proposal is applied; `approve` takes it from its caller
(`core.agents.appliers.APPLIERS` names every kind's)."""


@dataclass(frozen=True)
class ProposalView:
    id: int
    kind: ProposalKind
    hub_code: str
    plan_id: int
    base_version: int
    proposed_by: str
    proposer_kind: str
    created_at: datetime
    status: ProposalStatus
    rationale: str
    change: ProposalChange
    effect: ProposalEffect
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


def _change(p: Proposal) -> ProposalChange:
    return parse_change(ProposalKind(p.kind), p.change)


def _view(p: Proposal, hub_code: str, decided_by: str | None) -> ProposalView:
    kind = ProposalKind(p.kind)
    return ProposalView(
        p.id,
        kind,
        hub_code,
        p.plan_id,
        p.base_version,
        p.proposed_by,
        p.proposer_kind.value,
        p.created_at,
        p.status,
        p.rationale,
        parse_change(kind, p.change),
        parse_effect(kind, p.effect),
        decided_by,
        p.decided_at,
        p.decision_reason,
    )


def create_proposal(
    session: Session,
    plan: Plan,
    proposed_by: str,
    proposer_kind: ProposerKind,
    change: ProposalChange,
    effect: ProposalEffect,
    rationale: str,
    now: datetime | None = None,
    base_version: int | None = None,
) -> Proposal:
    """Record a pending proposal against `base_version`, the plan version its author read
    (default: the plan's current version). The change's type says the proposal's kind."""
    proposal = Proposal(
        plan_id=plan.id,
        base_version=plan.version if base_version is None else base_version,
        kind=change.KIND,
        proposer_kind=proposer_kind,
        proposed_by=proposed_by,
        created_at=now or datetime.now(UTC),
        change=change.to_json(),
        effect=effect.to_json(),
        rationale=rationale,
        status=ProposalStatus.PENDING,
    )
    session.add(proposal)
    session.flush()
    return proposal


def changes_of(
    session: Session,
    plan_id: int,
    change_type: type[C],
    statuses: Collection[ProposalStatus],
    proposed_by: str | None = None,
) -> list[C]:
    """The changes of one type proposed on a plan (by `proposed_by`), in `statuses`, oldest first."""
    stmt = select(Proposal.change).where(
        Proposal.plan_id == plan_id, Proposal.kind == change_type.KIND, Proposal.status.in_(statuses)
    )
    if proposed_by is not None:
        stmt = stmt.where(Proposal.proposed_by == proposed_by)
    return [
        change
        for data in session.scalars(stmt.order_by(Proposal.id))
        if isinstance(change := change_type.from_json(data), change_type)
    ]


def _conflicts_since(session: Session, plan: Plan, proposal: Proposal) -> bool:
    """Did a change applied to the plan after the proposal's version touch what it touches?"""
    mine = _change(proposal).touches()
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
        if applied is None or _change(applied).touches().meets(mine):
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


def _claim(
    session: Session,
    proposal: Proposal,
    status: ProposalStatus,
    viewer: Viewer,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Take the decision, or raise when another one got there first (nothing changed)."""
    claimed = session.execute(
        update(Proposal)
        .where(Proposal.id == proposal.id, Proposal.status == ProposalStatus.PENDING)
        .values(status=status, decided_by_id=viewer.user_id, decided_at=now, decision_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], claimed).rowcount != 1:
        raise ControlTowerError(
            f"proposal {proposal.id} was decided by someone else meanwhile; nothing was changed"
        )
    session.refresh(proposal)


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


def approve(
    session: Session, viewer: Viewer, proposal_id: int, appliers: Appliers, now: datetime | None = None
) -> ProposalView:
    """Apply a pending proposal atomically with its kind's applier in `appliers`; refuse it if
    the plan moved since it was made."""
    viewer.require(PLAN_CHANGE_ROLES, "approve proposals")
    now = now or datetime.now(UTC)
    proposal = _pending(session, proposal_id, stale_ok=True)
    # the plan's row first, then the proposal's: decisions on one plan queue instead of deadlocking
    plan = session.get(Plan, proposal.plan_id, populate_existing=True, with_for_update=True)
    assert plan is not None
    if proposal.status is ProposalStatus.PENDING:
        _claim(session, proposal, ProposalStatus.APPLIED, viewer, now)
    moved = plan.version != proposal.base_version
    if proposal.status is ProposalStatus.STALE or (moved and _conflicts_since(session, plan, proposal)):
        raise StaleProposalError(
            f"The plan changed since this proposal was made (it was built on version "
            f"{proposal.base_version}, the plan is now at version {plan.version}); ask for a fresh "
            f"proposal.{_what_moved(session, plan, proposal.base_version)}"
        )
    applier = appliers.get(ProposalKind(proposal.kind))
    if applier is None:
        raise ControlTowerError(f"no way to apply a {proposal.kind!r} proposal")
    change = _change(proposal)
    from_version = plan.version
    applied = applier(session, plan, change, now)
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
    mine = change.touches()
    stale = [
        other.id
        for other in session.scalars(
            select(Proposal).where(
                Proposal.plan_id == plan.id,
                Proposal.status == ProposalStatus.PENDING,
                Proposal.id != proposal.id,
            )
        )
        if _change(other).touches().meets(mine)
    ]
    if stale:  # conditional too: a proposal rejected meanwhile stays rejected
        session.execute(
            update(Proposal)
            .where(Proposal.id.in_(stale), Proposal.status == ProposalStatus.PENDING)
            .values(status=ProposalStatus.STALE)
            .execution_options(synchronize_session="fetch")
        )
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
                **applied.to_json(),
            },
        )
    )
    session.flush()
    return proposal_view(session, proposal.id)


def close_stale(session: Session, viewer: Viewer, proposal_id: int, why: str, now: datetime) -> bool:
    """Close a pending proposal that an approval found stale, with the refusal's words as its
    reason and an audit entry, so no one is offered it again. False if it was no longer pending
    (decided or closed meanwhile): nothing changed."""
    closed = session.execute(
        update(Proposal)
        .where(Proposal.id == proposal_id, Proposal.status == ProposalStatus.PENDING)
        .values(status=ProposalStatus.STALE, decided_at=now, decision_reason=why)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], closed).rowcount != 1:
        return False
    proposal = session.get(Proposal, proposal_id)
    assert proposal is not None
    _audit_closing(session, viewer, proposal, "stale", why, now)
    return True


def _audit_closing(
    session: Session, viewer: Viewer, proposal: Proposal, verb: str, reason: str, now: datetime
) -> None:
    """The audit entry of a proposal closed without changing the plan (rejected, or stale)."""
    session.add(
        AuditEntry(
            at=now,
            actor=viewer.username,
            action=f"{verb}_{proposal.kind}",
            entity="proposal",
            entity_id=proposal.id,
            detail={"reason": reason},
        )
    )
    session.flush()


def reject(
    session: Session, viewer: Viewer, proposal_id: int, reason: str, now: datetime | None = None
) -> ProposalView:
    """Reject a pending proposal with a reason a colleague can read later."""
    viewer.require(PLAN_CHANGE_ROLES, "reject proposals")
    if not reason.strip():
        raise ControlTowerError("say why the proposal is rejected")
    now = now or datetime.now(UTC)
    proposal = _pending(session, proposal_id)
    _claim(session, proposal, ProposalStatus.REJECTED, viewer, now, reason.strip())
    _audit_closing(session, viewer, proposal, "reject", reason, now)
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

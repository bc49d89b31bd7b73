"""What each agent may apply by itself, and what waits for a person.

Every agent writes its work as a proposal into the one inbox. A policy rule per agent and
action says whether the proposal is applied at once (by the agent, in the audit log under its
own name) or left pending for a dispatcher; a pending one is an escalation. An auto rule may be
capped by size (orders moved, routes touched): a bigger change goes to a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from core.access import Viewer
from core.agents.appliers import APPLIERS
from core.errors import StaleProposalError
from core.kinds import Role
from core.proposal_kinds import ProposalEffect
from core.proposals import Appliers, ProposalView, approve


@dataclass(frozen=True)
class Rule:
    """One action of one agent: applied automatically (within the caps) or by a person."""

    auto: bool
    max_orders_moved: int | None = None
    max_routes_touched: int | None = None

    def allows(self, effect: ProposalEffect) -> bool:
        if not self.auto:
            return False
        moved, touched = effect.orders_moved, effect.routes_touched
        caps = ((self.max_orders_moved, moved), (self.max_routes_touched, touched))
        return all(cap is None or value <= cap for cap, value in caps)


PERSON = Rule(auto=False)
AUTO = Rule(auto=True)


@dataclass(frozen=True)
class AgentPolicy:
    """The rules of one agent, by action; an action without a rule needs a person."""

    agent: str
    rules: Mapping[str, Rule] = field(default_factory=dict)

    def rule(self, action: str) -> Rule:
        return self.rules.get(action, PERSON)


DEFAULT_POLICIES: Mapping[str, AgentPolicy] = {
    p.agent: p
    for p in (
        AgentPolicy("dispatch-agent", {"reoptimise": Rule(True, max_orders_moved=40, max_routes_touched=12)}),
        AgentPolicy("capacity-agent", {"call_in_gig": AUTO, "move_to_3pl": PERSON}),
        AgentPolicy("hub-agent", {"loading_plan": AUTO, "turnaround_warning": PERSON}),
        AgentPolicy("compliance-agent", {"reassign": AUTO}),
        AgentPolicy("customer-agent", {"message": AUTO}),
    )
}
"""The shipped policy: routine changes apply themselves, changes of commercial weight (work to a
3PL, a big re-plan) or a hub that needs a decision go to a dispatcher."""


@dataclass(frozen=True)
class Outcome:
    """What became of one agent proposal under its policy."""

    proposal_id: int
    action: str
    applied: bool
    escalated: bool
    note: str = ""


def policy_viewer(agent: str) -> Viewer:
    """The identity an agent applies under (the audit log names the agent)."""
    return Viewer(username=agent, role=Role.ADMIN)


def settle(
    session: Session,
    proposal: ProposalView,
    action: str,
    now: datetime,
    policies: Mapping[str, AgentPolicy] = DEFAULT_POLICIES,
    appliers: Appliers = APPLIERS,
) -> Outcome:
    """Apply the proposal if its agent's policy allows it; otherwise leave it for a person.

    A proposal that is already stale (the plan moved while the agent worked) is dropped as
    stale, not escalated: the agent will look again on its next turn.
    """
    policy = policies.get(proposal.proposed_by, AgentPolicy(proposal.proposed_by))
    if not policy.rule(action).allows(proposal.effect):
        return Outcome(proposal.id, action, applied=False, escalated=True, note="needs a dispatcher")
    try:
        with session.begin_nested():  # a refusal half-way leaves nothing behind
            approve(session, policy_viewer(proposal.proposed_by), proposal.id, appliers, now=now)
    except StaleProposalError as exc:
        return Outcome(proposal.id, action, applied=False, escalated=False, note=str(exc))
    return Outcome(proposal.id, action, applied=True, escalated=False)


__all__ = ["AUTO", "DEFAULT_POLICIES", "PERSON", "AgentPolicy", "Outcome", "Rule", "policy_viewer", "settle"]

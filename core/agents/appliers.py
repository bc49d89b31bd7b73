"""How each kind of proposal is written into the plan: `approve` takes its applier from here.

One plain mapping, every kind named: importing it registers nothing, and a kind without an
applier cannot be approved (a test keeps this mapping complete).
"""

from __future__ import annotations

from core.agents.capacity import apply_call_in
from core.agents.copilot_reroute import apply_reroute
from core.agents.dispatch import apply_route_change
from core.agents.hub import acknowledge_turnaround, apply_loading_plan
from core.kinds import ProposalKind
from core.plan_change import RouteChange
from core.proposal_kinds import CallIn, LoadingPlanChange, Reroute, TurnaroundWarning
from core.proposals import Applier, Appliers

APPLIERS: Appliers = {
    ProposalKind.REBALANCE: Applier(RouteChange, apply_route_change),
    ProposalKind.REROUTE: Applier(Reroute, apply_reroute),
    ProposalKind.CALL_IN_GIG: Applier(CallIn, apply_call_in),
    ProposalKind.LOADING_PLAN: Applier(LoadingPlanChange, apply_loading_plan),
    ProposalKind.TURNAROUND_WARNING: Applier(TurnaroundWarning, acknowledge_turnaround),
}

__all__ = ["APPLIERS"]

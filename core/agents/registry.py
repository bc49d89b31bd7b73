"""The agents that look at a hub on their own rhythm beside the dispatch agent, by short name.
How each kind of proposal is applied is in `core.agents.appliers`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial

from sqlalchemy.orm import Session

from core.agents import capacity, compliance_agent, hub
from core.agents.autopilot import HubAgent
from core.agents.policy import policy_viewer
from core.proposals import ProposalView

HUB_AGENTS = ("capacity", "hub", "compliance")
"""The agents beside the dispatch agent, by short name."""


def _as_agent(
    propose: Callable[..., Sequence[ProposalView]],
    agent: str,
    session: Session,
    hub_id: int,
    day: date,
    now: datetime,
) -> Sequence[ProposalView]:
    return propose(session, policy_viewer(agent), hub_id, day, now)


def hub_agents(names: Sequence[str] = HUB_AGENTS) -> dict[str, tuple[HubAgent, int, str]]:
    """The named agents for `Autopilot.agents`: each with how often (s) it looks at a hub and its
    usual action."""
    unknown = sorted(set(names) - set(HUB_AGENTS))
    if unknown:
        raise ValueError(f"unknown agents {unknown}; known: {', '.join(HUB_AGENTS)}")
    agents: dict[str, tuple[HubAgent, int, str]] = {}
    if "compliance" in names:
        agents[compliance_agent.AGENT] = (compliance_agent.propose_compliance, 1800, compliance_agent.ACTION)
    if "capacity" in names:
        agents[capacity.AGENT] = (
            partial(_as_agent, capacity.propose_capacity, capacity.AGENT),
            3600,
            capacity.CALL_IN,
        )
    if "hub" in names:
        agents[hub.AGENT] = (partial(_as_agent, hub.propose_loading_plan, hub.AGENT), 3600, hub.LOADING_PLAN)
    return agents


__all__ = ["HUB_AGENTS", "hub_agents"]

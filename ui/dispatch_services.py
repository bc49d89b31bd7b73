"""Cached proposal reads and the approve/reject actions for the dispatch page."""

from __future__ import annotations

import streamlit as st

from core import decisions
from core.access import Viewer
from core.agents.appliers import APPLIERS
from core.agents.dispatch import RouteLine, changed_routes, routes_now
from core.db import unit_of_work
from core.kinds import ProposalStatus
from core.proposals import ProposalView, list_proposals, proposal_view
from ui import services

HISTORY_ROWS = 50


@st.cache_data(ttl=3, max_entries=64, show_spinner=False)
def _proposals(url: str, viewer: Viewer, hub_id: int, pending: bool) -> list[ProposalView]:
    with unit_of_work(services.engine(url), read_only=True) as session:
        if pending:
            return list_proposals(session, viewer, ProposalStatus.PENDING, hub_id=hub_id)
        return [
            p
            for p in list_proposals(session, viewer, hub_id=hub_id, limit=HISTORY_ROWS)
            if p.status is not ProposalStatus.PENDING
        ]


def pending(viewer: Viewer, hub_id: int) -> list[ProposalView]:
    return _proposals(services.settings().database_url, viewer, hub_id, True)


def history(viewer: Viewer, hub_id: int) -> list[ProposalView]:
    return _proposals(services.settings().database_url, viewer, hub_id, False)


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def _routes(url: str, proposal_id: int) -> list[RouteLine]:
    with unit_of_work(services.engine(url), read_only=True) as session:
        return changed_routes(session, proposal_view(session, proposal_id))


def routes(proposal: ProposalView) -> list[RouteLine]:
    return _routes(services.settings().database_url, proposal.id)


@st.cache_data(ttl=5, max_entries=32, show_spinner=False)
def _routes_now(url: str, proposal_id: int) -> list[RouteLine]:
    with unit_of_work(services.engine(url), read_only=True) as session:
        return routes_now(session, proposal_view(session, proposal_id))


def routes_before(proposal: ProposalView) -> list[RouteLine]:
    """The touched drivers' routes as planned now, to draw under the proposal's."""
    return _routes_now(services.settings().database_url, proposal.id)


def refresh() -> None:
    """A new proposal exists: the next read of the inbox must see it."""
    _proposals.clear()


def decide(viewer: Viewer, proposal_id: int, approved: bool, reason: str = "") -> ProposalView:
    """One click, one decision (`core.decisions.decide`)."""
    try:
        return decisions.decide(
            services.current_engine(), viewer, proposal_id, approved, APPLIERS, reason, services.now()
        )
    finally:
        services.day_changed()

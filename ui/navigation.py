"""The page registry: every page once, with the roles that may open it. Add a page with a line.

The frame builds `st.navigation` from this for the signed-in role, so a page a role may not
open is neither in its menu nor reachable by URL. Paths are relative to `pages/app.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from core.models import Role

EVERYONE = frozenset(Role)
OPERATIONS = frozenset({Role.ADMIN, Role.DISPATCHER, Role.HEAD_OF_LAST_MILE, Role.FLEET_MANAGER})


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    roles: frozenset[Role]
    landing_for: frozenset[Role] = frozenset()  # roles that open on this page after signing in


PAGES: tuple[PageSpec, ...] = (
    PageSpec("live_map.py", "Live map", ":material/map:", EVERYONE, landing_for=OPERATIONS),
    PageSpec("orders.py", "Orders", ":material/inventory_2:", OPERATIONS),
    # dispatch.py, approvals.py, fleet_mix.py, compliance.py, scorecard.py: added with their cores.
)


def pages_for(role: Role) -> list[PageSpec]:
    """The pages `role` may open, in menu order."""
    return [p for p in PAGES if role in p.roles]


def _st_page(spec: PageSpec, default: bool) -> StreamlitPage:
    return st.Page(spec.path, title=spec.title, icon=spec.icon, default=default)


def navigation_for(role: Role) -> StreamlitPage:
    """The role's menu in the sidebar; returns the page to run."""
    specs = pages_for(role)
    landing = next((p for p in specs if role in p.landing_for), specs[0])
    return st.navigation([_st_page(p, p is landing) for p in specs], position="sidebar")


def navigation_signed_out() -> None:
    """Register every page, hidden, without running any: a deep link keeps its address while
    the sign-in shows, and opens once signed in if the role may see it."""
    st.navigation([_st_page(p, i == 0) for i, p in enumerate(PAGES)], position="hidden")

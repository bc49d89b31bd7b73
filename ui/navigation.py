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
    PageSpec("dispatch.py", "Dispatch", ":material/alt_route:", OPERATIONS),
    PageSpec("fleet_mix.py", "Fleet mix", ":material/query_stats:", OPERATIONS),
    PageSpec("compliance.py", "Compliance", ":material/verified_user:", OPERATIONS | {Role.VENDOR}),
    PageSpec("vendor_review.py", "Vendor review", ":material/handshake:", OPERATIONS | {Role.VENDOR},
             landing_for=frozenset({Role.VENDOR})),
)


def pages_for(role: Role) -> list[PageSpec]:
    """The pages `role` may open, in menu order."""
    return [p for p in PAGES if role in p.roles]


def landing_page(role: Role) -> PageSpec:
    specs = pages_for(role)
    return next((p for p in specs if role in p.landing_for), specs[0])


def _home() -> None:
    """The app's root URL. Never drawn: the frame sends the viewer on to their landing page."""


def _home_page() -> StreamlitPage:
    # Streamlit serves the default page at "/" instead of its own path; a hidden router as the
    # default keeps every real page at its own address (/live_map), deep links included.
    return st.Page(_home, title="Control Tower", url_path="home", default=True, visibility="hidden")


def _st_page(spec: PageSpec) -> StreamlitPage:
    return st.Page(spec.path, title=spec.title, icon=spec.icon)


def navigation_for(role: Role) -> StreamlitPage:
    """The role's menu in the sidebar; returns the page to run (the landing page for "/")."""
    pages = {spec.path: _st_page(spec) for spec in pages_for(role)}
    home = _home_page()
    chosen = st.navigation([home, *pages.values()], position="sidebar")
    if chosen is home:
        st.switch_page(pages[landing_page(role).path])
    return chosen


def navigation_signed_out() -> None:
    """Register every page, hidden, without running any: a deep link keeps its address while
    the sign-in shows, and opens once signed in if the role may see it."""
    st.navigation([_home_page(), *(_st_page(p) for p in PAGES)], position="hidden")

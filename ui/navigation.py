"""The page registry: every page once, with the roles that may open it. Add a page with a line.

The frame builds `st.navigation` from this for the signed-in role, so a page a role may not
open is neither in its menu nor reachable by URL. Paths are relative to `pages/app.py`.
`TRACKING` is the one page for people who never sign in (a customer's tracking link): it is
registered hidden for everyone and shows nothing but what its link's token opens.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from core.kinds import Role

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
    PageSpec(
        "copilot.py",
        "Co-pilot",
        ":material/navigation:",
        OPERATIONS | {Role.DRIVER},
        landing_for=frozenset({Role.DRIVER}),
    ),
    PageSpec("fleet_mix.py", "Fleet mix", ":material/query_stats:", OPERATIONS),
    PageSpec("compliance.py", "Compliance", ":material/verified_user:", OPERATIONS | {Role.VENDOR}),
    PageSpec(
        "vendor_review.py",
        "Vendor review",
        ":material/handshake:",
        OPERATIONS | {Role.VENDOR},
        landing_for=frozenset({Role.VENDOR}),
    ),
)

TRACKING = PageSpec("track.py", "Track your parcel", ":material/package_2:", frozenset())
TRACKING_URL_PATH = "track"  # what `CustomerPolicy.base_url` must end with


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


def _tracking_page() -> StreamlitPage:
    return st.Page(
        TRACKING.path,
        title=TRACKING.title,
        icon=TRACKING.icon,
        url_path=TRACKING_URL_PATH,
        visibility="hidden",
    )


def is_public(page: StreamlitPage) -> bool:
    """The page runs without signing in (the tracking link)."""
    return page.url_path == TRACKING_URL_PATH


def navigation_for(role: Role) -> StreamlitPage:
    """The role's menu in the sidebar; returns the page to run (the landing page for "/")."""
    pages = {spec.path: _st_page(spec) for spec in pages_for(role)}
    home = _home_page()
    chosen = st.navigation([home, *pages.values(), _tracking_page()], position="sidebar")
    if chosen is home:
        st.switch_page(pages[landing_page(role).path])
    return chosen


def navigation_signed_out() -> StreamlitPage:
    """Register every page, hidden; returns the page asked for. The frame runs only a public
    one; for the others it shows the sign-in, and a deep link keeps its address meanwhile and
    opens once signed in if the role may see it."""
    return st.navigation([_home_page(), *(_st_page(p) for p in PAGES), _tracking_page()], position="hidden")

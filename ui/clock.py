"""The frame's clock: "now" at the chosen hub, whether a simulator drives it, and Pause/Resume.

A fragment of its own, so the sidebar clock keeps up with a simulated day (one simulated minute
per wall second at 60x) without rerunning the page.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import streamlit as st

from ui import services, widgets

REFRESH = "5s"


@st.fragment(run_every=REFRESH)
def sidebar_clock(can_pause: bool) -> None:
    """The hub's local time; with a live simulator its pace, and for `can_pause` a Pause/Resume."""
    local = services.now().astimezone(ZoneInfo(widgets.hub_timezone()))
    sim = services.sim_clock()
    pace = ""
    if sim is not None:
        pace = (
            " · :orange[**paused**]"
            if sim.paused
            else (
                " · simulated, as fast as possible" if sim.speed is None else f" · simulated, {sim.speed:g}x"
            )
        )
    ended = services.sim_day_ended()
    if ended is not None:
        pace = " · simulated"
    st.caption(f":material/schedule: Now **{local:%H:%M}** {local:%Z} · {local:%a %d %b %Y}{pace}")
    if ended is not None:
        st.caption(
            ":material/flag: The simulated day has ended; the app stays on it. Start another "
            "with `make run` after `make seed`."
        )
    if sim is not None and can_pause:
        st.button(
            "Resume" if sim.paused else "Pause",
            key="frame.sim_pause",
            width="stretch",
            icon=":material/play_arrow:" if sim.paused else ":material/pause:",
            on_click=services.set_paused,
            args=(not sim.paused,),
        )

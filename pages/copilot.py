"""Co-pilot: a driver's next stop, its ETA and the route, and what to do at the door.

A driver sees their own route; an operations user picks a driver to look over their shoulder
(dispatchers and admins may also report for them). Arrived, Delivered, Not home (the
co-pilot's ranked options) and Report a problem (the co-pilot's reroute, or a request to
dispatch) each write through core in one transaction, or are refused whole.
"""

import streamlit as st

from core.kinds import StopStatus
from ui import copilot, services, widgets
from ui.auth import current_viewer

viewer = current_viewer()
tz = widgets.hub_timezone()
candidates = copilot.drivers(viewer)
hub_ids = widgets.selected_hub_ids()
if hub_ids is not None:
    candidates = candidates[candidates["hub_id"].isin(list(hub_ids))]
if viewer.driver_id is not None:
    driver_id = viewer.driver_id
else:
    names = {
        int(r.driver_id): f"{r.code} · {r.name} ({widgets.plural(r.stops_left, 'stop')} left)"
        for r in candidates.itertuples()
    }
    driver_id = st.selectbox("Driver", list(names), key="copilot.driver", format_func=names.__getitem__)
    if driver_id is None:
        st.info("No driver to show.")
        st.stop()


@st.fragment(run_every=f"{services.LIVE_REFRESH_S * 2}s")
def route_panel() -> None:
    current = copilot.view(viewer, driver_id)
    st.subheader(f"Co-pilot · {current.driver_code} {current.driver_name}", anchor=False)
    copilot.next_stop_card(current, tz)
    if current.remaining:
        st.pydeck_chart(
            copilot.deck(current, services.settings().basemap_style, tz), height=320, key="copilot.deck"
        )


route_panel()
notice = st.session_state.pop(copilot.NOTICE, None)
if notice:
    kind, text = notice
    (st.success if kind == "success" else st.error)(text)

current = copilot.view(viewer, driver_id)
if not copilot.has_route_today(current):
    st.stop()  # no route today: no taps that could not work
stop = current.next_stop
can_act = viewer.role in copilot.ACTING_ROLES
order_id = stop.order_id if stop else None
arrived_col, delivered_col, not_home_col, problem_col = st.columns(4)
arrived_col.button(
    "Arrived",
    key="copilot.arrived",
    icon=":material/where_to_vote:",
    width="stretch",
    disabled=not can_act or stop is None or stop.status is StopStatus.ARRIVED,
    on_click=copilot.arrived,
    args=(viewer, driver_id, order_id),
)
delivered_col.button(
    "Delivered",
    key="copilot.delivered",
    icon=":material/package_2:",
    width="stretch",
    disabled=not can_act or stop is None,
    on_click=copilot.open_panel,
    args=("delivered", order_id),
)
not_home_col.button(
    "Not home",
    key="copilot.not_home",
    icon=":material/door_front:",
    width="stretch",
    disabled=not can_act or stop is None,
    on_click=copilot.open_panel,
    args=("not_home", order_id),
)
problem_col.button(
    "Report a problem",
    key="copilot.problem",
    icon=":material/report:",
    width="stretch",
    disabled=not can_act,
    on_click=copilot.open_panel,
    args=("problem", None),
)

form, for_order = st.session_state.get(copilot.PANEL) or (None, None)
if form == "delivered" and stop is not None and for_order == stop.order_id:
    copilot.delivered_form(viewer, driver_id, stop)
elif form == "not_home" and stop is not None and for_order == stop.order_id:
    copilot.not_home_panel(viewer, driver_id, stop, copilot.not_home_advice(viewer, driver_id, stop.order_id))
elif form == "problem":
    copilot.problem_form(viewer, driver_id)

if current.remaining:
    st.markdown("#### Remaining stops")
    copilot.remaining_table(current, tz)

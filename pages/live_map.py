"""Live map: hubs, drivers where they are, their remaining routes and the day's orders by
state, with the KPI strip; refreshes itself every few seconds without moving the map.

The map's opening view depends only on the hub filter and the "Re-centre" button, never on
the data, so a refresh keeps the user's pan and zoom.
"""

import streamlit as st

from core.kinds import FleetType
from core.live import DriverState, LiveStatus
from ui import maps, services, state, widgets
from ui.auth import current_viewer

viewer = current_viewer()
settings = services.settings()
tz = widgets.hub_timezone()
hub_ids = widgets.selected_hub_ids()
snapshot = services.live_map(viewer)
st.subheader(f"Live map · {widgets.hub_label()}", anchor=False)

fleet_col, vendor_col, order_col, driver_col, button_col = st.columns(
    [1, 1.2, 1.5, 1.3, 0.8], vertical_alignment="bottom"
)
fleet_types = fleet_col.multiselect(
    "Fleet type",
    list(FleetType),
    key="live_map.fleet_types",
    format_func=lambda f: maps.FLEET_LABELS[f],
    placeholder="All",
)
vendor_ids = vendor_col.multiselect(
    "Vendor",
    list(snapshot.vendors),
    key="live_map.vendors",
    format_func=lambda v: snapshot.vendors.get(v, str(v)),
    placeholder="All",
)
order_states = order_col.multiselect(
    "Order status",
    list(LiveStatus),
    key="live_map.order_states",
    format_func=lambda s: maps.ORDER_LABELS[s],
    placeholder="All",
)
driver_states = driver_col.multiselect(
    "Driver status",
    list(DriverState),
    key="live_map.driver_states",
    format_func=lambda s: maps.STATE_LABELS[s],
    placeholder="All",
)
button_col.button(
    "Re-centre",
    icon=":material/my_location:",
    key="live_map.recentre",
    on_click=state.bump,
    args=(state.RECENTRED,),
    width="stretch",
)

hubs = services.hubs()
# The view follows only the hub filter (or, for a vendor or a driver, their drivers' home hubs,
# which do not move) and "Re-centre": never the live data, so a refresh keeps the user's pan.
in_view = (
    hub_ids
    if hub_ids is not None
    else (None if viewer.sees_everything else frozenset(snapshot.drivers["hub_id"].tolist()))
)
view = maps.view_over(
    hubs if in_view is None else hubs[hubs["hub_id"].isin(list(in_view))], state.get(state.RECENTRED, 0)
)


@st.fragment(run_every=f"{services.LIVE_REFRESH_S}s")
def live_panel() -> None:
    feed, snapshot = services.live_snapshot(viewer)
    filters = maps.MapFilters(
        hub_ids,
        frozenset(fleet_types) or None,
        frozenset(vendor_ids) or None,
        frozenset(order_states) or None,
        frozenset(driver_states) or None,
    )
    # every viewer of this snapshot with the same filters and view gets the same panel
    panel = feed.shared(
        snapshot,
        (filters, view, settings.basemap_style, tz),
        lambda live: maps.live_panel(live, filters, view, settings.basemap_style, tz),
    )
    widgets.live_kpis(panel.kpis)
    st.pydeck_chart(panel.deck, height=640, key="live_map.deck")
    st.caption(
        f"As of {widgets.clock_text(panel.now, tz)}{' (simulated)' if services.simulated() else ''} · "
        f"{widgets.plural(panel.drivers, 'driver')}, {widgets.plural(panel.routes, 'route')} "
        f"under way, {widgets.plural(panel.orders, 'order')} shown"
    )


live_panel()
widgets.map_legend()

"""Control Tower: the entry point and frame (it lives in pages/ on purpose: see DESIGN.md)."""

import pandas as pd
import streamlit as st

from core.config import get_settings
from core.timeutil import local_today
from ui import services

st.set_page_config(page_title="Control Tower", page_icon=":material/local_shipping:", layout="wide")

settings = get_settings()
services.current_engine()
today = local_today(settings.timezone)

st.title("Control Tower")
st.caption(f"Today at the hubs: {today:%A %d %B %Y}")

hubs = services.hubs(settings.database_url, today)
if not hubs:
    st.info("The database is empty. Run `ctower seed` to load the demo metro.")
    st.stop()

cols = st.columns(len(hubs))
for col, hub in zip(cols, hubs, strict=True):
    col.metric(hub.name, f"{hub.orders_today:,} orders", f"{hub.drivers} drivers", delta_color="off")

st.subheader("Today's orders by hub and state")
st.dataframe(
    pd.DataFrame([{"hub": h.code, "name": h.name, "drivers": h.drivers, "orders": h.orders_today,
                   **{s.value: n for s, n in sorted(h.orders_by_status.items())}} for h in hubs]),
    hide_index=True, width="stretch", key="home.hubs",
)

st.subheader("Fleets")
st.dataframe(
    pd.DataFrame([f.__dict__ for f in services.fleets(settings.database_url)]),
    hide_index=True, width="stretch", key="home.fleets",
)

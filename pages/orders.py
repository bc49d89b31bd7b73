"""Orders: search and filter today's orders, and import a CSV through the CLI's validated import.

An import is all or nothing: a refused file lists every bad line, field and reason, and
nothing is written.
"""

import streamlit as st

from core.errors import ControlTowerError, ImportRejectedError
from core.kinds import OrderStatus, SlaKind
from core.orders_view import ORDER_COLUMNS, OrderQuery, can_import_orders
from ui import maps, services, widgets
from ui.auth import current_viewer
from ui.text import inert

viewer = current_viewer()
tz = widgets.hub_timezone()
facets = services.facets(viewer)
day = services.today()

st.subheader(f"Orders for {day:%A %d %B %Y}")
ref_col, status_col, zone_col, sla_col = st.columns([1, 1.4, 1.4, 1])
ref = ref_col.text_input("Reference", key="orders.ref", placeholder="part of a reference")
statuses = status_col.multiselect(
    "Status",
    list(OrderStatus),
    key="orders.statuses",
    placeholder="All",
    format_func=lambda s: s.value.replace("_", " "),
)
zones = zone_col.multiselect("Zone", facets.zones, key="orders.zones", placeholder="All")
slas = sla_col.multiselect(
    "SLA",
    list(SlaKind),
    key="orders.sla_kinds",
    placeholder="All",
    format_func=lambda s: maps.SLA_LABELS.get(s, s),
)

query = OrderQuery(
    ref=ref,
    hub_ids=widgets.selected_hub_ids(),
    statuses=frozenset(statuses) or None,
    zones=frozenset(zones) or None,
    sla_kinds=frozenset(slas) or None,
)
found = services.orders(viewer, query)
shown = len(found.rows)
more = f"; the first {shown:,} are shown" if shown < found.total else ""
st.caption(f"{widgets.plural(found.total, 'order')} {'matches' if found.total == 1 else 'match'}{more}")
rows = widgets.local_times(found.rows, ["window_start_at", "window_end_at", "delivered_at"], tz)
st.dataframe(
    rows.assign(  # codes as words; an order without a driver shows a dash, not "None"
        status=rows["status"].map(widgets.words),
        sla_kind=rows["sla_kind"].map(lambda s: maps.SLA_LABELS.get(s, widgets.words(s))),
        brand_tier=rows["brand_tier"].map(widgets.words),
        driver=rows["driver"].astype(object).where(rows["driver"].notna(), "–"),
    ),
    hide_index=True,
    width="stretch",
    height=420,
    key="orders.table",
    column_order=ORDER_COLUMNS,
    column_config={
        "window_start_at": st.column_config.DatetimeColumn("window start", format="HH:mm"),
        "window_end_at": st.column_config.DatetimeColumn("window end", format="HH:mm"),
        "delivered_at": st.column_config.DatetimeColumn("delivered", format="HH:mm"),
        "sla_kind": "SLA",
        "brand_tier": "tier",
    },
)

if can_import_orders(viewer):
    st.subheader("Import orders from a CSV file")
    st.caption(
        "The same validated import as `ctower import-orders`: every row is checked, and the "
        "file is imported whole or not at all."
    )
    upload = st.file_uploader("Orders CSV", type=["csv"], key="orders.upload")
    if st.button("Import", type="primary", key="orders.import", disabled=upload is None):
        assert upload is not None
        try:
            result = services.import_orders(viewer, upload.getvalue())
        except ImportRejectedError as refused:
            st.error(inert(f"{str(refused).capitalize()}."), icon=":material/block:")
            widgets.row_errors(refused.errors)
        except ControlTowerError as refused:
            st.error(inert(refused), icon=":material/block:")
        else:
            st.success(f"Imported {result.rows:,} orders.", icon=":material/check_circle:")

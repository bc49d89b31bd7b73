"""Fleet mix: captive, 3PL and gig, and each vendor, on the same KPI definitions over a period:
a panel per KPI, the table behind it, trends by day, and the drivers behind any group.

Every number is core's (`facts_for` + `aggregate`, i.e. `kpis`/`daily_kpis`, and
`kpis(by="driver", where=...)` for the drill-down); this page only picks and shows.
"""

from datetime import timedelta

import streamlit as st

from core.exports import frame_csv
from core.kpi import KPIS, TOTAL, default_period
from core.report import format_value
from ui import charts, fleet_services, services, state, widgets
from ui.auth import current_viewer

PERIODS = {"yesterday": "Yesterday", "last_30_days": "Last 30 days", "custom": "Custom"}
TREND_DAYS = 30  # a one-day period is shown against the trend of the 30 days that end with it

viewer = current_viewer()
today = services.today()
hub = state.get(state.HUB)

period_col, by_col, defs_col = st.columns([1.4, 1.4, 1], vertical_alignment="bottom")
period = period_col.segmented_control(
    "Period",
    list(PERIODS),
    default="yesterday",
    required=True,
    format_func=lambda p: PERIODS[p],
    key="fleet_mix.period",
)
by: str = (
    by_col.segmented_control(
        "Compare",
        list(charts.GROUPINGS),
        default="fleet_type",
        required=True,
        format_func=lambda b: charts.GROUPINGS[b],
        key="fleet_mix.by",
    )
    or "fleet_type"
)
with defs_col.popover("KPI definitions", icon=":material/help:", width="stretch"):
    for d in KPIS.values():
        st.markdown(f"**{d.label}** (`{d.name}`, {d.unit}): {d.definition}")

if period == "custom":
    yesterday = today - timedelta(days=1)
    chosen = st.date_input(
        "Service days",
        (yesterday - timedelta(days=6), yesterday),
        max_value=today,
        key="fleet_mix.days",
        width=260,
    )
    start, end = (chosen[0], chosen[-1]) if chosen else (yesterday, yesterday)
else:
    start, end = default_period(today, 1 if period == "yesterday" else TREND_DAYS)
trend_start, trend_end = start, end
if start == end:
    trend_start, trend_end = default_period(end + timedelta(days=1), TREND_DAYS)
mix = fleet_services.fleet_mix(viewer, start, end, hub)
table = mix.table(by)
where = "all hubs" if hub is None else f"hub {hub}"
if not (table[by] != TOTAL).any():
    st.info(
        f"No routes on {start:%d %b %Y}{'' if start == end else f' to {end:%d %b %Y}'} in {where}.",
        icon=":material/info:",
    )
    st.stop()

total = table[table[by] == TOTAL].iloc[0]
st.caption(
    f"Service days {start:%a %d %b %Y}"
    + ("" if start == end else f" to {end:%a %d %b %Y}")
    + f" · {where} · {int(total['orders']):,} orders, {int(total['driver_days']):,} "
    "driver-days. Dotted lines: all groups together."
)
st.plotly_chart(
    charts.kpi_comparison(table, by),
    key="fleet_mix.comparison",
    config=charts.plot_config(f"fleet-mix-{by}-{start}-{end}"),
)

label_of = {
    n: (KPIS[n].label + (" %" if KPIS[n].unit == "fraction" else " $" if KPIS[n].unit == "cents" else ""))
    for n in KPIS
}
number_format = {
    n: "%.1f"
    if KPIS[n].unit == "fraction"
    else "%.2f"
    if KPIS[n].unit == "cents"
    else "%d"
    if KPIS[n].additive
    else "%.2f"
    for n in KPIS
}
kpi_columns = {
    n: st.column_config.NumberColumn(label_of[n], help=KPIS[n].definition, format=number_format[n])
    for n in KPIS
}
name_column = {"fleet_type": "fleet_type", "vendor": "vendor_name", "driver": "driver_name"}
names = table["vendor_name"] if by == "vendor" else [None] * len(table)
people = charts.people_table(table).assign(  # the total row labelled, like every other row
    **{name_column[by]: [charts.group_label(by, str(k), n) for k, n in zip(table[by], names, strict=True)]}
)
st.dataframe(
    people,
    hide_index=True,
    width="stretch",
    key="fleet_mix.table",
    column_order=[name_column[by], *KPIS],
    column_config={"fleet_type": "fleet type", "vendor_name": "vendor", **kpi_columns},
)
st.download_button(
    "Download table (CSV)",
    frame_csv(table),
    mime="text/csv",
    file_name=f"fleet-mix-{by}-{start}-{end}.csv",
    icon=":material/download:",
    key="fleet_mix.download_table",
)

st.subheader("Trend by day")
trend_kpi = st.selectbox(
    "KPI", charts.HEADLINE_KPIS, format_func=lambda n: KPIS[n].label, key="fleet_mix.trend_kpi"
)
st.caption(f"{KPIS[trend_kpi].definition} Service days {trend_start:%d %b} to {trend_end:%d %b %Y}.")
daily = fleet_services.fleet_mix(viewer, trend_start, trend_end, hub).daily(by)
st.plotly_chart(
    charts.kpi_trend(daily, by, trend_kpi),
    key="fleet_mix.trend",
    config=charts.plot_config(f"fleet-mix-trend-{trend_kpi}-{trend_start}-{trend_end}"),
)

st.subheader("Drivers behind a number")
groups = {
    str(k): charts.group_label(by, str(k), n)
    for k, n in zip(table[by], table[name_column[by]], strict=True)
    if k != TOTAL
}
group: str = st.selectbox(
    charts.GROUPINGS[by], list(groups), format_func=lambda g: groups[g], key=f"fleet_mix.drill_{by}"
) or next(iter(groups))
row = table[table[by].astype(str) == group].iloc[0]
tiles = [
    widgets.Kpi(KPIS[n].label, format_value(n, row[n]), KPIS[n].definition) for n in charts.HEADLINE_KPIS
]
for row in (tiles[:3], tiles[3:6], tiles[6:]):  # three a row: labels and values stay whole
    widgets.kpi_row(row)
drivers = fleet_services.drivers_behind(viewer, start, end, by, group, hub)
st.dataframe(
    charts.people_table(drivers[drivers["driver"] != TOTAL]),
    hide_index=True,
    width="stretch",
    key="fleet_mix.drivers",
    column_order=["driver", "driver_name", *KPIS],
    column_config={"driver_name": "name", **kpi_columns},
)
st.download_button(
    f"Download drivers of {groups[group]} (CSV)",
    frame_csv(drivers),
    mime="text/csv",
    file_name=f"fleet-mix-drivers-{group}-{start}-{end}.csv",
    icon=":material/download:",
    key="fleet_mix.download_drivers",
)

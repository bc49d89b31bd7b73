"""Compliance: every driver the viewer may see, compliant, warning or blocked, with the reasons,
today's hours-of-service headroom and the documents that expire within the warning window.

Core judges (`compliance_report`) and filters; a vendor viewer gets only its own drivers there.
"""

import streamlit as st

from core.compliance import EXPIRY_WARNING_DAYS, ComplianceStatus, compliance_frame
from core.exports import frame_csv
from ui import charts, fleet_services, services, widgets
from ui.auth import current_viewer

TILE_HELP = {
    ComplianceStatus.COMPLIANT: "Every required document valid and verified, and driving within "
    "the region's limits.",
    ComplianceStatus.WARNING: f"A document expires within {EXPIRY_WARNING_DAYS} days, or driving "
    "is at 90% or more of a limit: action needed soon.",
    ComplianceStatus.BLOCKED: "A document missing, unverified or expired, or a driving limit "
    "exceeded: the allocator gives this driver no work.",
}

viewer = current_viewer()
day = services.today()
tz = widgets.hub_timezone()
everyone = compliance_frame(fleet_services.compliance(viewer, day))


def _choice(column: str) -> list[str | None]:
    return [None, *sorted({v for v in everyone[column] if v})]


def _all(value: str | None) -> str:
    return "All" if value is None else value


st.subheader(f"Driver compliance on {day:%A %d %B %Y}")
fleet_col, vendor_col, region_col, status_col = st.columns(4)
fleet = fleet_col.selectbox("Fleet", _choice("fleet"), format_func=_all, key="compliance.fleet")
vendor = vendor_col.selectbox("Vendor", _choice("vendor"), format_func=_all, key="compliance.vendor")
region = region_col.selectbox("Region", _choice("region"), format_func=_all, key="compliance.region")
status = status_col.selectbox(
    "Status",
    [None, *ComplianceStatus],
    key="compliance.status",
    format_func=lambda s: "All" if s is None else charts.STATUS_LABELS[s],
)

scoped = fleet_services.compliance(viewer, day, fleet=fleet, vendor=vendor, region=region)
counts = compliance_frame(scoped)["status"].value_counts()
widgets.kpi_row(
    [
        widgets.Kpi("Drivers", f"{len(scoped):,}"),
        *[
            widgets.Kpi(charts.STATUS_LABELS[s].capitalize(), f"{int(counts.get(str(s), 0)):,}", TILE_HELP[s])
            for s in ComplianceStatus
        ],
    ]
)

shown = (
    fleet_services.compliance(viewer, day, fleet=fleet, vendor=vendor, region=region, status=status)
    if status is not None
    else scoped
)
frame = compliance_frame(shown)
table_col, chart_col = st.columns([3, 1])
table_col.dataframe(
    charts.compliance_table(frame, tz),
    hide_index=True,
    width="stretch",
    height=420,
    key="compliance.table",
    column_config={
        "driver_name": "name",
        "reasons": st.column_config.TextColumn("reasons", width="large"),
        "driving_today": st.column_config.TextColumn(
            "driving today", help="Route time today, breaks inside routes included."
        ),
        "headroom_today": st.column_config.TextColumn(
            "headroom today",
            help="Driving still allowed today under the daily and the 7-day limit of the driver's region.",
        ),
        "driving_week": "last 7 days",
        "limit_hit_at": st.column_config.TextColumn(
            "limit reached at", help="When today's plan reaches a driving limit (hub time)."
        ),
        "break_due_at": st.column_config.TextColumn(
            "break due by", help="When today's plan reaches the region's continuous driving time."
        ),
    },
)
with chart_col:
    st.plotly_chart(
        charts.compliance_by_group(compliance_frame(scoped)),
        key="compliance.by_fleet_type",
        config=charts.plot_config(f"compliance-{day}"),
    )
table_col.download_button(
    "Download (CSV)",
    frame_csv(frame),
    mime="text/csv",
    file_name=f"compliance-{day}.csv",
    icon=":material/download:",
    key="compliance.download",
)

st.subheader(f"Documents expiring within {EXPIRY_WARNING_DAYS} days")
expiring = charts.expiring_table(shown, day)
if expiring.empty:
    st.caption("None among the drivers shown.")
else:
    st.dataframe(
        expiring,
        hide_index=True,
        width="stretch",
        key="compliance.expiring",
        column_config={
            "driver_name": "name",
            "expires_on": st.column_config.DateColumn("expires on", format="ddd DD MMM YYYY"),
            "days_left": "days left",
        },
    )

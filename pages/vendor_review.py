"""Vendor review: one 3PL or gig vendor's scorecard against the previous period, its rank among
vendors (a position only), exceptions by reason, compliance share and rate card, and the
downloads taken into the review meeting.

A vendor user gets its own vendor and no choice; core refuses any other (`scorecard`).
"""

import streamlit as st

from core.errors import ControlTowerError
from core.kinds import VendorKind
from core.kpi import KPIS, default_period
from core.report import format_change, format_share, format_value, scorecard_html
from core.scorecard import scorecard_csv
from ui import charts, fleet_services, services, widgets
from ui.auth import current_viewer
from ui.text import inert

PERIODS = {30: "Last 30 days", 7: "Last 7 days", 1: "Yesterday"}
KIND_LABELS = {VendorKind.THIRD_PARTY: "3PL partner", VendorKind.GIG_PLATFORM: "gig platform"}
HEADLINE = (
    "orders",
    "on_time_rate",
    "first_attempt_rate",
    "failed_cost_cents",
    "cost_per_drop_cents",
    "cost_per_delivered_cents",
)

viewer = current_viewer()
today = services.today()
period_col, vendor_col = st.columns([1, 1], vertical_alignment="bottom")
days: int = (
    period_col.segmented_control(
        "Period",
        list(PERIODS),
        default=30,
        required=True,
        format_func=lambda d: PERIODS[d],
        key="vendor_review.period",
    )
    or 30
)
start, end = default_period(today, days)
if viewer.vendor_id is not None:  # a vendor's own account: its scorecard, nobody else's
    vendor_id = viewer.vendor_id
else:
    choices = fleet_services.vendor_choices(viewer, start, end)
    chosen = vendor_col.selectbox(
        "Vendor", list(choices), format_func=lambda v: choices[v], key="vendor_review.vendor"
    )
    if chosen is None:
        st.info("No vendor has drivers yet.", icon=":material/info:")
        st.stop()
    vendor_id = int(chosen)
try:
    card = fleet_services.vendor_scorecard(viewer, vendor_id, start, end)
except ControlTowerError as refused:
    st.error(inert(f"{str(refused).capitalize()}."), icon=":material/block:")
    st.stop()

st.subheader(f"{inert(card.vendor_name)} scorecard")
earlier = f"{card.previous_start:%d %b} to {card.previous_end:%d %b %Y}"
st.caption(
    f"{KIND_LABELS.get(card.vendor_kind, card.vendor_kind)} · service days {card.start:%d %b} to "
    f"{card.end:%d %b %Y}, against "
    + (earlier if card.has_previous else f"no earlier data ({earlier} had no deliveries)")
    + " · same KPI definitions as every fleet"
)
trends = [card.kpi(n) for n in HEADLINE]
for row in (trends[:3], trends[3:]):  # three a row: labels and dollar values stay whole
    for column, t in zip(st.columns(len(row)), row, strict=True):
        column.metric(
            t.label,
            format_value(t.name, t.value),
            delta=None if t.change is None else format_change(t),
            delta_color=charts.delta_colour(t.name),
            border=True,
            help=f"{KPIS[t.name].definition} Previous period: "
            + (format_value(t.name, t.previous) if t.previous is not None else "no earlier data")
            + ".",
        )

st.markdown("**Rank among vendors** (1st is best; other vendors are not named)")
widgets.kpi_row(
    [
        widgets.Kpi(
            KPIS[r.kpi].label,
            "not ranked" if r.rank is None else f"{charts.ordinal(r.rank)} of {r.of}",
            KPIS[r.kpi].definition,
        )
        for r in card.ranks
    ]
)
st.plotly_chart(
    charts.period_comparison(trends[1:5]),
    key="vendor_review.trend",
    config=charts.plot_config(f"{card.vendor_code}-{card.start}-{card.end}"),
)

reasons_col, compliance_col = st.columns(2)
with reasons_col:
    st.markdown("**Exceptions by reason**")
    if card.exceptions_by_reason:
        st.plotly_chart(
            charts.reasons_bars(card.exceptions_by_reason),
            key="vendor_review.reasons",
            config=charts.plot_config(f"{card.vendor_code}-exceptions-{card.end}"),
        )
    else:
        st.caption("No exceptions reported in the period.")
with compliance_col:
    c = card.compliance
    st.markdown(f"**Compliance on {card.compliance_day:%d %b %Y}**")
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Compliant",
                format_share(c.compliant_share),
                f"{c.compliant} of {c.drivers} drivers with every document valid and driving within limits.",
            ),
            widgets.Kpi("Warning", f"{c.warning:,}", f"{c.open_warnings} open warnings."),
            widgets.Kpi(
                "Blocked",
                f"{c.blocked:,}",
                f"{c.open_violations} open violations: blocked drivers get no work.",
            ),
        ]
    )
    st.markdown("**Cost per drop against the rate card**")
    st.dataframe(
        [
            {
                "fleet": rc.fleet_name,
                "contract per drop": format_value("cost_per_drop_cents", rc.contract_per_drop_cents),
                "actual per drop": format_value("cost_per_drop_cents", rc.cost_per_drop_cents),
                "drops": rc.drops,
            }
            for rc in card.rate_cards
        ],
        hide_index=True,
        width="stretch",
        key="vendor_review.rate_cards",
    )

st.markdown("**Every KPI**")
st.dataframe(
    [
        {
            "KPI": t.label,
            "this period": format_value(t.name, t.value),
            "previous period": format_value(t.name, t.previous) if card.has_previous else "no earlier data",
            "change": format_change(t),
            "definition": KPIS[t.name].definition,
        }
        for t in card.kpis
    ],
    hide_index=True,
    width="stretch",
    key="vendor_review.kpis",
)
name = f"scorecard-{card.vendor_code}-{card.start}-{card.end}"
csv_col, html_col, _ = st.columns([1, 1, 2])
csv_col.download_button(
    "Download CSV",
    scorecard_csv(card),
    file_name=f"{name}.csv",
    mime="text/csv",
    icon=":material/download:",
    key="vendor_review.csv",
)
html_col.download_button(
    "Download report (HTML)",
    scorecard_html(card),
    file_name=f"{name}.html",
    mime="text/html",
    icon=":material/description:",
    key="vendor_review.html",
)

"""Read model -> plotly Figure, and the tables shown beside the charts. Pure: no st.* calls.

Values arrive as core stores them (rates as fractions, money as int cents, durations in
seconds, instants in UTC); only here do they become percentages, dollars, "9 h 20 min" and the
hub's clock, the same way in every chart, axis, hover and table. Groups are named as the rest
of the app names them: fleet types by `maps.FLEET_LABELS`, vendors by name.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.compliance import ComplianceStatus, DriverCompliance, document_label, duration_text
from core.kinds import FleetType
from core.kpi import KPIS, TOTAL
from core.kpi.definitions import CAPTIVE_VENDOR
from core.scorecard import KpiTrendView
from ui import maps

HEADLINE_KPIS: tuple[str, ...] = (
    "on_time_rate",
    "first_attempt_rate",
    "failed_cost_cents",
    "cost_per_delivered_cents",
    "cost_per_drop_cents",
    "stops_per_driver_hour",
    "utilisation",
    "co2_kg_per_delivered",
    "workload_cv",
)
"""The KPIs the fleet-mix page compares groups on, in panel order."""

GROUPINGS: dict[str, str] = {"fleet_type": "Fleet type", "vendor": "Vendor"}
TOTAL_LABEL = "all fleets"  # the total row, on charts and in tables
STATUS_LABELS: dict[str, str] = {
    ComplianceStatus.COMPLIANT: "compliant",
    ComplianceStatus.WARNING: "warning",
    ComplianceStatus.BLOCKED: "blocked",
}
STATUS_COLOURS: dict[str, str] = {
    ComplianceStatus.COMPLIANT: "#16a34a",
    ComplianceStatus.WARNING: "#f59e0b",
    ComplianceStatus.BLOCKED: "#dc2626",
}
# Vendors' colours: none of them a fleet type's (violet is 3PL and orange gig on every page).
_VENDOR_PALETTE = ("#2563eb", "#db2777", "#65a30d", "#a16207", "#475569")
_FLEET_ORDER: dict[str, int] = {str(f): i for i, f in enumerate(FleetType)}
_MODEBAR = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def plot_config(file_name: str) -> dict[str, Any]:
    """plotly's toolbar, whose camera button downloads the chart as a PNG named `file_name`."""
    return {**_MODEBAR, "toImageButtonOptions": {"format": "png", "filename": file_name, "scale": 2}}


# --- values for people -----------------------------------------------------------------------


def shown(name: str, value: Any) -> float | None:
    """A stored KPI value on the scale people read: fractions x100, cents /100; None for NA."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    if math.isnan(number):
        return None
    unit = KPIS[name].unit
    return number * 100 if unit == "fraction" else number / 100 if unit == "cents" else number


def axis_format(name: str) -> dict[str, str]:
    """Tick prefix and suffix for a KPI axis, after `shown`."""
    unit = KPIS[name].unit
    if unit == "fraction":
        return {"ticksuffix": "%"}
    if unit == "cents":
        return {"tickprefix": "$"}
    return {"ticksuffix": f" {unit}"} if unit in ("kg", "km") else {}


def hover_format(name: str) -> str:
    unit = KPIS[name].unit
    if unit == "fraction":
        return "%{y:.1f}%"
    if unit == "cents":
        return "$%{y:,.2f}"
    return "%{y:,.2f}" + (f" {unit}" if unit in ("kg", "km", "stops/h") else "")


def people_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A KPI frame for a table: rate columns as percentages, money columns as dollars (the
    column names stay the KPI names)."""
    out = frame.copy()
    for name in KPIS:
        if name in out and KPIS[name].unit in ("fraction", "cents"):
            out[name] = [shown(name, v) for v in frame[name]]
            out[name] = out[name].astype("Float64")
    return out


def group_label(by: str, key: str, name: str | None = None) -> str:
    """How a group is named on a chart: fleet types by their label, vendors and drivers by
    name, the total row as "all"."""
    if key == TOTAL:
        return TOTAL_LABEL
    if by == "fleet_type":
        return maps.FLEET_LABELS.get(key, key)
    return name or key


def _groups(frame: pd.DataFrame, by: str) -> list[tuple[str, str]]:
    """(key, label) of each group in `frame`, fleet types in enum order, captive first."""
    name_col = {"vendor": "vendor_name", "driver": "driver_name"}.get(by)
    pairs = {
        str(k): group_label(by, str(k), str(n) if name_col else None)
        for k, n in zip(frame[by], frame[name_col] if name_col else frame[by], strict=True)
        if k != TOTAL
    }
    if by == "fleet_type":
        return sorted(pairs.items(), key=lambda kv: _FLEET_ORDER.get(kv[0], 99))
    return sorted(pairs.items(), key=lambda kv: (kv[0] != CAPTIVE_VENDOR, kv[1]))


def group_colours(frame: pd.DataFrame, by: str) -> dict[str, str]:
    """A fixed colour per group: fleet types as on the live map, vendors from a palette."""
    if by == "fleet_type":
        return {
            k: "rgb({},{},{})".format(*maps.FLEET_COLOURS.get(k, (100, 116, 139)))
            for k, _ in _groups(frame, by)
        }
    captive = "rgb({},{},{})".format(*maps.FLEET_COLOURS[FleetType.CAPTIVE])
    others = [k for k, _ in _groups(frame, by) if k != CAPTIVE_VENDOR]
    return {CAPTIVE_VENDOR: captive, **{k: vendor_colour(k) for k in others}}


def vendor_colour(code: str) -> str:
    """A vendor's colour, from its code alone: the same on every page and period, whichever
    other vendors a chart happens to show."""
    return _VENDOR_PALETTE[zlib.crc32(code.encode()) % len(_VENDOR_PALETTE)]


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def delta_colour(name: str) -> Literal["normal", "inverse", "off"]:
    """`st.metric`'s delta_color for a KPI: a rise is good, bad, or neither."""
    better = KPIS[name].higher_is_better
    return "off" if better is None else "normal" if better else "inverse"


def _local_clock(values: pd.Series, tz: str) -> list[str]:
    return ["" if v is None or pd.isna(v) else f"{pd.Timestamp(v).tz_convert(tz):%H:%M}" for v in values]


def compliance_table(frame: pd.DataFrame, tz: str) -> pd.DataFrame:
    """A `compliance_frame` for people: durations as "9 h 20 min", times at the hub's clock."""
    return frame.assign(
        vendor=frame["vendor"].where(frame["vendor"] != "", "captive"),
        driving_today=[duration_text(s) for s in frame["driving_today_s"]],
        driving_week=[duration_text(s) for s in frame["driving_week_s"]],
        headroom_today=[duration_text(s) for s in frame["headroom_today_s"]],
        limit_hit_at=_local_clock(frame["limit_hit_at"], tz),
        break_due_at=_local_clock(frame["break_due_at"], tz),
    )[
        [
            "driver",
            "driver_name",
            "status",
            "reasons",
            "fleet",
            "vendor",
            "region",
            "driving_today",
            "headroom_today",
            "driving_week",
            "limit_hit_at",
            "break_due_at",
        ]
    ]


def expiring_table(report: Sequence[DriverCompliance], day: date) -> pd.DataFrame:
    """Documents that expire within the warning window, soonest first: who must renew what."""
    rows = [
        (
            r.driver_code,
            r.driver_name,
            r.vendor or "captive",
            document_label(kind),
            expires_on,
            (expires_on - day).days,
        )
        for r in report
        for kind, expires_on in r.expiring
    ]
    frame = pd.DataFrame(
        rows, columns=["driver", "driver_name", "vendor", "document", "expires_on", "days_left"]
    )
    return frame.sort_values(["expires_on", "driver"], ignore_index=True)


# --- figures ---------------------------------------------------------------------------------


def kpi_comparison(
    table: pd.DataFrame, by: str, names: Sequence[str] = HEADLINE_KPIS, columns: int = 3
) -> go.Figure:
    """One panel per KPI, one bar per group (one trace per group, so the legend names the
    groups); a dotted line marks the value over all groups (the total row)."""
    rows = math.ceil(len(names) / columns)
    fig = make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[KPIS[n].label for n in names],
        vertical_spacing=0.14,
        horizontal_spacing=0.08,
    )
    groups = _groups(table, by)
    colours = group_colours(table, by)
    by_key = table.set_index(table[by].astype(str))
    total = by_key.loc[TOTAL] if TOTAL in by_key.index else None
    for i, name in enumerate(names):
        row, col = divmod(i, columns)
        for key, label in groups:
            fig.add_trace(
                go.Bar(
                    x=[label],
                    y=[shown(name, by_key.at[key, name])],
                    name=label,
                    legendgroup=key,
                    showlegend=i == 0,
                    marker_color=colours[key],
                    hovertemplate=f"{label}: {hover_format(name)}<extra>{KPIS[name].label}</extra>",
                ),
                row=row + 1,
                col=col + 1,
            )
        if total is not None and shown(name, total[name]) is not None:
            fig.add_hline(
                y=shown(name, total[name]),
                line_dash="dot",
                line_color="#334155",
                line_width=1,
                row=row + 1,
                col=col + 1,
            )
        fig.update_yaxes(row=row + 1, col=col + 1, rangemode="tozero", **axis_format(name))
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(
        height=260 * rows + 50,
        margin={"t": 80, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "yref": "container", "y": 0.995, "yanchor": "top", "x": 0},
        bargap=0.25,
    )
    return fig


def kpi_trend(daily: pd.DataFrame, by: str, name: str) -> go.Figure:
    """`name` by day, one line per group."""
    fig = go.Figure()
    colours = group_colours(daily, by) if not daily.empty else {}
    for key, label in _groups(daily, by) if not daily.empty else []:
        rows = daily[daily[by].astype(str) == key].sort_values("day")
        fig.add_trace(
            go.Scatter(
                x=list(rows["day"]),
                y=[shown(name, v) for v in rows[name]],
                name=label,
                mode="lines+markers",
                line={"color": colours[key]},
                connectgaps=False,
                hovertemplate=f"{label} %{{x}}: {hover_format(name)}<extra></extra>",
            )
        )
    fig.update_yaxes(title=KPIS[name].label, rangemode="tozero", **axis_format(name))
    fig.update_xaxes(type="category", title=None)
    fig.update_layout(
        height=340,
        margin={"t": 30, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": 1.12, "x": 0},
    )
    return fig


def reasons_bars(reasons: Sequence[tuple[str, int]]) -> go.Figure:
    """Exceptions by reason, most frequent on top."""
    ordered = sorted(reasons, key=lambda r: (r[1], r[0]))
    fig = go.Figure(
        go.Bar(
            x=[n for _, n in ordered],
            y=[r.replace("_", " ") for r, _ in ordered],
            orientation="h",
            marker_color="#0f766e",
            name="exceptions",
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    top = max((n for _, n in ordered), default=1)
    fig.update_xaxes(title="exceptions", tick0=0, dtick=max(1, math.ceil(top / 5)), rangemode="tozero")
    fig.update_layout(height=max(160, 40 * len(ordered) + 60), margin={"t": 10, "b": 10, "l": 10, "r": 10})
    return fig


def period_comparison(trends: Sequence[KpiTrendView]) -> go.Figure:
    """Each KPI in the previous period and this one, side by side (one panel per KPI)."""
    fig = make_subplots(
        rows=1, cols=len(trends), subplot_titles=[t.label for t in trends], horizontal_spacing=0.08
    )
    for i, t in enumerate(trends):
        values = [shown(t.name, t.previous), shown(t.name, t.value)]
        fig.add_trace(
            go.Bar(
                x=["previous", "this period"],
                y=values,
                name=t.label,
                marker_color=["#94a3b8", "#0f766e"],
                showlegend=False,
                hovertemplate=f"%{{x}}: {hover_format(t.name)}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        fig.update_yaxes(row=1, col=i + 1, rangemode="tozero", **axis_format(t.name))
    fig.update_layout(height=280, margin={"t": 40, "b": 10, "l": 10, "r": 10})
    return fig


def compliance_by_group(frame: pd.DataFrame, by: str = "fleet_type") -> go.Figure:
    """Drivers per group (a `compliance_frame` column), stacked by status."""
    fig = go.Figure()
    labels = (
        {
            k: group_label(by, k) if by == "fleet_type" else (k or "captive")
            for k in frame[by].astype(str).unique()
        }
        if not frame.empty
        else {}
    )
    keys = sorted(labels, key=lambda k: (_FLEET_ORDER.get(k, 99), k))
    for status in ComplianceStatus:
        rows = frame[frame["status"] == str(status)]
        counts = rows[by].astype(str).value_counts()
        fig.add_trace(
            go.Bar(
                x=[labels[k] for k in keys],
                y=[int(counts.get(k, 0)) for k in keys],
                name=STATUS_LABELS[status],
                marker_color=STATUS_COLOURS[status],
                hovertemplate="%{x}: %{y} drivers<extra>%{fullData.name}</extra>",
            )
        )
    totals = frame[by].astype(str).value_counts()
    fig.add_trace(  # each bar's total above it, so no legend or edge can hide the top segment
        go.Scatter(
            x=[labels[k] for k in keys],
            y=[int(totals.get(k, 0)) for k in keys],
            text=[f"{int(totals.get(k, 0))}" for k in keys],
            mode="text",
            textposition="top center",
            name="total",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    top = int(totals.max()) if len(totals) else 1
    fig.update_layout(
        barmode="stack",
        height=300,
        margin={"t": 10, "b": 10, "l": 10, "r": 10},
        yaxis={"title": "drivers", "range": [0, top * 1.18]},
        legend={"orientation": "h", "yref": "container", "y": 0.0, "yanchor": "bottom", "x": 0},
    )
    return fig

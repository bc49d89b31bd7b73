"""Shared widgets: the KPI strip, the frame's sidebar pieces, the map legend, tables.

Widgets render and decide nothing: numbers come computed from core; only here do fractions
become percentages and UTC instants become the hub's local clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from core.auth import SignIn
from core.errors import RowError
from core.live import AT_RISK_UNASSIGNED_S, LiveKpis
from ui import maps, services, state
from ui.text import inert


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    help: str | None = None


def percent(fraction: float | None) -> str:
    return "–" if fraction is None else f"{fraction:.0%}"


def kpi_row(kpis: Sequence[Kpi]) -> None:
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        column.metric(kpi.label, kpi.value, help=kpi.help, border=True)


def live_kpis(k: LiveKpis) -> None:
    kpi_row(
        [
            Kpi(
                "On time so far",
                percent(k.on_time_rate),
                f"{k.on_time} of {k.delivered} delivered orders reached within their window.",
            ),
            Kpi("Delivered", f"{k.delivered:,}"),
            Kpi("Failed", f"{k.failed:,}"),
            Kpi(
                "At risk",
                f"{k.at_risk:,}",
                "Open orders whose window has closed, whose ETA falls after the window, or still "
                f"unassigned with under {AT_RISK_UNASSIGNED_S // 60} minutes of window left.",
            ),
            Kpi("Active drivers", f"{k.active_drivers:,}", "On a route now, or on shift."),
            Kpi("Exceptions", f"{k.open_exceptions:,}", "Open exceptions: reported today, not yet resolved."),
        ]
    )


def user_box(current: SignIn, on_sign_out: Callable[[], None]) -> None:
    st.markdown(f"**{current.display_name}**  \n:gray[{current.viewer.role.value.replace('_', ' ')}]")
    st.button(
        "Sign out", icon=":material/logout:", key="frame.sign_out", on_click=on_sign_out, width="stretch"
    )


def hub_filter(hubs: pd.DataFrame) -> str | None:
    """The frame's hub choice (a hub code, or None for all hubs), kept across pages."""
    names = dict(zip(hubs["code"], hubs["name"], strict=True))
    choice: str | None = st.selectbox(
        "Hub",
        [None, *names],
        key=state.HUB,
        format_func=lambda c: "All hubs" if c is None else f"{c} · {names[c]}",
    )
    return choice


def selected_hub_ids() -> frozenset[int] | None:
    code = state.get(state.HUB)
    if code is None:
        return None
    hubs = services.hubs()
    return frozenset(int(i) for i in hubs.loc[hubs["code"] == code, "hub_id"])


def hub_label() -> str:
    code, hubs = state.get(state.HUB), services.hubs()
    names = hubs.loc[hubs["code"] == code, "name"]
    return inert(f"{code} {names.iloc[0]}") if len(names) else "all hubs"


def hub_timezone() -> str:
    code, hubs = state.get(state.HUB), services.hubs()
    chosen = hubs.loc[hubs["code"] == code, "timezone"]
    return str(chosen.iloc[0]) if len(chosen) else services.settings().timezone


def clock_text(instant: datetime, tz: str) -> str:
    return f"{instant.astimezone(ZoneInfo(tz)):%H:%M:%S}"


def _dots(items: Sequence[tuple[str, maps.RGB]], ring: bool = False) -> str:
    style = "border:3px solid rgb({0},{1},{2});background:#fff" if ring else "background:rgb({0},{1},{2})"
    return " ".join(
        f"<span style='white-space:nowrap;margin-right:10px'><span style='display:inline-block;"
        f"width:10px;height:10px;border-radius:50%;{style.format(*rgb)}'></span> {escape(label)}</span>"
        for label, rgb in items
    )


def map_legend() -> None:
    orders = [(maps.ORDER_LABELS[s], rgb) for s, rgb in maps.ORDER_COLOURS.items()]
    fleets = [(maps.FLEET_LABELS[f], rgb) for f, rgb in maps.FLEET_COLOURS.items()]
    states = [(maps.STATE_LABELS[s], rgb) for s, rgb in maps.STATE_COLOURS.items()]
    st.html(
        f"<div style='font-size:0.8rem;line-height:1.8'><b>Orders</b> {_dots(orders)}<br/>"
        f"<b>Drivers</b> fill: {_dots(fleets)} ring: {_dots(states, ring=True)}</div>"
    )


def local_times(frame: pd.DataFrame, columns: Sequence[str], tz: str) -> pd.DataFrame:
    """Aware UTC columns shown as naive local times (the dataframe shows them as written)."""
    return frame.assign(**{c: frame[c].dt.tz_convert(tz).dt.tz_localize(None) for c in columns})


def row_errors(errors: Sequence[RowError]) -> None:
    st.dataframe(
        pd.DataFrame(
            [{"line": e.line, "field": e.field, "message": e.message} for e in errors],
            columns=["line", "field", "message"],
        ),
        hide_index=True,
        width="stretch",
        key="orders.import_errors",
    )

"""The co-pilot page's reads, actions, forms and map.

Every action is one tap, one unit of work through `core.driver_app`, which checks the viewer and
reports through the same field services the simulator uses. A refusal (`ControlTowerError`, or
a proof of delivery that core's records reject) rolls everything back and comes back as the
message to show.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any, TypeVar

import pandas as pd
import pydeck as pdk
import streamlit as st

from core import driver_app
from core.access import Viewer
from core.agents.copilot import CopilotView, NotHomeAdvice, StopView, copilot_view, not_home_options
from core.agents.copilot_reroute import RerouteOutcome
from core.db import unit_of_work
from core.errors import ControlTowerError
from core.field import DISRUPTIONS, ExceptionAction, ExceptionReason
from core.kinds import StopStatus
from core.timeutil import local_hhmm
from ui import maps, services
from ui.text import inert

NOTICE = "copilot.notice"  # (kind, text) of the last action, shown once (pages/copilot.py)
PANEL = "copilot.panel"  # (form, order_id) of the open form: "delivered", "not_home" or "problem"
ACTING_ROLES = driver_app.REPORTING_ROLES
HANDED_TO, SAFE_PLACE = "person", "safe_place"
REASON_LABELS = {
    ExceptionReason.VEHICLE_BREAKDOWN: "Vehicle breakdown",
    ExceptionReason.ROAD_CLOSED: "Road closed ahead",
    ExceptionReason.RUNNING_LATE: "Running late",
}
ACTION_LABELS = {
    ExceptionAction.SAFE_PLACE: "Safe place",
    ExceptionAction.NEIGHBOUR: "Neighbour",
    ExceptionAction.LOCKER: "Locker",
    ExceptionAction.RESCHEDULE: "Reschedule",
    ExceptionAction.RETURN_TO_DEPOT: "Return to depot",
}
T = TypeVar("T")
NEXT_COLOUR, LATER_COLOUR, DRIVER_COLOUR = (245, 158, 11), (59, 130, 246), (15, 23, 42)


# -- reads ---------------------------------------------------------------------------------


def view(viewer: Viewer, driver_id: int) -> CopilotView:
    """The driver's screen as of the app's clock (raises `AccessDeniedError` for another's)."""
    with unit_of_work(services.current_engine(), read_only=True) as session:
        return copilot_view(session, viewer, driver_id, services.now())


def not_home_advice(viewer: Viewer, driver_id: int, order_id: int) -> NotHomeAdvice:
    with unit_of_work(services.current_engine(), read_only=True) as session:
        at = services.now()
        copilot_view(session, viewer, driver_id, at)
        return not_home_options(session, driver_id, order_id, at)


def drivers(viewer: Viewer) -> pd.DataFrame:
    """The drivers the viewer may look over (driver_id, code, name, hub_id, stops_left), those
    with stops left first."""
    d = services.live_map(viewer).drivers[["driver_id", "code", "name", "hub_id", "stops_left"]]
    return d.assign(idle=d["stops_left"] == 0).sort_values(["idle", "code"]).drop(columns="idle")


# -- actions (button callbacks) ------------------------------------------------------------


def _act(describe: Callable[[T], str], tap: Callable[..., T], *args: Any) -> None:
    """One tap, one transaction (`core.driver_app`); the outcome lands in `NOTICE`, the form closes."""
    try:
        with unit_of_work(services.current_engine()) as session:
            done = tap(session, *args, at=services.now())
    except (ControlTowerError, ValueError) as exc:  # ValueError: a record core refuses to build
        st.session_state[NOTICE] = ("error", str(exc))
        return
    st.session_state[NOTICE] = ("success", describe(done))
    st.session_state.pop(PANEL, None)


def _text(key: str) -> str | None:
    value = str(st.session_state.get(key) or "").strip()
    return value or None


def arrived(viewer: Viewer, driver_id: int, order_id: int) -> None:
    _act(lambda stop: f"Arrived at {stop.ref}.", driver_app.arrived, viewer, driver_id, order_id)


def delivered(viewer: Viewer, driver_id: int, order_id: int) -> None:
    """Handed to a person, or left in the safe place: the co-pilot's not-home safe-place option,
    so only where the customer allowed it."""
    photo = _text("copilot.photo_ref")
    if st.session_state.get("copilot.handover") == SAFE_PLACE:
        _act(
            lambda why: f"Delivered to the safe place: {why}.",
            driver_app.not_home,
            viewer,
            driver_id,
            order_id,
            ExceptionAction.SAFE_PLACE,
            photo,
            None,
            _text("copilot.place"),
        )
    else:
        _act(
            lambda stop: f"Delivered {stop.ref}.",
            driver_app.delivered,
            viewer,
            driver_id,
            order_id,
            _text("copilot.recipient"),
            photo,
            _text("copilot.signature_ref"),
        )


def not_home(viewer: Viewer, driver_id: int, order_id: int, action: ExceptionAction) -> None:
    _act(
        lambda why: f"{ACTION_LABELS[action]} recorded: {why}.",
        driver_app.not_home,
        viewer,
        driver_id,
        order_id,
        action,
        _text("copilot.nh_photo_ref"),
        _text("copilot.nh_recipient"),
    )


def _stops(count: int) -> str:
    return f"{count} stop" if count == 1 else f"{count} stops"


def outcome_text(reason: ExceptionReason, outcome: RerouteOutcome) -> str:
    """The co-pilot's answer to a reported problem, in words a driver reads at a glance."""
    said = f"{REASON_LABELS[reason]} reported."
    late = (
        f"{_stops(len(outcome.late_after))} will now be late: {', '.join(outcome.late_after[:5])}."
        if outcome.late_after
        else ""
    )
    if outcome.escalated:
        cannot = f" {_stops(len(outcome.unserved))} cannot be reached." if outcome.unserved else ""
        moved = " Your stops were re-ordered meanwhile." if outcome.applied else ""
        return (
            f"{said} Dispatch has been asked to help with your remaining stops.{cannot}{moved} {late}".strip()
        )
    if not outcome.before:
        return f"{said} You have no stops left to re-order."
    if outcome.applied:
        on_time = late or "All of them stay on time."
        return f"{said} Your {_stops(len(outcome.before))} are in a new order. {on_time}"
    return f"{said} The co-pilot kept your order of stops. {late or 'All of them stay on time.'}"


def problem(viewer: Viewer, driver_id: int) -> None:
    """Report the disruption; the co-pilot's reroute, or its request to dispatch, is the notice."""
    reason = ExceptionReason(st.session_state["copilot.reason"])
    _act(lambda outcome: outcome_text(reason, outcome), driver_app.problem, viewer, driver_id, reason)


def open_panel(form: str, order_id: int | None) -> None:
    st.session_state[PANEL] = (form, order_id)
    st.session_state.pop(NOTICE, None)


# -- rendering -----------------------------------------------------------------------------


def has_route_today(current: CopilotView) -> bool:
    return current.day is not None


def next_stop_card(current: CopilotView, tz: str) -> None:
    for notice in current.handovers:
        st.warning(inert(notice), icon=":material/local_shipping:")
    stop = current.next_stop
    if not has_route_today(current):
        st.info("You have no route today. Nothing to deliver: check with dispatch if you expected one.")
        return
    if stop is None:
        st.success(f"All done: no stops left on today's route ({_stops(current.done)} done).")
        return
    st.markdown(f"**Next stop · 1 of {len(current.remaining)}**")
    st.text(f"{stop.ref}\n{stop.address}")
    window, eta = st.columns(2)
    if stop.late_by_s:
        note = f"late by {stop.late_by_s // 60} min"
    elif stop.early_by_s >= 60:
        note = f"early: wait until {local_hhmm(stop.window_start_at, tz)}"
    else:
        note = "on time"
    window.metric(
        "Window", f"{local_hhmm(stop.window_start_at, tz)}–{local_hhmm(stop.window_end_at, tz)}", border=True
    )
    eta.metric(
        "ETA",
        local_hhmm(stop.eta_at, tz),
        note,
        delta_color="inverse" if stop.late_by_s else "off",
        delta_arrow="off",
        border=True,
    )
    st.caption(
        f"{_stops(len(current.remaining))} left · {current.done} done · "
        + (
            f"running {current.running_late_s // 60} min behind plan"
            if current.running_late_s >= 60
            else "on plan"
        )
        + (" · you have arrived" if stop.status is StopStatus.ARRIVED else "")
    )


def remaining_table(current: CopilotView, tz: str) -> None:
    rows = [  # numbered from 1 among the stops still to do, as a proposal numbers them
        {
            "#": number,
            "order": s.ref,
            "address": s.address,
            "window": f"{local_hhmm(s.window_start_at, tz)}–{local_hhmm(s.window_end_at, tz)}",
            "ETA": local_hhmm(s.eta_at, tz),
            "late by (min)": s.late_by_s // 60,
        }
        for number, s in enumerate(current.remaining, start=1)
    ]
    st.dataframe(
        pd.DataFrame(rows, columns=["#", "order", "address", "window", "ETA", "late by (min)"]),
        hide_index=True,
        width="stretch",
        key="copilot.remaining",
    )


MAP_FIT_PX = (360, 320)  # fit for a phone's width; a wider screen shows a little more around it


def route_view(current: CopilotView) -> maps.MapView:
    """Fitted to the stops left and the way back to the hub (not to the driver's moving dot, so
    the view holds between stops instead of jumping at every position report)."""
    points = list(current.route_points[1:]) or [(current.lon, current.lat)]
    return maps.fit_view(points, *MAP_FIT_PX)


def deck(current: CopilotView, basemap_style: str, tz: str) -> pdk.Deck:
    """The driver's remaining route: the path, the stops (the next one highlighted), the driver."""
    view_at = route_view(current)
    stops = pd.DataFrame(
        [
            {
                "lon": s.lon,
                "lat": s.lat,
                "colour": list(NEXT_COLOUR if i == 0 else LATER_COLOUR),
                "radius": 9 if i == 0 else 5,
                "tooltip": f"<b>#{i + 1} {escape(s.ref)}</b> · ETA {local_hhmm(s.eta_at, tz)}<br/>window "
                f"{local_hhmm(s.window_start_at, tz)}–{local_hhmm(s.window_end_at, tz)}"
                f"<br/>{escape(s.address)}",
            }
            for i, s in enumerate(current.remaining)
        ],
        columns=["lon", "lat", "colour", "radius", "tooltip"],
    )
    here = pd.DataFrame(
        [{"lon": current.lon, "lat": current.lat, "tooltip": f"<b>{escape(current.driver_code)}</b> is here"}]
    )
    path = pd.DataFrame(
        [{"path": [list(p) for p in current.route_points], "tooltip": "Remaining route"}]
        if current.route_points
        else [],
        columns=["path", "tooltip"],
    )
    return pdk.Deck(
        layers=[
            pdk.Layer(
                "PathLayer",
                path,
                id="route",
                get_path="path",
                get_color=[*LATER_COLOUR, 170],
                width_units=maps.PIXELS,
                get_width=4,
                joint_rounded=True,
                cap_rounded=True,
            ),
            pdk.Layer(
                "ScatterplotLayer",
                stops,
                id="stops",
                get_position="[lon, lat]",
                get_fill_color="colour",
                radius_units=maps.PIXELS,
                get_radius="radius",
                pickable=True,
            ),
            pdk.Layer(
                "ScatterplotLayer",
                here,
                id="driver",
                get_position="[lon, lat]",
                get_fill_color=list(DRIVER_COLOUR),
                radius_units=maps.PIXELS,
                get_radius=8,
                pickable=True,
            ),
        ],
        map_style=maps.basemap_url(basemap_style),
        initial_view_state=pdk.ViewState(
            latitude=view_at.latitude, longitude=view_at.longitude, zoom=view_at.zoom, pitch=0, bearing=0
        ),
        tooltip={"html": "{tooltip}", "style": maps.TOOLTIP_STYLE},
    )


def delivered_form(viewer: Viewer, driver_id: int, stop: StopView) -> None:
    with st.form("copilot.delivered_form"):
        st.radio(
            "Handed over",
            [HANDED_TO, SAFE_PLACE],
            key="copilot.handover",
            horizontal=True,
            format_func=lambda h: "to a person" if h == HANDED_TO else "left in the safe place",
        )
        st.text_input("Recipient name", key="copilot.recipient")
        st.text_input("Safe place", key="copilot.place", placeholder=stop.safe_place_note or "")
        photo, signature = st.columns(2)
        photo.text_input("Photo reference", key="copilot.photo_ref")
        signature.text_input("Signature reference", key="copilot.signature_ref")
        st.form_submit_button(
            "Confirm delivery", type="primary", on_click=delivered, args=(viewer, driver_id, stop.order_id)
        )


def not_home_panel(viewer: Viewer, driver_id: int, stop: StopView, advice: NotHomeAdvice) -> None:
    """The co-pilot's ranked options, each with its one-line reason; a tap records one."""
    st.markdown("**Nobody at home at the next stop**: what the customer allowed, best first")
    photo, recipient = st.columns(2)
    photo.text_input("Photo reference (safe place, neighbour, locker)", key="copilot.nh_photo_ref")
    recipient.text_input("Neighbour's name", key="copilot.nh_recipient")
    for rank, option in enumerate(advice.options, start=1):
        label, text = st.columns([1, 4], vertical_alignment="center")
        label.button(
            f"{rank}. {ACTION_LABELS[option.action]}",
            key=f"copilot.option.{option.action.value}",
            width="stretch",
            type="primary" if rank == 1 else "secondary",
            on_click=not_home,
            args=(viewer, driver_id, stop.order_id, option.action),
        )
        text.caption(inert(option.reason))
    for action, why in advice.excluded:
        st.caption(f"Not offered: {ACTION_LABELS[action].lower()}, {inert(why)}")


def problem_form(viewer: Viewer, driver_id: int) -> None:
    with st.form("copilot.problem_form"):
        st.selectbox(
            "What happened?",
            sorted(DISRUPTIONS),
            key="copilot.reason",
            format_func=lambda r: REASON_LABELS[ExceptionReason(r)],
        )
        st.form_submit_button("Report", type="primary", on_click=problem, args=(viewer, driver_id))

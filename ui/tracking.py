"""The customer's tracking page: its read, the choice it records, and how it words an order.

Nothing here takes an order id: the link's token is the only key, and core opens exactly the
one order it was issued for. A wrong or expired token gets core's one sentence and nothing else.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import streamlit as st

from core.agents.customer import ChoiceRequest, TrackingView, record_customer_choice, tracking_view
from core.db import unit_of_work
from core.errors import ControlTowerError
from core.kinds import CustomerChoiceKind, OrderStatus
from ui import services

TOKEN_PARAM = "t"  # the link is <app>/track?t=<token> (core.agents.customer.tracking_url)
NOTICE = "track.notice"  # the thank-you after a recorded choice (pages/track.py)
STATUS_TEXT = {
    OrderStatus.UNASSIGNED: "Your parcel is at our depot and will be planned onto a van soon.",
    OrderStatus.PLANNED: "Your parcel is planned on today's round.",
    OrderStatus.OUT_FOR_DELIVERY: "Your parcel is out for delivery.",
    OrderStatus.DELIVERED: "Your parcel has been delivered.",
    OrderStatus.FAILED: "We missed you today. Tell us what to do next time.",
}
CHOSEN_TEXT = {
    CustomerChoiceKind.SAFE_PLACE: "leave it in a safe place",
    CustomerChoiceKind.NEIGHBOUR: "leave it with a neighbour",
    CustomerChoiceKind.RESCHEDULE: "deliver it another time",
}


def token() -> str:
    return str(st.query_params.get(TOKEN_PARAM, ""))


def view(link_token: str) -> TrackingView:
    """What the link opens; raises `TrackingLinkError` for a wrong or expired one."""
    with unit_of_work(services.current_engine(), read_only=True) as session:
        return tracking_view(session, link_token, services.now())


def choose(link_token: str) -> None:
    """Button callback: record the choice in the page's widgets in one transaction, or say why not."""
    kind = CustomerChoiceKind(st.session_state["track.choice"])
    place = str(st.session_state.get(f"track.place.{kind.value}") or "").strip() or None
    slot = st.session_state.get("track.slot") if kind is CustomerChoiceKind.RESCHEDULE else None
    request = ChoiceRequest(kind, place=place, slot=slot)
    try:
        with unit_of_work(services.current_engine()) as session:
            record_customer_choice(session, link_token, request, services.now())
    except ControlTowerError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
        return
    st.session_state[NOTICE] = ("success", f"Thank you: we will {CHOSEN_TEXT[request.kind]}.")


def hhmm(at: datetime, tz: str) -> str:
    return f"{at.astimezone(ZoneInfo(tz)):%H:%M}"


def window(start: datetime, end: datetime, tz: str) -> str:
    return f"{hhmm(start, tz)}–{hhmm(end, tz)}"


def day_label(at: datetime, tz: str) -> str:
    return f"{at.astimezone(ZoneInfo(tz)):%a %d %b}"


def slot_label(start: datetime, end: datetime, tz: str) -> str:
    return f"{day_label(start, tz)} {window(start, end, tz)}"


def status_text(order: TrackingView, tz: str) -> str:
    if order.status is OrderStatus.DELIVERED and order.delivered_at is not None:
        return f"Your parcel was delivered at {hhmm(order.delivered_at, tz)}."
    if order.chosen_slot is not None:
        slot = slot_label(order.chosen_slot.start_at, order.chosen_slot.end_at, tz)
        return f"Your parcel will come in the new slot you picked: {slot}."
    return STATUS_TEXT.get(order.status, "Your parcel's delivery was cancelled.")


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def _as_text(typed: str) -> str:
    """What the customer typed, shown as typed: Markdown's special characters escaped."""
    return _MARKDOWN.sub(r"\\\1", typed)


def chosen_text(order: TrackingView, tz: str) -> str:
    """The customer's choice said back, with the place as typed or the new slot."""
    assert order.chosen is not None
    said = f"You asked us to {CHOSEN_TEXT[order.chosen]}"
    if order.chosen_slot is not None:
        slot = slot_label(order.chosen_slot.start_at, order.chosen_slot.end_at, tz)
        return f"{said}. New delivery slot: {slot}."
    if order.chosen_place:
        return f"{said}: “{_as_text(order.chosen_place)}”."
    return f"{said}."

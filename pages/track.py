"""Track your parcel: the one order behind a customer's tracking link, without signing in.

The link's token (`?t=`) is the only key: the page shows that order's progress and ETA window
and the choices on offer (safe place, neighbour, another slot), never a driver or another
order. A wrong or expired link gets one sentence and nothing else.
"""

import streamlit as st

from core.agents.customer import TrackingLinkError
from core.kinds import CustomerChoiceKind
from ui import services, tracking

link = tracking.token()
st.title("Track your parcel", anchor=False)
try:
    order = tracking.view(link)
except TrackingLinkError as exc:
    st.error(str(exc), icon=":material/link_off:")
    st.stop()

tz = services.settings().timezone
st.subheader(f"Parcel {order.order_ref}", anchor=False)
new_slot = order.chosen_slot
st.markdown(tracking.status_text(order, tz))
booked, expected, before = st.columns(3)
if new_slot is not None:  # the customer's new slot replaces today's window and ETA
    booked.metric(
        f"New delivery slot · {tracking.day_label(new_slot.start_at, tz)}",
        tracking.window(new_slot.start_at, new_slot.end_at, tz),
        border=True,
    )
else:
    booked.metric(
        "Booked window", tracking.window(order.window_start_at, order.window_end_at, tz), border=True
    )
    if order.eta_start_at is not None and order.eta_end_at is not None:
        expected.metric("Expected", tracking.window(order.eta_start_at, order.eta_end_at, tz), border=True)
    if order.stops_before is not None:
        before.metric("Stops before yours", order.stops_before, border=True)
if order.chosen is not None:
    st.info(tracking.chosen_text(order, tz), icon=":material/check:")

notice = st.session_state.pop(tracking.NOTICE, None)
if notice:
    kind, text = notice
    (st.success if kind == "success" else st.error)(text)

if order.choices:
    st.markdown("#### Not at home?")
    offered = {c.kind: c for c in order.choices}
    chosen = st.radio(
        "What should we do?", list(offered), key="track.choice", format_func=lambda k: offered[k].label
    )
    if chosen is CustomerChoiceKind.SAFE_PLACE:
        st.text_input(
            "Where exactly?",
            key="track.place.safe_place",
            max_chars=120,
            placeholder="e.g. behind the side gate",
        )
    elif chosen is CustomerChoiceKind.NEIGHBOUR:
        st.text_input("Which neighbour? (optional)", key="track.place.neighbour", max_chars=120)
    else:
        st.selectbox(
            "New delivery slot",
            offered[chosen].slots,
            key="track.slot",
            format_func=lambda s: tracking.slot_label(s.start_at, s.end_at, tz),
        )
    st.button("Confirm", type="primary", key="track.confirm", on_click=tracking.choose, args=(link,))

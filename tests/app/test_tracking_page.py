"""The customer's tracking page: no sign-in, one order behind one token, a choice recorded, and
a wrong or expired link that reveals nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.agents.customer import issue_token
from core.db import engine_for, unit_of_work
from core.kinds import CustomerChoiceKind, OrderStatus
from core.models import CustomerChoice, Driver, Order, Route, Stop
from tests.app.conftest import APP, APP_NOW
from ui import navigation

INVALID = "This tracking link is not valid or has expired."


def _open(token: str | None) -> AppTest:
    """A visitor who never signed in follows the link <app>/track?t=<token>."""
    at = AppTest.from_file(APP, default_timeout=30).run()
    if token is not None:
        at.query_params["t"] = token
    at.switch_page(navigation.TRACKING.path).run()
    assert not at.exception
    return at


def _out_for_delivery(url: str) -> tuple[int, str, str]:
    """An order on a started route: its id, reference and its driver's name."""
    with unit_of_work(engine_for(url), read_only=True) as s:
        order_id, ref, name = s.execute(
            select(Order.id, Order.external_ref, Driver.name)
            .join(Stop, Stop.order_id == Order.id)
            .join(Route, Route.id == Stop.route_id)
            .join(Driver, Driver.id == Route.driver_id)
            .where(Order.status == OrderStatus.OUT_FOR_DELIVERY, Order.required_skills == [])
            .order_by(Order.id)
            .limit(1)
        ).one()
    return order_id, ref, name


def _token(url: str, order_id: int, ttl: timedelta = timedelta(days=1)) -> str:
    with unit_of_work(engine_for(url)) as s:
        return issue_token(s, order_id, APP_NOW, ttl)


def _all_text(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("title", "subheader", "markdown", "caption", "info", "success")
        for e in getattr(at, kind)
    ]
    return " ".join(str(p) for p in parts + [f"{m.label} {m.value}" for m in at.metric])


def test_a_valid_link_shows_its_order_eta_and_choices_without_sign_in(scratch_db_url: str) -> None:
    order_id, ref, driver_name = _out_for_delivery(scratch_db_url)
    at = _open(_token(scratch_db_url, order_id))
    assert "login.username" not in {w.key for w in at.text_input}
    assert [s.value for s in at.subheader] == [f"Parcel {ref}"]
    assert [m.label for m in at.metric] == ["Booked window", "Expected", "Stops before yours"]
    text = _all_text(at)
    assert "out for delivery" in text and driver_name not in text
    with unit_of_work(engine_for(scratch_db_url), read_only=True) as s:  # no other order's reference
        others = set(s.scalars(select(Order.external_ref).where(Order.id != order_id)))
    assert not [r for r in others if r in text]
    assert at.radio(key="track.choice").options == [
        "Leave it in a safe place (a safe place you name)",
        "Leave it with a neighbour",
        "Deliver it another time",
    ]


def test_a_choice_is_recorded_in_customer_choices(scratch_db_url: str) -> None:
    order_id, _, _ = _out_for_delivery(scratch_db_url)
    at = _open(_token(scratch_db_url, order_id))
    at.radio(key="track.choice").set_value(CustomerChoiceKind.SAFE_PLACE).run()
    at.text_input(key="track.place.safe_place").input("under the mat")
    at.button(key="track.confirm").click().run()
    assert [s.value for s in at.success] == ["Thank you: we will leave it in a safe place."]
    assert "You asked us to leave it in a safe place: “under the mat”." in _all_text(at)
    at.radio(key="track.choice").set_value(CustomerChoiceKind.RESCHEDULE).run()
    at.selectbox(key="track.slot").select_index(1)
    at.button(key="track.confirm").click().run()
    with unit_of_work(engine_for(scratch_db_url), read_only=True) as s:
        made = [
            (c.kind, c.detail)
            for c in s.scalars(
                select(CustomerChoice).where(CustomerChoice.order_id == order_id).order_by(CustomerChoice.id)
            )
        ]
    assert made[0] == (CustomerChoiceKind.SAFE_PLACE, {"place": "under the mat"})
    kind, detail = made[1]
    assert kind is CustomerChoiceKind.RESCHEDULE
    assert detail["slot_start_at"] == "2026-11-28T15:00:00+00:00"  # the second slot: 10:00 EST


@pytest.mark.parametrize("token", [None, "", "not-a-token", "expired"])
def test_a_wrong_or_expired_link_shows_the_error_and_no_order(scratch_db_url: str, token: str | None) -> None:
    order_id, ref, _ = _out_for_delivery(scratch_db_url)
    if token == "expired":
        token = _token(scratch_db_url, order_id, ttl=timedelta(seconds=-1))
    at = _open(token)
    assert [e.value for e in at.error] == [INVALID]
    assert not at.subheader and not at.metric and not at.radio and not at.button
    assert ref not in _all_text(at)


def test_the_page_says_back_each_choice_once_it_is_made(scratch_db_url: str) -> None:
    order_id, _, _ = _out_for_delivery(scratch_db_url)
    at = _open(_token(scratch_db_url, order_id))
    at.radio(key="track.choice").set_value(CustomerChoiceKind.SAFE_PLACE).run()
    at.text_input(key="track.place.safe_place").input("behind the *blue* gate")
    at.button(key="track.confirm").click().run()
    assert [i.value for i in at.info] == [
        "You asked us to leave it in a safe place: “behind the \\*blue\\* gate”."
    ]

    at.radio(key="track.choice").set_value(CustomerChoiceKind.NEIGHBOUR).run()
    at.button(key="track.confirm").click().run()
    assert [i.value for i in at.info] == ["You asked us to leave it with a neighbour."]
    assert [m.label for m in at.metric] == ["Booked window", "Expected", "Stops before yours"]

    at.radio(key="track.choice").set_value(CustomerChoiceKind.RESCHEDULE).run()
    at.selectbox(key="track.slot").select_index(1)
    at.button(key="track.confirm").click().run()
    assert not at.exception
    slot = "Sat 28 Nov 10:00–12:00"  # the second slot offered, in the hub's time
    assert [(m.label, m.value) for m in at.metric] == [("New delivery slot · Sat 28 Nov", "10:00–12:00")]
    assert at.markdown[0].value == f"Your parcel will come in the new slot you picked: {slot}."
    assert [i.value for i in at.info] == [
        f"You asked us to deliver it another time. New delivery slot: {slot}."
    ]

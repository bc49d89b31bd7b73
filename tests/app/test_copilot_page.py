"""The co-pilot page on the day under way: a driver sees only their own route, every tap writes
through core (or is refused whole), not-home options follow the customer's preferences, and
an operations user looks over a chosen driver's shoulder."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from core import driver_app
from core.access import Viewer
from core.agents.copilot import CopilotView, copilot_view
from core.db import engine_for, unit_of_work
from core.errors import AccessDeniedError
from core.kinds import EventKind, OrderStatus
from core.models import Driver, Event, Order, User
from core.timeutil import local_hhmm
from tests.app.conftest import APP_NOW, TZ, signed_in
from ui.text import WORD_JOINER


def _viewer(url: str, username: str) -> Viewer:
    with unit_of_work(engine_for(url), read_only=True) as s:
        u = s.scalars(select(User).where(User.username == username)).one()
        return Viewer(u.username, u.role, u.id, u.vendor_id, u.driver_id)


def _core_view(url: str, username: str) -> CopilotView:
    viewer = _viewer(url, username)
    assert viewer.driver_id is not None
    with unit_of_work(engine_for(url), read_only=True) as s:
        return copilot_view(s, viewer, viewer.driver_id, APP_NOW)


def _stop_tooltips(at: AppTest) -> list[str]:
    [chart] = at.get("deck_gl_json_chart")
    deck: dict[str, Any] = json.loads(chart.proto.json)
    [stops] = [layer for layer in deck["layers"] if layer["id"] == "stops"]
    return [row["tooltip"] for row in stops["data"]]


def _shown(markdown: str) -> str:
    """What the reader sees of text the page passed through `ui.text.inert`."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


def _texts(at: AppTest) -> str:
    return _shown(
        " ".join(
            [m.value for m in at.markdown]
            + [s.value for s in at.subheader]
            + [c.value for c in at.caption]
            + [t.value for t in at.text]
        )
    )


def _events(url: str, order_id: int) -> list[tuple[EventKind, dict[str, Any]]]:
    with unit_of_work(engine_for(url), read_only=True) as s:
        return [
            (e.kind, e.payload)
            for e in s.scalars(select(Event).where(Event.order_id == order_id).order_by(Event.id))
        ]


def test_a_driver_lands_on_their_own_next_stop_and_route(live_app: str) -> None:
    mine = _core_view(live_app, "sam")
    at = signed_in("sam")
    assert mine.next_stop is not None and mine.driver_code in _shown(at.subheader[0].value)
    assert mine.next_stop.ref in _texts(at) and mine.next_stop.address in _texts(at)
    assert [m.label for m in at.metric] == ["Window", "ETA"]
    tips = _stop_tooltips(at)
    assert len(tips) == len(mine.remaining) and mine.next_stop.ref in tips[0]
    others = _core_view(live_app, "carla")
    assert not {s.ref for s in others.remaining} & {t.split("</b>")[0].split(" ", 1)[1] for t in tips}
    assert "copilot.driver" not in {s.key for s in at.selectbox}  # no picker: only their own route


def test_arrived_then_delivered_writes_the_events_and_the_next_stop_advances(scratch_db_url: str) -> None:
    before = _core_view(scratch_db_url, "sam")
    first, second = before.remaining[0], before.remaining[1]
    at = signed_in("sam")
    at.button(key="copilot.arrived").click().run()
    assert [_shown(s.value) for s in at.success] == [f"Arrived at {first.ref}."]
    assert at.button(key="copilot.arrived").disabled
    at.button(key="copilot.delivered").click().run()
    at.text_input(key="copilot.recipient").input("J. Doe")
    at.text_input(key="copilot.photo_ref").input("photo-123")
    at.button(key="FormSubmitter:copilot.delivered_form-Confirm delivery").click().run()
    assert not at.exception and [_shown(s.value) for s in at.success] == [f"Delivered {first.ref}."]
    kinds = _events(scratch_db_url, first.order_id)
    assert [k for k, _ in kinds] == [EventKind.ARRIVED, EventKind.DELIVERED]
    assert kinds[1][1]["recipient"] == "J. Doe" and kinds[1][1]["photo_ref"] == "photo-123"
    assert second.ref in at.text[0].value
    assert _stop_tooltips(at)[0].startswith(f"<b>#1 {second.ref}")  # numbered among the stops to do


def test_a_refused_proof_of_delivery_shows_the_reason_and_writes_nothing(scratch_db_url: str) -> None:
    stop = _core_view(scratch_db_url, "sam").remaining[0]
    at = signed_in("sam")
    at.button(key="copilot.delivered").click().run()
    at.button(key="FormSubmitter:copilot.delivered_form-Confirm delivery").click().run()
    assert [e.value for e in at.error] == ["a proof of delivery needs a photo or a signature reference"]
    assert _events(scratch_db_url, stop.order_id) == []


def test_not_home_offers_only_what_an_age_checked_parcel_allows(scratch_db_url: str) -> None:
    stop = _core_view(scratch_db_url, "sam").remaining[0]
    with unit_of_work(engine_for(scratch_db_url)) as s:  # the customer allowed a safe place, but ...
        s.execute(
            update(Order)
            .where(Order.id == stop.order_id)
            .values(required_skills=["age_check"], safe_place_allowed=True, neighbour_allowed=True)
        )
    at = signed_in("sam")
    at.button(key="copilot.not_home").click().run()
    options = [b.key for b in at.button if b.key and b.key.startswith("copilot.option.")]
    assert options == ["copilot.option.reschedule", "copilot.option.return_to_depot"]
    captions = _texts(at)
    assert "Not offered: safe place, not for a parcel that needs an age check" in captions
    assert "an age-checked parcel goes to the customer only" in captions
    at.button(key="copilot.option.reschedule").click().run()
    assert not at.error and _shown(at.success[0].value).startswith("Reschedule recorded: reschedule to")
    kinds = _events(scratch_db_url, stop.order_id)
    assert [k for k, _ in kinds] == [EventKind.EXCEPTION, EventKind.FAILED]
    assert kinds[0][1]["reason"] == "not_home" and kinds[0][1]["action"] == "reschedule"


def test_not_home_ranks_the_customers_safe_place_first_and_records_it(scratch_db_url: str) -> None:
    stop = _core_view(scratch_db_url, "sam").remaining[0]  # safe place and locker allowed, no neighbour
    at = signed_in("sam")
    at.button(key="copilot.not_home").click().run()
    options = [b.key for b in at.button if b.key and b.key.startswith("copilot.option.")]
    assert options[0] == "copilot.option.safe_place" and "copilot.option.neighbour" not in options
    assert "Not offered: neighbour, the customer did not allow a neighbour" in _texts(at)
    at.text_input(key="copilot.nh_photo_ref").input("photo-9")
    at.button(key="copilot.option.safe_place").click().run()
    with unit_of_work(engine_for(scratch_db_url), read_only=True) as s:
        assert s.get(Order, stop.order_id).status is OrderStatus.DELIVERED  # type: ignore[union-attr]
    delivered = dict(_events(scratch_db_url, stop.order_id))[EventKind.DELIVERED]
    assert delivered["handover"] == "safe_place" and delivered["photo_ref"] == "photo-9"


def test_a_problem_report_shows_the_copilots_reroute(scratch_db_url: str) -> None:
    at = signed_in("carla")
    at.button(key="copilot.problem").click().run()
    at.selectbox(key="copilot.reason").set_value("running_late")
    at.button(key="FormSubmitter:copilot.problem_form-Report").click().run()
    assert not at.exception and not at.error
    notice = _shown(at.success[0].value)
    assert notice.startswith("Running late reported. ") and "running_late" not in notice
    with unit_of_work(engine_for(scratch_db_url), read_only=True) as s:
        driver_id = s.scalars(select(Driver.id).where(Driver.code == "C-001")).one()
        reasons = [
            e.payload.get("reason")
            for e in s.scalars(
                select(Event).where(Event.driver_id == driver_id, Event.kind == EventKind.EXCEPTION)
            )
        ]
    assert "running_late" in reasons


def test_an_operations_user_picks_a_driver_and_only_dispatchers_report_for_them(live_app: str) -> None:
    carla = _core_view(live_app, "carla")
    for username, may_act in (("priya", True), ("marcus", False)):
        at = signed_in(username)
        at.switch_page("copilot.py").run()
        assert not at.exception
        at.selectbox(key="copilot.driver").set_value(carla.driver_id).run()
        assert carla.driver_code in _shown(at.subheader[0].value)
        assert carla.next_stop is not None and carla.next_stop.ref in at.text[0].value
        assert at.button(key="copilot.delivered").disabled is not may_act


def test_core_refuses_a_tap_for_someone_elses_stop_or_from_a_looking_role(scratch_db_url: str) -> None:
    carla = _core_view(scratch_db_url, "carla")
    assert carla.next_stop is not None
    for username, refusal in (("sam", "may not see driver"), ("marcus", "may not report for a driver")):
        with pytest.raises(AccessDeniedError, match=refusal), unit_of_work(engine_for(scratch_db_url)) as s:
            driver_app.arrived(
                s, _viewer(scratch_db_url, username), carla.driver_id, carla.next_stop.order_id, at=APP_NOW
            )
    assert _events(scratch_db_url, carla.next_stop.order_id) == []


def test_a_driver_without_a_route_today_is_told_so_and_gets_no_taps(
    live_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.services.now", lambda: APP_NOW + timedelta(days=1))  # yesterday's route only
    at = signed_in("sam")
    assert not at.exception
    assert [i.value for i in at.info] == [
        "You have no route today. Nothing to deliver: check with dispatch if you expected one."
    ]
    assert not [b for b in at.button if b.key and b.key.startswith("copilot.")]  # nothing that would fail
    assert not at.get("deck_gl_json_chart") and "done" not in _texts(at)


def test_an_early_arrival_is_told_to_wait_for_the_window(scratch_db_url: str) -> None:
    stop = _core_view(scratch_db_url, "sam").remaining[0]
    opens_at = stop.eta_at + timedelta(hours=1)  # the customer's window opens an hour after the ETA
    with unit_of_work(engine_for(scratch_db_url)) as s:
        s.execute(
            update(Order)
            .where(Order.id == stop.order_id)
            .values(window_start_at=opens_at, window_end_at=opens_at + timedelta(hours=2))
        )
    at = signed_in("sam")
    eta = next(m for m in at.metric if m.label == "ETA")
    assert eta.delta == f"early: wait until {local_hhmm(opens_at, TZ)}"

"""The live map page on a day under way: the KPI strip is core's, layers hold only what the
viewer may see, filters narrow the layers, and a refresh never moves the map."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from core.access import Viewer
from core.auth import SignIn
from core.db import engine_for, unit_of_work
from core.kinds import OrderStatus, Role
from core.live import LiveStatus, read_live_map
from core.models import Driver, Fleet, Hub, Order, User
from tests.app.conftest import APP_NOW, TZ, signed_in
from tests.conftest import TEST_DAY
from ui import widgets
from ui.services import LIVE_REFRESH_S

pytestmark = pytest.mark.usefixtures("live_app")


def _deck(at: AppTest) -> dict[str, Any]:
    [chart] = at.get("deck_gl_json_chart")
    return json.loads(chart.proto.json)  # type: ignore[no-any-return]


def _layer(at: AppTest, layer_id: str) -> list[dict[str, Any]]:
    [layer] = [layer for layer in _deck(at)["layers"] if layer["id"] == layer_id]
    return layer["data"]  # type: ignore[no-any-return]


def _viewer(url: str, username: str) -> Viewer:
    with unit_of_work(engine_for(url), read_only=True) as s:
        u = s.scalar(select(User).where(User.username == username))
        assert u is not None
        return Viewer(u.username, u.role, u.id, u.vendor_id, u.driver_id)


def _core_live(url: str, username: str):  # type: ignore[no-untyped-def]
    with unit_of_work(engine_for(url), read_only=True) as s:
        return read_live_map(s, _viewer(url, username), TEST_DAY, APP_NOW, TZ)


def on_live_map(username: str) -> AppTest:
    """Signed in and on the live map (a vendor lands on its review page first)."""
    at = signed_in(username)
    at.switch_page("live_map.py").run()
    assert not at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("username", ["priya", "jonas", "carla"])
def test_the_kpi_strip_shows_what_core_computes(live_app: str, username: str) -> None:
    at = on_live_map(username)
    k = _core_live(live_app, username).kpis()
    assert k.delivered > 0 or username == "carla"
    assert _metrics(at) == {
        "On time so far": widgets.percent(k.on_time_rate),
        "Delivered": f"{k.delivered:,}",
        "Failed": f"{k.failed:,}",
        "At risk": f"{k.at_risk:,}",
        "Active drivers": f"{k.active_drivers:,}",
        "Exceptions": f"{k.open_exceptions:,}",
    }


def test_a_dispatcher_sees_every_driver_order_and_route(live_app: str) -> None:
    at = on_live_map("priya")
    live = _core_live(live_app, "priya")
    with unit_of_work(engine_for(live_app), read_only=True) as s:
        all_codes = set(s.scalars(select(Driver.code)))
        open_today = s.scalar(
            select(Order.id)
            .where(Order.service_date == TEST_DAY, Order.status == OrderStatus.OUT_FOR_DELIVERY)
            .limit(1)
        )
    assert {d["code"] for d in _layer(at, "drivers")} == all_codes
    assert len(_layer(at, "orders")) == len(live.orders) > 0
    assert len(_layer(at, "routes")) == len(live.routes) > 0
    assert len(_layer(at, "hubs")) == 4
    assert open_today is not None


def test_a_vendor_map_holds_exactly_its_own_drivers_and_their_orders(live_app: str) -> None:
    at = on_live_map("jonas")
    viewer = _viewer(live_app, "jonas")
    with unit_of_work(engine_for(live_app), read_only=True) as s:
        own = set(
            s.scalars(
                select(Driver.code)
                .join(Fleet, Driver.fleet_id == Fleet.id)
                .where(Fleet.vendor_id == viewer.vendor_id)
            )
        )
    live = _core_live(live_app, "jonas")
    assert own and {d["code"] for d in _layer(at, "drivers")} == own
    assert set(live.orders["driver_code"]) <= own
    assert len(_layer(at, "orders")) == len(live.orders) > 0
    assert {r["tooltip"].split("Route of ")[1].split("<")[0] for r in _layer(at, "routes")} <= own
    tips = " ".join(o["tooltip"] for o in _layer(at, "orders"))
    assert not [c for c in live.orders["driver_code"].dropna() if c not in own]
    assert "driver –" not in tips  # no unassigned orders: they belong to no vendor yet
    assert at.multiselect(key="live_map.vendors").options == ["Metro Parcel Partners"]


def test_a_driver_sees_only_their_own_route(live_app: str) -> None:
    at = on_live_map("carla")
    with unit_of_work(engine_for(live_app), read_only=True) as s:
        code, lat, lon = s.execute(
            select(Driver.code, Hub.lat, Hub.lon)
            .join(User, User.driver_id == Driver.id)
            .join(Hub, Hub.id == Driver.home_hub_id)
            .where(User.username == "carla")
        ).one()
    assert [d["code"] for d in _layer(at, "drivers")] == [code]
    routes = _layer(at, "routes")
    assert len(routes) == 1 and routes[0]["tooltip"].startswith(f"<b>Route of {code}</b>")
    live = _core_live(live_app, "carla")
    assert set(live.orders["driver_code"]) == {code}
    assert len(_layer(at, "orders")) == len(live.orders)
    view = _deck(at)["initialViewState"]  # the map opens over her home hub
    assert (view["latitude"], view["longitude"]) == (round(lat, 5), round(lon, 5))


def test_the_hub_filter_narrows_every_layer_and_centres_the_map(live_app: str) -> None:
    at = on_live_map("priya")
    at.selectbox(key="frame.hub").select("BRX").run()
    with unit_of_work(engine_for(live_app), read_only=True) as s:
        hub_id, lat, lon = s.execute(select(Hub.id, Hub.lat, Hub.lon).where(Hub.code == "BRX")).one()
        codes = set(s.scalars(select(Driver.code).where(Driver.home_hub_id == hub_id)))
    assert {d["code"] for d in _layer(at, "drivers")} == codes
    live = _core_live(live_app, "priya").filtered(hub_ids=frozenset({hub_id}))
    assert len(_layer(at, "orders")) == len(live.orders) > 0
    view = _deck(at)["initialViewState"]
    assert (view["latitude"], view["longitude"]) == (round(lat, 5), round(lon, 5))
    assert _metrics(at)["Delivered"] == f"{live.kpis().delivered:,}"


def test_filters_by_fleet_type_vendor_and_status(live_app: str) -> None:
    at = on_live_map("priya")
    live = _core_live(live_app, "priya")
    at.multiselect(key="live_map.fleet_types").set_value(["gig"]).run()
    assert {
        d["fleet_type"]
        for d in [dict(x) for x in live.drivers.to_dict("records")]
        if d["code"] in {y["code"] for y in _layer(at, "drivers")}
    } == {"gig"}
    at.multiselect(key="live_map.fleet_types").set_value([]).run()
    at.multiselect(key="live_map.order_states").set_value([LiveStatus.DELIVERED]).run()
    assert len(_layer(at, "orders")) == live.kpis().delivered
    assert _metrics(at)["Failed"] == f"{live.kpis().failed:,}"  # the strip ignores the status filter
    vendor = next(iter(live.vendors))
    at.multiselect(key="live_map.vendors").set_value([vendor]).run()
    shown = {d["code"] for d in _layer(at, "drivers")}
    assert shown == set(live.drivers.loc[live.drivers["vendor_id"] == vendor, "code"])


def test_a_refresh_keeps_the_view_and_recentre_changes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    at = on_live_map("priya")
    first = _deck(at)["initialViewState"]
    monkeypatch.setattr("ui.services.now", lambda: APP_NOW + timedelta(seconds=10))  # two ticks later
    at.run()
    assert _deck(at)["initialViewState"] == first
    at.button(key="live_map.recentre").click().run()
    again = _deck(at)["initialViewState"]
    assert again != first and abs(again["zoom"] - first["zoom"]) < 0.001
    at.button(key="live_map.recentre").click().run()
    assert _deck(at)["initialViewState"] != again


def test_the_map_shows_news_within_one_refresh(scratch_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    at = on_live_map("priya")
    before = int(_metrics(at)["Delivered"])
    with unit_of_work(engine_for(scratch_db_url)) as s:
        order_id = s.scalar(
            select(Order.id)
            .where(Order.service_date == TEST_DAY, Order.status == OrderStatus.OUT_FOR_DELIVERY)
            .limit(1)
        )
        s.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(status=OrderStatus.DELIVERED, delivered_at=APP_NOW)
        )
    # One refresh later on the wall clock (the map's cache follows it, not the app's clock).
    later = datetime.now(UTC) + timedelta(seconds=LIVE_REFRESH_S)
    monkeypatch.setattr("ui.services.wall_now", lambda: later)
    at.run()
    assert int(_metrics(at)["Delivered"]) == before + 1


def test_a_plan_change_shows_on_the_next_run_without_waiting_for_the_refresh(
    scratch_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The map's snapshot is one shared object per refresh; a decision clears it (day_changed).
    from ui import services

    frozen = datetime.now(UTC)
    monkeypatch.setattr("ui.services.wall_now", lambda: frozen)  # no refresh tick passes
    at = on_live_map("priya")
    before = int(_metrics(at)["Delivered"])
    at.run()
    assert int(_metrics(at)["Delivered"]) == before
    with unit_of_work(engine_for(scratch_db_url)) as s:
        order_id = s.scalar(
            select(Order.id)
            .where(Order.service_date == TEST_DAY, Order.status == OrderStatus.OUT_FOR_DELIVERY)
            .limit(1)
        )
        s.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(status=OrderStatus.DELIVERED, delivered_at=APP_NOW)
        )
    at.run()  # same refresh: the shared snapshot
    assert int(_metrics(at)["Delivered"]) == before
    services.day_changed()
    at.run()
    assert int(_metrics(at)["Delivered"]) == before + 1


def test_a_forged_vendor_filter_shows_nothing_of_another_vendor(live_app: str) -> None:
    at = on_live_map("jonas")
    viewer = _viewer(live_app, "jonas")
    own = {d["code"] for d in _layer(at, "drivers")}
    at.session_state["live_map.vendors"] = [2 if viewer.vendor_id != 2 else 1]
    at.run()
    assert not at.exception
    assert {d["code"] for d in _layer(at, "drivers")} <= own
    assert isinstance(at.session_state["ct.sign_in"], SignIn) and viewer.role is Role.VENDOR


def test_cached_reads_are_shared_within_a_scope_and_never_across_vendors() -> None:
    from ui.services import _scope

    priya, marcus = Viewer("priya", Role.DISPATCHER, 2), Viewer("marcus", Role.HEAD_OF_LAST_MILE, 3)
    assert _scope(priya) == _scope(marcus)
    a, b = Viewer("jonas", Role.VENDOR, 5, vendor_id=1), Viewer("hudson", Role.VENDOR, 6, vendor_id=2)
    assert _scope(a) != _scope(b) and _scope(a) == _scope(Viewer("jo2", Role.VENDOR, 9, vendor_id=1))
    assert (_scope(a).role, _scope(a).vendor_id) == (Role.VENDOR, 1)
    assert _scope(Viewer("sam", Role.DRIVER, 8, driver_id=3)).driver_id == 3

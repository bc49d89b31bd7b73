"""The live map page on a day under way: the KPI strip is core's, layers hold only what the
viewer may see, filters narrow the layers, and a refresh never moves the map."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from core.access import Viewer
from core.db import engine_for, unit_of_work
from core.kinds import OrderStatus
from core.live import LiveStatus, read_live_map
from core.models import Driver, Fleet, Hub, Order, User
from tests.app.conftest import APP_NOW, TZ, signed_in
from tests.conftest import TEST_DAY
from ui import widgets
from ui.live_feed import STALE_PERIODS
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


def _deliver_an_order(url: str) -> None:
    with unit_of_work(engine_for(url)) as s:
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


def test_the_map_shows_news_a_refresh_later_without_waiting_for_the_read(
    scratch_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = on_live_map("priya")
    before = int(_metrics(at)["Delivered"])
    _deliver_an_order(scratch_db_url)
    at.run()
    assert int(_metrics(at)["Delivered"]) == before  # within a refresh: the snapshot stands
    # A refresh later on the wall clock (the map's, not the app's): that run still shows the
    # snapshot it has and reads the day behind the viewer; a later run shows the news.
    later = datetime.now(UTC) + timedelta(seconds=LIVE_REFRESH_S)
    monkeypatch.setattr("ui.services.wall_now", lambda: later)
    at.run()
    assert int(_metrics(at)["Delivered"]) == before  # shown at once, from the snapshot it had
    deadline = time.monotonic() + 30
    while int(_metrics(at)["Delivered"]) == before and time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()
    assert int(_metrics(at)["Delivered"]) == before + 1


def test_a_map_not_read_for_a_while_is_read_before_it_is_shown(
    scratch_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = on_live_map("priya")
    before = int(_metrics(at)["Delivered"])
    _deliver_an_order(scratch_db_url)
    later = datetime.now(UTC) + timedelta(seconds=STALE_PERIODS * LIVE_REFRESH_S)
    monkeypatch.setattr("ui.services.wall_now", lambda: later)
    at.run()
    assert int(_metrics(at)["Delivered"]) == before + 1

"""The fleet-mix page on the seeded history: numbers are core's, charts hold the groups, the
drill-down shows the drivers behind a group, and only operations roles may open it."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.access import Viewer
from core.db import engine_for, unit_of_work
from core.kpi import KPIS, TOTAL, daily_kpis, kpis
from core.models import User
from core.report import format_value
from tests.app.conftest import signed_in
from tests.conftest import TEST_DAY
from ui import charts, maps

PAGE = "fleet_mix.py"
YESTERDAY = TEST_DAY - timedelta(days=1)
MONTH = (TEST_DAY - timedelta(days=30), YESTERDAY)


def _viewer(url: str, username: str) -> Viewer:
    with unit_of_work(engine_for(url), read_only=True) as s:
        u = s.scalar(select(User).where(User.username == username))
        assert u is not None
        return Viewer(u.username, u.role, u.id, u.vendor_id, u.driver_id)


def _core(url: str, by: str, start: date, end: date, **where: str) -> pd.DataFrame:
    with unit_of_work(engine_for(url), read_only=True) as s:
        return kpis(s, _viewer(url, "marcus"), by, start, end, where=where or None)


def _figure(at: AppTest, index: int) -> dict[str, Any]:
    return json.loads(at.get("plotly_chart")[index].proto.spec)  # type: ignore[no-any-return]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _open(username: str = "marcus") -> AppTest:
    at = signed_in(username)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_panels_compare_the_fleet_types_on_yesterday_with_core_numbers(app_db_url: str) -> None:
    at = _open()
    core = _core(app_db_url, "fleet_type", YESTERDAY, YESTERDAY).set_index("fleet_type")
    comparison = _figure(at, 0)
    bars = [t for t in comparison["data"] if t["type"] == "bar"]
    labels = {maps.FLEET_LABELS[f] for f in core.index if f != TOTAL}
    assert {t["name"] for t in bars} == labels == {"captive", "3PL", "gig"}
    # The first panel is on-time, in percent: each fleet type's bar is core's rate x 100.
    for trace in bars[: len(labels)]:
        fleet = next(f for f in core.index if maps.FLEET_LABELS.get(f) == trace["name"])
        assert trace["y"] == [pytest.approx(core.at[fleet, "on_time_rate"] * 100)]
    assert comparison["layout"]["annotations"][0]["text"] == KPIS["on_time_rate"].label
    table = at.dataframe[0].value
    assert list(table["orders"]) == list(core["orders"])
    assert table["on_time_rate"].tolist() == pytest.approx((core["on_time_rate"] * 100).tolist())
    assert table["failed_cost_cents"].tolist() == pytest.approx((core["failed_cost_cents"] / 100).tolist())


def test_the_drill_down_tiles_and_drivers_are_cores_for_the_chosen_group(app_db_url: str) -> None:
    at = _open()
    core = _core(app_db_url, "fleet_type", YESTERDAY, YESTERDAY).set_index("fleet_type")
    assert at.selectbox(key="fleet_mix.drill_fleet_type").value == "captive"
    shown = _metrics(at)
    for name in charts.HEADLINE_KPIS:
        assert shown[KPIS[name].label] == format_value(name, core.at["captive", name])
    assert [m.help for m in at.metric if m.label == "On time"] == [KPIS["on_time_rate"].definition]
    at.selectbox(key="fleet_mix.drill_fleet_type").select("gig").run()
    assert _metrics(at)["On time"] == format_value("on_time_rate", core.at["gig", "on_time_rate"])
    drivers = _core(app_db_url, "driver", YESTERDAY, YESTERDAY, fleet_type="gig")
    shown_drivers = at.dataframe[1].value
    assert list(shown_drivers["driver"]) == [d for d in drivers["driver"] if d != TOTAL]
    assert all(d.startswith("G-") for d in shown_drivers["driver"])


def test_last_30_days_by_vendor_with_the_trend_by_day(app_db_url: str) -> None:
    at = _open()
    at.segmented_control(key="fleet_mix.period").set_value("last_30_days").run()
    at.segmented_control(key="fleet_mix.by").set_value("vendor").run()
    assert not at.exception
    core = _core(app_db_url, "vendor", *MONTH)
    names = set(core.loc[core["vendor"] != TOTAL, "vendor_name"])
    assert names == {"Captive fleet", "Metro Parcel Partners", "Hudson Logistics", "DashDrop"}
    assert {t["name"] for t in _figure(at, 0)["data"]} == names
    assert list(at.dataframe[0].value["orders"]) == list(core["orders"])
    with unit_of_work(engine_for(app_db_url), read_only=True) as s:
        daily = daily_kpis(s, _viewer(app_db_url, "marcus"), *MONTH, by="vendor")
    trend = {t["name"]: t for t in _figure(at, 1)["data"]}
    mpp = daily[daily["vendor"] == "MPP"].sort_values("day")
    assert trend["Metro Parcel Partners"]["x"] == list(mpp["day"])
    assert trend["Metro Parcel Partners"]["y"] == pytest.approx(list(mpp["on_time_rate"] * 100))
    at.selectbox(key="fleet_mix.drill_vendor").select("MPP").run()
    shown_drivers = at.dataframe[1].value
    mpp_drivers = _core(app_db_url, "driver", *MONTH, vendor="MPP")
    assert list(shown_drivers["driver"]) == [d for d in mpp_drivers["driver"] if d != TOTAL]


def test_the_hub_filter_narrows_every_number(app_db_url: str) -> None:
    at = _open()
    at.selectbox(key="frame.hub").select("BRX").run()
    core = _core(app_db_url, "fleet_type", YESTERDAY, YESTERDAY, hub="BRX")
    assert list(at.dataframe[0].value["orders"]) == list(core["orders"])
    assert "hub BRX" in " ".join(c.value for c in at.caption)


def test_every_kpi_definition_is_one_click_away() -> None:
    at = _open()
    text = " ".join(m.value for m in at.markdown)
    assert all(d.definition in text for d in KPIS.values())
    assert at.download_button(key="fleet_mix.download_table").label == "Download table (CSV)"


@pytest.mark.parametrize("username", ["jonas", "sam"])
def test_vendors_and_drivers_cannot_open_it(username: str) -> None:
    at = signed_in(username)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)
    assert not [c for c in at.get("plotly_chart") if str(c.key).startswith("fleet_mix.")]
    assert not [w for w in at.selectbox if str(w.key).startswith("fleet_mix.")]


def test_a_custom_range_is_cores_and_a_range_without_routes_says_so(app_db_url: str) -> None:
    at = _open()
    at.segmented_control(key="fleet_mix.period").set_value("custom").run()
    two_days = (TEST_DAY - timedelta(days=2), YESTERDAY)
    at.date_input(key="fleet_mix.days").set_value(two_days).run()
    assert not at.exception
    core = _core(app_db_url, "fleet_type", *two_days)
    assert list(at.dataframe[0].value["orders"]) == list(core["orders"])
    before = (TEST_DAY - timedelta(days=60), TEST_DAY - timedelta(days=40))
    at.date_input(key="fleet_mix.days").set_value(before).run()
    assert [i.value for i in at.info] == ["No routes on 28 Sep 2026 to 18 Oct 2026 in all hubs."]
    assert not at.get("plotly_chart") and not at.dataframe

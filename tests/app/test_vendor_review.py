"""The vendor review page: the scorecard is core's, a vendor lands on its own and sees no other
vendor's name, operations pick any vendor, and a visitor sees only the login."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.access import Viewer
from core.db import engine_for, unit_of_work
from core.kpi import KPIS
from core.models import User
from core.report import format_change, format_share, format_value
from core.scorecard import Scorecard, scorecard, vendor_by_code
from tests.app.conftest import APP, signed_in
from tests.conftest import TEST_DAY

PAGE = "vendor_review.py"
MONTH = (TEST_DAY - timedelta(days=30), TEST_DAY - timedelta(days=1))
OTHERS = ("Hudson", "DashDrop", "HUD", "DASH")


def _viewer(url: str, username: str) -> Viewer:
    with unit_of_work(engine_for(url), read_only=True) as s:
        u = s.scalar(select(User).where(User.username == username))
        assert u is not None
        return Viewer(u.username, u.role, u.id, u.vendor_id, u.driver_id)


def _card(url: str, username: str, code: str, days: int = 30) -> Scorecard:
    with unit_of_work(engine_for(url), read_only=True) as s:
        return scorecard(
            s,
            _viewer(url, username),
            vendor_by_code(s, code),
            TEST_DAY - timedelta(days=days),
            TEST_DAY - timedelta(days=1),
            compliance_day=TEST_DAY,
        )


def _everything_shown(at: AppTest) -> str:
    """Every piece of text the page rendered: headings, tiles, tables, chart specs, options."""
    parts = [e.value for kind in ("markdown", "caption", "subheader", "title") for e in at.get(kind)]
    parts += [f"{m.label} {m.value} {m.help}" for m in at.metric]
    parts += [json.dumps(d.value.to_dict("list"), default=str) for d in at.dataframe]
    parts += [c.proto.spec for c in at.get("plotly_chart")]
    parts += [" ".join(map(str, w.options)) for w in at.selectbox]
    return "\n".join(parts)


def test_a_vendor_lands_on_its_own_scorecard_and_sees_no_other_vendor(app_db_url: str) -> None:
    at = signed_in("jonas")  # no switch_page: the vendor's landing page
    card = _card(app_db_url, "jonas", "MPP")
    assert [s.value for s in at.subheader] == ["Metro Parcel Partners scorecard"]
    assert not [w for w in at.selectbox if w.key == "vendor_review.vendor"]  # no vendor choice
    shown = _everything_shown(at)
    assert "Metro Parcel Partners" in shown
    assert not [word for word in OTHERS if word in shown]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Compliant"] == format_share(card.compliance.compliant_share)
    ranks = [m.value for m in at.metric][6 : 6 + len(card.ranks)]
    assert ranks == [
        f"{r.rank}{'st' if r.rank == 1 else 'nd' if r.rank == 2 else 'rd'} of {r.of}"
        if r.rank is not None
        else "not ranked"
        for r in card.ranks
    ]
    assert "2nd of 3" in ranks  # on-time: MPP is second of the three vendors
    assert {b.label for b in at.get("download_button")} == {"Download CSV", "Download report (HTML)"}


def test_a_forged_vendor_choice_still_shows_only_the_own_scorecard(app_db_url: str) -> None:
    at = signed_in("jonas")
    with unit_of_work(engine_for(app_db_url), read_only=True) as s:
        hudson = vendor_by_code(s, "HUD")
    at.session_state["vendor_review.vendor"] = hudson  # what a crafted request could carry
    at.run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Metro Parcel Partners scorecard"]
    assert not [word for word in OTHERS if word in _everything_shown(at)]


def test_the_scorecard_tiles_and_table_are_cores(app_db_url: str) -> None:
    at = signed_in("marcus")
    at.switch_page(PAGE).run()
    assert not at.exception
    at.selectbox(key="vendor_review.vendor").select_index(
        at.selectbox(key="vendor_review.vendor").options.index("Metro Parcel Partners")
    ).run()
    card = _card(app_db_url, "marcus", "MPP")
    tiles = at.metric[:6]
    for tile, name in zip(
        tiles,
        (
            "orders",
            "on_time_rate",
            "first_attempt_rate",
            "failed_cost_cents",
            "cost_per_drop_cents",
            "cost_per_delivered_cents",
        ),
        strict=True,
    ):
        trend = card.kpi(name)
        assert (tile.label, tile.value) == (KPIS[name].label, format_value(name, trend.value))
        assert tile.help.startswith(KPIS[name].definition)
    table = at.dataframe[1].value
    assert list(table["this period"]) == [format_value(k.name, k.value) for k in card.kpis]
    assert list(table["change"]) == [format_change(k) for k in card.kpis]
    reasons = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]
    assert dict(zip(reasons["y"], reasons["x"], strict=True)) == {
        r.replace("_", " "): n for r, n in card.exceptions_by_reason
    }


def test_operations_pick_any_vendor_and_the_period(app_db_url: str) -> None:
    at = signed_in("aisha")
    at.switch_page(PAGE).run()
    select_vendor = at.selectbox(key="vendor_review.vendor")
    assert select_vendor.options == ["DashDrop", "Hudson Logistics", "Metro Parcel Partners"]
    select_vendor.select_index(1).run()
    at.segmented_control(key="vendor_review.period").set_value(7).run()
    assert not at.exception
    card = _card(app_db_url, "aisha", "HUD", days=7)
    assert [s.value for s in at.subheader] == ["Hudson Logistics scorecard"]
    assert at.metric[1].value == format_value("on_time_rate", card.kpi("on_time_rate").value)
    assert f"{card.start:%d %b} to {card.end:%d %b %Y}" in at.caption[0].value


def test_a_driver_cannot_open_it_and_a_visitor_sees_only_the_login() -> None:
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        signed_in("sam").switch_page(PAGE)
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Control Tower"]
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")
    assert not at.get("download_button")


def test_a_previous_period_without_deliveries_says_no_earlier_data_instead_of_a_change(
    app_db_url: str,
) -> None:
    at = signed_in("jonas")  # the last 30 days; the history holds 3 days, so the 30 before are empty
    assert not _card(app_db_url, "jonas", "MPP").has_previous
    assert "against no earlier data" in at.caption[0].value
    assert [m.delta for m in at.metric[:6]] == [""] * 6  # no "+5,988 orders" against zero
    assert set(at.dataframe[1].value["previous period"]) == {"no earlier data"}
    at.segmented_control(key="vendor_review.period").set_value(1).run()  # yesterday against the day before
    assert _card(app_db_url, "jonas", "MPP", days=1).has_previous
    assert "no earlier data" not in at.caption[0].value
    assert at.metric[0].delta

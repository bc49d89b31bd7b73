"""The compliance page: every driver's status and reasons as core judges them, filters that are
core's, today's hours-of-service headroom, expiring documents, and a vendor sees its own only."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.access import Viewer
from core.compliance import ComplianceStatus, DriverCompliance, compliance_report, duration_text
from core.db import engine_for, unit_of_work
from core.models import Driver, Fleet, User
from tests.app.conftest import APP, signed_in
from tests.conftest import TEST_DAY
from ui import maps

PAGE = "compliance.py"


def _viewer(url: str, username: str) -> Viewer:
    with unit_of_work(engine_for(url), read_only=True) as s:
        u = s.scalar(select(User).where(User.username == username))
        assert u is not None
        return Viewer(u.username, u.role, u.id, u.vendor_id, u.driver_id)


def _core(url: str, username: str, **filters: Any) -> list[DriverCompliance]:
    with unit_of_work(engine_for(url), read_only=True) as s:
        return compliance_report(s, _viewer(url, username), TEST_DAY, **filters)


def _open(username: str) -> AppTest:
    at = signed_in(username)
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _expected_tiles(report: list[DriverCompliance]) -> dict[str, str]:
    counts = Counter(r.status for r in report)
    return {
        "Drivers": f"{len(report):,}",
        "Compliant": f"{counts[ComplianceStatus.COMPLIANT]:,}",
        "Warning": f"{counts[ComplianceStatus.WARNING]:,}",
        "Blocked": f"{counts[ComplianceStatus.BLOCKED]:,}",
    }


def test_every_driver_with_status_and_reasons_as_core_judges_them(app_db_url: str) -> None:
    at = _open("aisha")
    report = _core(app_db_url, "aisha")
    assert {r.status for r in report} == set(ComplianceStatus)  # the seed has all three
    assert _tiles(at) == _expected_tiles(report)
    table = at.dataframe[0].value
    assert list(table["driver"]) == [r.driver_code for r in report]
    assert list(table["status"]) == [str(r.status) for r in report]
    assert list(table["reasons"]) == ["; ".join(r.reasons) for r in report]
    assert list(table["headroom_today"]) == [duration_text(r.headroom_today_s) for r in report]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {tuple(t["x"]) for t in spec["data"]} == {("captive", "3PL", "gig")}
    by_status = {t["name"]: dict(zip(t["x"], t["y"], strict=True)) for t in spec["data"]}
    assert by_status["blocked"][maps.FLEET_LABELS["captive"]] == sum(
        1 for r in report if r.status is ComplianceStatus.BLOCKED and r.fleet_type == "captive"
    )


def test_filters_by_vendor_region_and_status_are_cores(app_db_url: str) -> None:
    at = _open("aisha")
    at.selectbox(key="compliance.vendor").select("MPP").run()
    at.selectbox(key="compliance.region").select("NY").run()
    scoped = _core(app_db_url, "aisha", vendor="MPP", region="NY")
    assert scoped and _tiles(at) == _expected_tiles(scoped)
    assert list(at.dataframe[0].value["driver"]) == [r.driver_code for r in scoped]
    at.selectbox(key="compliance.status").select(ComplianceStatus.WARNING).run()
    warned = _core(app_db_url, "aisha", vendor="MPP", region="NY", status="warning")
    assert warned and list(at.dataframe[0].value["driver"]) == [r.driver_code for r in warned]
    assert _tiles(at) == _expected_tiles(scoped)  # the tiles still count every status


def test_documents_expiring_within_30_days_soonest_first(app_db_url: str) -> None:
    at = _open("aisha")
    report = _core(app_db_url, "aisha")
    expected = sorted(
        (on, r.driver_code, str(kind).replace("_", " ")) for r in report for kind, on in r.expiring
    )
    assert expected and all(0 <= (on - TEST_DAY).days <= 30 for on, _, _ in expected)
    expiring = at.dataframe[1].value
    assert [
        (d, c, k)
        for d, c, k in zip(expiring["expires_on"], expiring["driver"], expiring["document"], strict=True)
    ] == expected


def test_headroom_today_on_a_day_under_way(live_app: str) -> None:
    at = _open("priya")
    report = _core(live_app, "priya")
    driving = [r for r in report if r.driving_today_s > 0]
    assert driving  # routes are under way at 10:40
    table = at.dataframe[0].value.set_index("driver")
    for r in driving:
        assert table.at[r.driver_code, "driving_today"] == duration_text(r.driving_today_s)
        assert table.at[r.driver_code, "headroom_today"] == duration_text(r.headroom_today_s)


def test_a_vendor_sees_exactly_its_own_drivers(app_db_url: str) -> None:
    at = _open("jonas")
    viewer = _viewer(app_db_url, "jonas")
    with unit_of_work(engine_for(app_db_url), read_only=True) as s:
        own = set(
            s.scalars(
                select(Driver.code)
                .join(Fleet, Driver.fleet_id == Fleet.id)
                .where(Fleet.vendor_id == viewer.vendor_id)
            )
        )
    table = at.dataframe[0].value
    assert own and set(table["driver"]) == own
    assert set(table["vendor"]) == {"MPP"}
    assert at.selectbox(key="compliance.vendor").options == ["All", "MPP"]
    assert _tiles(at) == _expected_tiles(_core(app_db_url, "jonas"))
    assert set(at.dataframe[1].value["driver"]) <= own
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {x for t in spec["data"] for x in t["x"]} == {"3PL"}
    shown = json.dumps([d.value.to_dict("list") for d in at.dataframe], default=str)
    assert not any(word in shown for word in ("HUD", "DASH", "Hudson", "DashDrop", "C-0", "G-0"))


def test_a_driver_cannot_open_it_and_a_visitor_sees_only_the_login() -> None:
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        signed_in("sam").switch_page(PAGE)
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Control Tower"]
    assert not at.metric and not at.dataframe and not at.get("plotly_chart")

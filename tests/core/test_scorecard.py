"""Vendor scorecards: same numbers as the KPI table, own vendor only, bare ranks, clean exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import asdict, fields
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from core.access import SYSTEM, Viewer
from core.cli import main
from core.errors import AccessDeniedError
from core.kinds import Role
from core.kpi import KPIS, TOTAL, kpis
from core.models import User, Vendor
from core.report import format_value, scorecard_html
from core.scorecard import (
    RankView,
    ScorecardError,
    previous_period,
    scorecard,
    scorecard_csv,
    vendor_by_code,
)
from tests.conftest import TEST_DAY, settings_pointing_at
from tests.core.test_kpi import D, build_world

PERIOD = (TEST_DAY - timedelta(days=2), TEST_DAY - timedelta(days=1))


def _vendor_viewer(session: Session, username: str) -> Viewer:
    user = session.scalars(select(User).where(User.username == username)).one()
    return Viewer(username, Role.VENDOR, vendor_id=user.vendor_id)


def _other_vendors(session: Session, vendor_id: int) -> list[Vendor]:
    return list(session.scalars(select(Vendor).where(Vendor.id != vendor_id)))


def test_previous_period_has_the_same_length() -> None:
    assert previous_period(date(2026, 11, 13), date(2026, 11, 26)) == (date(2026, 10, 30), date(2026, 11, 12))


def test_hand_built_scorecard_rate_card_rank_and_compliance(db: Session) -> None:
    world = build_world(db)
    card = scorecard(db, SYSTEM, world["vendors"]["V3"].id, D, D)
    # t1 on D: 4 orders, 3 delivered, all on time; route R2 = max(4 x $5, $20) = $20 for 4 drops
    assert (card.kpi("orders").value, card.kpi("on_time_rate").value) == (4, 1.0)
    # the day before had no work: no earlier data, not a change from zero orders
    assert card.kpi("orders").previous is None and card.kpi("orders").change is None
    assert not card.has_previous
    [rate_card] = card.rate_cards
    assert (rate_card.contract_per_drop_cents, rate_card.cost_per_drop_cents) == (500, 500)
    assert rate_card.drops == 4
    # V3 against VG: on time 1.0 vs 0.5, cost per delivered $6.67 vs $15.50: first of two.
    ranks = {r.kpi: (r.rank, r.of) for r in card.ranks}
    assert ranks["on_time_rate"] == (1, 2) and ranks["cost_per_delivered_cents"] == (1, 2)
    assert card.exceptions_by_reason == (("access_issue", 1),)
    # t1 has no documents: blocked, with four missing documents as open violations.
    assert (card.compliance.drivers, card.compliance.blocked) == (1, 1)
    assert card.compliance.compliant_share == 0.0 and card.compliance.open_violations == 4


def test_vendor_viewer_gets_its_own_numbers(seeded_db: Session) -> None:
    viewer = _vendor_viewer(seeded_db, "jonas")
    assert viewer.vendor_id is not None
    card = scorecard(seeded_db, viewer, viewer.vendor_id, *PERIOD)
    table = kpis(seeded_db, SYSTEM, "vendor", *PERIOD)
    mine = table[table["vendor"] == card.vendor_code].to_dict("records")[0]
    for name in KPIS:
        value = card.kpi(name).value
        assert value == pytest.approx(mine[name]) if value is not None else mine[name] != mine[name]
    before = kpis(seeded_db, SYSTEM, "vendor", *previous_period(*PERIOD))
    prev = before[before["vendor"] == card.vendor_code].to_dict("records")[0]
    assert card.kpi("orders").previous == prev["orders"] > 0
    assert card.kpi("orders").change == mine["orders"] - prev["orders"]


def test_vendor_viewer_asking_for_another_vendor_is_refused(seeded_db: Session) -> None:
    viewer = _vendor_viewer(seeded_db, "jonas")
    assert viewer.vendor_id is not None
    for other in _other_vendors(seeded_db, viewer.vendor_id):
        with pytest.raises(AccessDeniedError, match="its own vendor"):
            scorecard(seeded_db, viewer, other.id, *PERIOD)
    with pytest.raises(AccessDeniedError):  # a vendor id that does not exist: refused, not told
        scorecard(seeded_db, viewer, 10_000, *PERIOD)
    driver = Viewer("sam", Role.DRIVER, driver_id=1)
    with pytest.raises(AccessDeniedError):
        scorecard(seeded_db, driver, viewer.vendor_id, *PERIOD)


def test_rank_payload_holds_no_other_vendor(seeded_db: Session) -> None:
    viewer = _vendor_viewer(seeded_db, "jonas")
    assert viewer.vendor_id is not None
    card = scorecard(seeded_db, viewer, viewer.vendor_id, *PERIOD)
    assert {f.name for f in fields(RankView)} == {"kpi", "rank", "of"}
    assert all(r.of == 3 and r.rank is not None and 1 <= r.rank <= 3 for r in card.ranks)
    exported = "\n".join([repr(asdict(card)), scorecard_csv(card), scorecard_html(card)])
    for other in _other_vendors(seeded_db, viewer.vendor_id):
        assert other.name not in exported and other.code not in exported


def test_html_report_is_self_contained(seeded_db: Session) -> None:
    card = scorecard(seeded_db, SYSTEM, vendor_by_code(seeded_db, "HUD"), *PERIOD)
    page = scorecard_html(card)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"https?://|<script|<link|<img|@import|url\(", page)
    assert "Hudson Logistics" in page
    for name in ("on_time_rate", "first_attempt_rate", "failed_cost_cents", "cost_per_drop_cents"):
        assert KPIS[name].label in page
        assert format_value(name, card.kpi(name).value) in page


def test_csv_export_has_every_kpi(seeded_db: Session) -> None:
    card = scorecard(seeded_db, SYSTEM, vendor_by_code(seeded_db, "DASH"), *PERIOD)
    rows = list(csv.DictReader(io.StringIO(scorecard_csv(card))))
    assert {r["name"] for r in rows if r["section"] == "kpi"} == set(KPIS)
    assert any(r["section"] == "compliance" and r["name"] == "compliant_share" for r in rows)


def test_unknown_vendor_code_is_a_readable_error(seeded_db: Session) -> None:
    with pytest.raises(ScorecardError, match="no vendor with code 'NOPE'"):
        vendor_by_code(seeded_db, "NOPE")


@pytest.fixture
def cli_on_seeded(seeded_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from settings_pointing_at(seeded_engine.url.render_as_string(hide_password=False), monkeypatch)


def test_cli_scorecard_writes_a_self_contained_html_file(
    cli_on_seeded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mpp.html"
    start, end = (d.isoformat() for d in PERIOD)
    assert (
        main(
            [
                "scorecard",
                "--vendor",
                "MPP",
                "--from",
                start,
                "--to",
                end,
                "--format",
                "html",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    page = out.read_text()
    assert "Metro Parcel Partners" in page and "http" not in page
    assert main(["scorecard", "--vendor", "MPP", "--from", start, "--to", end]) == 0
    assert "rank among vendors" in capsys.readouterr().out
    assert main(["scorecard", "--vendor", "NOPE"]) == 1
    assert "no vendor with code" in capsys.readouterr().err


def test_cli_kpis_csv_header_has_the_required_columns(
    cli_on_seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    start, end = (d.isoformat() for d in PERIOD)
    assert main(["kpis", "--by", "fleet_type", "--from", start, "--to", end, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split(",")
    for column in (
        "on_time_rate",
        "first_attempt_rate",
        "failed",
        "failed_cost",
        "cost_per_delivered",
        "stops_per_driver_hour",
        "utilisation",
        "co2_kg_per_delivered",
        "workload_cv",
    ):
        assert column in header
    assert [line.split(",")[0] for line in lines[1:]] == ["captive", "gig", "third_party", TOTAL]


def test_cli_compliance_filters(cli_on_seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compliance", "--date", TEST_DAY.isoformat(), "--vendor", "HUD", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and {r["vendor"] for r in rows} == {"HUD"}
    assert main(["compliance", "--date", TEST_DAY.isoformat(), "--region", "NJ", "--status", "blocked"]) == 0
    assert "drivers on" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["kpis", "compliance", "scorecard"])
def test_report_commands_have_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: ctower " + command in capsys.readouterr().out


def test_cli_kpis_can_pick_kpis(cli_on_seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    start, end = (d.isoformat() for d in PERIOD)
    assert (
        main(
            [
                "kpis",
                "--by",
                "vendor",
                "--from",
                start,
                "--to",
                end,
                "--format",
                "csv",
                "--kpi",
                "on_time_rate",
                "--kpi",
                "failed_cost_cents",
            ]
        )
        == 0
    )
    header = capsys.readouterr().out.splitlines()[0]
    assert header == "vendor,vendor_name,on_time_rate,failed_cost"

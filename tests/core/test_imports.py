"""CSV import: every bad line is reported with its line, field and reason, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ImportRejectedError, RowError
from core.imports import import_drivers, import_orders
from core.kinds import OrderStatus, SlaKind
from core.models import Driver, Order, Vehicle

DATA = Path(__file__).resolve().parents[2] / "data"
HEADER = "external_ref,hub,address,lat,lon,window_start,window_end,parcels,weight_kg,required_skills"
GOOD = "R-1,BKN,1 Court St,40.6900,-73.9930,2026-11-28T10:00:00-05:00,2026-11-28T12:00:00-05:00,1,2.5,"
DRIVER_HEADER = (
    "code,name,fleet,hub,shift_start,shift_end,vehicle_type,capacity_parcels,capacity_kg,capacity_l"
)
GOOD_DRIVER = "C-990,Ana Kim,CAPTIVE,BKN,08:00,18:00,van,140,1100,10000"


def _orders(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Order)) or 0)


def _rejected(session: Session, data: str | bytes) -> list[RowError]:
    before = _orders(session)
    with pytest.raises(ImportRejectedError) as info:
        import_orders(session, data)
    assert _orders(session) == before, "a refused import must write nothing"
    return info.value.errors


def test_valid_file_imports_every_row(seeded_db: Session) -> None:
    second = GOOD.replace("R-1", "R-2").replace("12:00:00", "18:00:00")
    result = import_orders(seeded_db, f"{HEADER}\n{GOOD}\n{second}\n")
    assert result.rows == 2
    rows = {o.external_ref: o for o in seeded_db.scalars(select(Order).where(Order.external_ref.like("R-%")))}
    assert rows["R-1"].status is OrderStatus.UNASSIGNED
    assert rows["R-1"].sla_kind is SlaKind.TWO_HOUR and rows["R-2"].sla_kind is SlaKind.SAME_DAY
    assert rows["R-1"].window_start_at.hour == 15  # 10:00 at -05:00 is 15:00 UTC
    assert rows["R-1"].weight_g == 2500
    assert rows["R-1"].zone != "unzoned"  # nearest known zone of the hub


def test_sample_files_import_cleanly(seeded_db: Session) -> None:
    assert import_orders(seeded_db, DATA / "sample_orders.csv").rows == 40
    assert import_drivers(seeded_db, DATA / "sample_drivers.csv").rows == 5


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (GOOD.replace("40.6900", "140.0"), "lat", "less than or equal to 90"),
        (GOOD.replace("-73.9930", "-3.0"), "lat/lon", "km from hub BKN"),
        (GOOD.replace("12:00:00", "09:00:00"), "row", "is not after window_start"),
        (GOOD.replace("BKN", "XYZ"), "hub", "unknown hub 'XYZ'"),
        (GOOD.replace(",1,2.5,", ",0,2.5,"), "parcels", "greater than or equal to 1"),
        (GOOD.replace(",1,2.5,", ",one,2.5,"), "parcels", "valid integer"),
        (GOOD.replace("2026-11-28T10", "28/11/2026 10"), "window_start", "datetime"),
        (GOOD + "teleport", "required_skills", "unknown skill(s) teleport"),
        (GOOD + ",extra", "row", "more values than columns"),
        (GOOD.replace("R-1", ""), "external_ref", "a value is required"),
    ],
)
def test_bad_row_is_named_and_nothing_written(seeded_db: Session, line: str, field: str, reason: str) -> None:
    errors = _rejected(seeded_db, f"{HEADER}\n{GOOD.replace('R-1', 'R-0')}\n{line}\n")
    assert [(e.line, e.field) for e in errors] == [(3, field)]
    assert reason in errors[0].message


def test_duplicate_reference_in_file_names_both_lines(seeded_db: Session) -> None:
    errors = _rejected(seeded_db, f"{HEADER}\n{GOOD}\n{GOOD}\n")
    assert [(e.line, e.field) for e in errors] == [(3, "external_ref")]
    assert "repeats line 2" in errors[0].message


def test_reference_already_in_database_is_refused(seeded_db: Session) -> None:
    existing = seeded_db.scalar(select(Order.external_ref).limit(1))
    errors = _rejected(seeded_db, f"{HEADER}\n{GOOD.replace('R-1', str(existing))}\n")
    assert errors[0].field == "external_ref" and "already exists" in errors[0].message


def test_missing_column_is_reported_on_the_header(seeded_db: Session) -> None:
    header = HEADER.replace(",lon", "")
    line = GOOD.replace(",-73.9930", "")
    errors = _rejected(seeded_db, f"{header}\n{line}\n")
    assert [(e.line, e.field, e.message) for e in errors] == [(1, "lon", "missing column")]


def test_wrong_encoding_names_the_line(seeded_db: Session) -> None:
    data = f"{HEADER}\n{GOOD}\n".encode() + "R-2,BKN,Caf\u00e9 St".encode("latin-1") + b",40.69\n"
    errors = _rejected(seeded_db, data)
    assert [(e.line, e.field) for e in errors] == [(3, "file")]
    assert "UTF-8" in errors[0].message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (f"{HEADER}\n".encode(), "header but no rows"),
    ],
)
def test_empty_file_is_refused(seeded_db: Session, data: bytes, message: str) -> None:
    errors = _rejected(seeded_db, data)
    assert message in errors[0].message


def test_every_bad_line_is_reported_not_just_the_first(seeded_db: Session) -> None:
    bad1 = GOOD.replace("R-1", "R-2").replace("BKN", "NOPE")
    bad2 = GOOD.replace("R-1", "R-3").replace("40.6900", "x")
    errors = _rejected(seeded_db, f"{HEADER}\n{GOOD}\n{bad1}\n{bad2}\n")
    assert [e.line for e in errors] == [3, 4]


def test_bad_driver_rows_are_refused_whole(seeded_db: Session) -> None:
    drivers = seeded_db.scalar(select(func.count()).select_from(Driver))
    vehicles = seeded_db.scalar(select(func.count()).select_from(Vehicle))
    bad_fleet = GOOD_DRIVER.replace("C-990", "C-991").replace("CAPTIVE", "ACME")
    reversed_shift = GOOD_DRIVER.replace("C-990", "C-992").replace("08:00,18:00", "18:00,08:00")
    with pytest.raises(ImportRejectedError) as info:
        import_drivers(
            seeded_db, f"{DRIVER_HEADER}\n{GOOD_DRIVER}\n{bad_fleet}\n{reversed_shift}\n{GOOD_DRIVER}\n"
        )
    found = {(e.line, e.field) for e in info.value.errors}
    assert found == {(3, "fleet"), (4, "row"), (5, "code"), (5, "vehicle_registration")}
    assert seeded_db.scalar(select(func.count()).select_from(Driver)) == drivers
    assert seeded_db.scalar(select(func.count()).select_from(Vehicle)) == vehicles


def test_valid_driver_row_creates_driver_and_vehicle(seeded_db: Session) -> None:
    assert import_drivers(seeded_db, f"{DRIVER_HEADER}\n{GOOD_DRIVER}\n").rows == 1
    driver = seeded_db.scalars(select(Driver).where(Driver.code == "C-990")).one()
    assert driver.vehicle is not None and driver.vehicle.capacity_g == 1_100_000


CELL = hs.text(alphabet=hs.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=hs.lists(hs.lists(CELL, min_size=1, max_size=12), max_size=4))
def test_any_csv_gives_orders_or_row_errors_never_a_crash(seeded_db: Session, rows: list[list[str]]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER.split(","))
    writer.writerows(rows)
    try:
        seeded_db.begin_nested()
        import_orders(seeded_db, out.getvalue())
    except ImportRejectedError as exc:
        assert exc.errors and all(e.line >= 1 for e in exc.errors)
    finally:
        seeded_db.rollback()

"""CSV import: every bad line is reported with its line, field and reason, and nothing is written."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
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


def _order_line(
    ref: str = "R-9", start: str = "2026-11-28T10:00:00", end: str = "2026-11-28T12:00:00"
) -> str:
    return f"{ref},BKN,1 Court St,40.6900,-73.9930,{start},{end},1,2.5,"


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (_order_line(ref="R-" + "x" * 1_000_000), "row", "longer than 131,072 characters"),
        (_order_line(start="9999-12-31T22:00:00", end="9999-12-31T23:30:00"), "window_start", "year 9999"),
        (_order_line(start="0001-01-01T00:10:00", end="0001-01-01T01:00:00"), "window_start", "year 1"),
        (
            _order_line(start="2026-03-08T02:30:00", end="2026-03-08T03:30:00"),
            "window_start",
            "does not exist",
        ),
        (
            _order_line(start="2026-11-01T01:30:00", end="2026-11-01T03:00:00"),
            "window_start",
            "happens twice",
        ),
        (_order_line(start="2026-11-01T00:30:00", end="2026-11-01T01:15:00"), "window_end", "happens twice"),
        (_order_line(ref="R-\x00"), "external_ref", "NUL byte"),
        (_order_line().replace("1 Court St", "1 Court\x00St"), "address", "NUL byte"),
    ],
)
def test_hostile_values_become_row_errors_on_both_stores(
    seeded_db: Session, line: str, field: str, reason: str
) -> None:
    errors = _rejected(seeded_db, f"{HEADER}\n{line}\n")
    assert {e.line for e in errors} == {2}
    assert reason in next(e.message for e in errors if e.field == field)


def test_a_local_time_that_a_clock_change_skips_or_repeats_imports_with_its_offset(
    seeded_db: Session,
) -> None:
    data = "\n".join(
        [
            HEADER,
            _order_line("R-gap", "2026-03-08T03:30:00-04:00", "2026-03-08T04:30:00-04:00"),
            _order_line("R-twice", "2026-11-01T01:30:00-05:00", "2026-11-01T03:00:00-05:00"),
        ]
    )
    assert import_orders(seeded_db, data).rows == 2


def test_a_driver_code_too_long_to_make_a_registration_is_refused(seeded_db: Session) -> None:
    code = "C-" + "9" * 30
    with pytest.raises(ImportRejectedError) as info:
        import_drivers(seeded_db, f"{DRIVER_HEADER}\n{GOOD_DRIVER.replace('C-990', code)}\n")
    [error] = info.value.errors
    assert (error.line, error.field) == (2, "vehicle_registration")
    assert "longer than 32 characters" in error.message


def test_a_name_with_a_nul_byte_is_refused_for_drivers_too(seeded_db: Session) -> None:
    row = GOOD_DRIVER.replace("Ana Kim", "Ana\x00Kim")
    with pytest.raises(ImportRejectedError) as info:
        import_drivers(seeded_db, f"{DRIVER_HEADER}\n{row}\n")
    assert [(e.line, e.field) for e in info.value.errors] == [(2, "name")]


PRINTABLE = hs.text(alphabet=hs.characters(blacklist_categories=("Cs",)), min_size=1)


@hs.composite
def order_rows(draw: hs.DrawFn) -> list[str]:
    """A row that passes validation, with edge values: longest texts, any Unicode (a NUL now
    and then), bounds of every number, windows near the year limits and DST changes."""
    start = draw(
        hs.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30))
        | hs.sampled_from(
            [datetime(2026, 3, 8, 2, 30), datetime(2026, 11, 1, 1, 30), datetime(2000, 1, 1, 5)]
        )
    ).replace(microsecond=0)
    minutes = draw(hs.integers(min_value=-30, max_value=24 * 60))
    offset = draw(hs.sampled_from(["", "-05:00", "+14:00", "Z"]))
    return [
        draw(PRINTABLE.filter(lambda s: s.strip()).map(lambda s: s[:64])),
        "BKN",
        draw(PRINTABLE.map(lambda s: (s * 200)[:200])),
        str(draw(hs.floats(min_value=40.60, max_value=40.80))),
        str(draw(hs.floats(min_value=-74.10, max_value=-73.90))),
        start.isoformat() + offset,
        (start + timedelta(minutes=minutes)).isoformat() + offset,
        str(draw(hs.sampled_from([1, 500]))),
        str(draw(hs.sampled_from([0, 2000, 0.001]))),
        draw(hs.sampled_from(["", "cold_chain", "age_check;two_person"])),
        draw(PRINTABLE.map(lambda s: (s * 120)[:120])),
        draw(hs.one_of(hs.just(""), PRINTABLE.map(lambda s: (s * 120)[:120]))),
    ]


EDGE_HEADER = HEADER.split(",") + ["customer_name", "safe_place_note"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=hs.lists(order_rows(), min_size=1, max_size=5, unique_by=lambda r: r[0].strip()))
def test_valid_rows_with_edge_values_reach_the_insert_or_give_row_errors(
    seeded_db: Session, rows: list[list[str]]
) -> None:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows([EDGE_HEADER, *rows])
    seeded_db.begin_nested()
    try:
        result = import_orders(seeded_db, out.getvalue())
        assert result.rows == len(rows)
        event("inserted")
    except ImportRejectedError as exc:
        assert exc.errors and all(e.line >= 2 and e.field in {*EDGE_HEADER, "row"} for e in exc.errors)
        event("refused: " + ",".join(sorted({e.field for e in exc.errors})))
    finally:
        seeded_db.rollback()

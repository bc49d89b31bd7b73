"""CSV import of orders and drivers: validate every row, then write all of them or none.

One service for the CLI and the app. Every problem is reported with the file's line number
(the header is line 1), the field and the reason; if there is any, nothing is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.bulk import bulk_insert
from core.errors import ImportRejectedError, RowError
from core.geo import haversine_m
from core.import_rows import DriverRow, OrderRow
from core.kinds import DriverStatus, OrderStatus
from core.models import Driver, Fleet, Hub, Order, Region, Vehicle

MAX_DISTANCE_FROM_HUB_M = 150_000
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ImportResult:
    kind: str
    rows: int


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportRejectedError("the file is empty", [RowError(1, "file", "the file is empty")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        msg = f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        raise ImportRejectedError("the file is not UTF-8 text", [RowError(line, "file", msg)]) from exc


def _rows(text: str, model: type[M]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    required = [name for name, f in model.model_fields.items() if f.is_required()]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportRejectedError(
            f"missing column(s): {', '.join(missing)}", [RowError(1, c, "missing column") for c in missing]
        )
    reader.fieldnames = header
    for raw in reader:
        if raw.get(None):
            yield reader.line_num, {"__extra__": "x"}
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in raw.items() if k in model.model_fields}


def _validate(text: str, model: type[M]) -> tuple[list[tuple[int, M]], list[RowError]]:
    good: list[tuple[int, M]] = []
    errors: list[RowError] = []
    for line, raw in _rows(text, model):
        if "__extra__" in raw:
            errors.append(RowError(line, "row", "more values than columns"))
            continue
        values = {k: v for k, v in raw.items() if v != ""}
        try:
            good.append((line, model.model_validate(values)))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "row"
                msg = "a value is required" if err["type"] == "missing" else err["msg"]
                errors.append(RowError(line, field, msg.removeprefix("Value error, ")))
    if not good and not errors:
        errors.append(RowError(1, "file", "the file has a header but no rows"))
    return good, errors


def _duplicates(
    rows: list[tuple[int, M]], key: Callable[[M], str], existing: set[str], field: str
) -> list[RowError]:
    errors: list[RowError] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        value = key(row)
        if value in existing:
            errors.append(RowError(line, field, f"{value!r} already exists in the database"))
        elif value in first_line:
            errors.append(RowError(line, field, f"{value!r} repeats line {first_line[value]}"))
        else:
            first_line[value] = line
    return errors


def _reject(kind: str, errors: list[RowError]) -> None:
    if errors:
        errors.sort(key=lambda e: e.line)
        raise ImportRejectedError(
            f"{kind} import refused: {len(errors)} problem(s); nothing was written", errors
        )


def _read(source: bytes | str | Path) -> str:
    if isinstance(source, Path):
        return _decode(source.read_bytes())
    return _decode(source.encode() if isinstance(source, str) else source)


def _as_utc(value: datetime, tz: str) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz))).astimezone(UTC)


def _zone_centres(session: Session) -> dict[int, list[tuple[str, float, float]]]:
    stmt = select(Order.hub_id, Order.zone, func.avg(Order.lat), func.avg(Order.lon)).group_by(
        Order.hub_id, Order.zone
    )
    centres: dict[int, list[tuple[str, float, float]]] = {}
    for hub_id, zone, lat, lon in session.execute(stmt):
        centres.setdefault(hub_id, []).append((zone, float(lat), float(lon)))
    return centres


def _nearest_zone(centres: list[tuple[str, float, float]], lat: float, lon: float) -> str:
    if not centres:
        return "unzoned"
    d = haversine_m([c[1] for c in centres], [c[2] for c in centres], lat, lon)
    return centres[int(d.argmin())][0]


def import_orders(session: Session, source: bytes | str | Path, now: datetime | None = None) -> ImportResult:
    """Validate and insert orders; raises `ImportRejectedError` listing every bad line."""
    rows, errors = _validate(_read(source), OrderRow)
    hubs = {h.code: h for h in session.scalars(select(Hub))}
    refs = [r.external_ref for _, r in rows]
    existing = (
        set(session.scalars(select(Order.external_ref).where(Order.external_ref.in_(refs))))
        if len(refs) < 30_000
        else set(session.scalars(select(Order.external_ref)))
    )
    errors += _duplicates(rows, lambda r: r.external_ref, existing, "external_ref")
    for line, r in rows:
        hub = hubs.get(r.hub)
        if hub is None:
            errors.append(RowError(line, "hub", f"unknown hub {r.hub!r}; known: {', '.join(sorted(hubs))}"))
            continue
        far = float(haversine_m(hub.lat, hub.lon, r.lat, r.lon))
        if far > MAX_DISTANCE_FROM_HUB_M:
            errors.append(
                RowError(
                    line,
                    "lat/lon",
                    f"({r.lat}, {r.lon}) is {far / 1000:.0f} km from hub {hub.code}; check the coordinates",
                )
            )
    _reject("orders", errors)
    centres = _zone_centres(session)
    created = now or datetime.now(UTC)
    records = []
    for _, r in rows:
        hub = hubs[r.hub]
        start, end = _as_utc(r.window_start, hub.timezone), _as_utc(r.window_end, hub.timezone)
        records.append(
            {
                "external_ref": r.external_ref,
                "hub_id": hub.id,
                "service_date": start.astimezone(ZoneInfo(hub.timezone)).date(),
                "status": OrderStatus.UNASSIGNED,
                "address": r.address,
                "zone": r.zone or _nearest_zone(centres.get(hub.id, []), r.lat, r.lon),
                "lat": r.lat,
                "lon": r.lon,
                "parcels": r.parcels,
                "weight_g": round(r.weight_kg * 1000),
                "volume_ml": round(r.volume_l * 1000),
                "service_time_s": r.service_time_s,
                "sla_kind": r.sla_kind_for_window(),
                "window_start_at": start,
                "window_end_at": end,
                "priority": r.priority,
                "brand_tier": r.brand_tier,
                "required_skills": sorted(r.required_skills),
                "customer_name": r.customer_name,
                "contact_channel": r.contact_channel,
                "safe_place_allowed": r.safe_place_allowed,
                "safe_place_note": r.safe_place_note,
                "neighbour_allowed": r.neighbour_allowed,
                "locker_allowed": r.locker_allowed,
                "attempts": 0,
                "created_at": created,
                "delivered_at": None,
            }
        )
    bulk_insert(session, Order.__table__, records)  # type: ignore[arg-type]
    return ImportResult("orders", len(records))


def import_drivers(session: Session, source: bytes | str | Path) -> ImportResult:
    """Validate and insert drivers with one vehicle each; all or nothing."""
    rows, errors = _validate(_read(source), DriverRow)
    hubs = {h.code: h for h in session.scalars(select(Hub))}
    fleets = {f.code: f for f in session.scalars(select(Fleet))}
    regions = {r.code: r for r in session.scalars(select(Region))}
    errors += _duplicates(rows, lambda r: r.code, set(session.scalars(select(Driver.code))), "code")
    errors += _duplicates(
        rows,
        lambda r: r.vehicle_registration or f"{r.hub}-{r.code}",
        set(session.scalars(select(Vehicle.registration))),
        "vehicle_registration",
    )
    for line, r in rows:
        if r.hub not in hubs:
            errors.append(RowError(line, "hub", f"unknown hub {r.hub!r}; known: {', '.join(sorted(hubs))}"))
        if r.fleet not in fleets:
            known = ", ".join(sorted(fleets))
            errors.append(RowError(line, "fleet", f"unknown fleet {r.fleet!r}; known: {known}"))
        if r.region and r.region not in regions:
            known = ", ".join(sorted(regions))
            errors.append(RowError(line, "region", f"unknown region {r.region!r}; known: {known}"))
    _reject("drivers", errors)
    for _, r in rows:
        hub, fleet = hubs[r.hub], fleets[r.fleet]
        vehicle = Vehicle(
            registration=r.vehicle_registration or f"{hub.code}-{r.code}",
            fleet_id=fleet.id,
            vehicle_type=r.vehicle_type,
            capacity_parcels=r.capacity_parcels,
            capacity_g=round(r.capacity_kg * 1000),
            capacity_ml=round(r.capacity_l * 1000),
            electric=r.electric,
            co2_g_per_km=0 if r.electric else r.co2_g_per_km,
            cold_chain=r.cold_chain,
        )
        session.add(vehicle)
        session.flush()
        session.add(
            Driver(
                code=r.code,
                name=r.name,
                fleet_id=fleet.id,
                vehicle_id=vehicle.id,
                home_hub_id=hub.id,
                region_id=regions[r.region].id if r.region else hub.region_id,
                shift_start=r.shift_start,
                shift_end=r.shift_end,
                skills=sorted(r.skills),
                status=DriverStatus.ACTIVE,
            )
        )
    session.flush()
    return ImportResult("drivers", len(rows))

"""Storage behaviour: UTC times, enum states, version checks and the bulk path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.bulk import bulk_insert
from core.models import AuditEntry, Plan


def _entry(at: datetime) -> AuditEntry:
    return AuditEntry(at=at, actor="test", action="check", entity="plan", entity_id=None, detail={})


def test_aware_times_come_back_in_utc(db: Session) -> None:
    eastern = timezone(timedelta(hours=-5))
    db.add(_entry(datetime(2026, 11, 27, 9, 30, tzinfo=eastern)))
    db.flush()
    db.expire_all()
    at = db.scalar(select(AuditEntry.at))
    assert at == datetime(2026, 11, 27, 14, 30, tzinfo=UTC)
    assert at.tzinfo is not None


def test_naive_datetime_is_refused(db: Session) -> None:
    db.add(_entry(datetime(2026, 11, 27, 9, 30)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.flush()


def test_bulk_insert_stores_what_the_orm_stores(db: Session) -> None:
    at = datetime(2026, 11, 27, 14, 30, 5, 120, tzinfo=UTC)
    db.add(AuditEntry(id=1, at=at, actor="orm", action="a", entity="e", entity_id=1, detail={"k": [1, 2]}))
    db.flush()
    bulk_insert(
        db,
        AuditEntry.__table__,
        [
            {
                "id": 2,
                "at": at,
                "actor": "bulk",
                "action": "a",
                "entity": "e",
                "entity_id": 1,
                "detail": {"k": [1, 2]},
            }
        ],
    )
    raw = db.execute(text("SELECT at, detail FROM audit_log ORDER BY id")).all()
    assert raw[0] == raw[1]
    db.expire_all()
    assert {e.at for e in db.scalars(select(AuditEntry))} == {at}


def test_order_status_outside_the_enum_is_rejected(seeded_db: Session) -> None:
    with pytest.raises(IntegrityError):
        seeded_db.execute(text("UPDATE orders SET status = 'lost' WHERE id = 1"))
        seeded_db.flush()


def test_second_concurrent_plan_update_is_stale(seeded_db: Session) -> None:
    plan = seeded_db.scalars(select(Plan).order_by(Plan.id)).first()
    assert plan is not None
    before = plan.version
    plan.updated_at = datetime.now(UTC)
    seeded_db.flush()
    assert plan.version == before + 1
    seeded_db.execute(text("UPDATE plans SET version = version + 1 WHERE id = :id"), {"id": plan.id})
    plan.updated_at = datetime.now(UTC)
    with pytest.raises(StaleDataError):
        seeded_db.flush()

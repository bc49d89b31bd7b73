"""The demo users who are drivers are the people their driver records name."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Driver, User


def test_a_driver_users_name_is_their_driver_records_name(seeded_db: Session) -> None:
    rows = seeded_db.execute(
        select(User.username, User.display_name, Driver.code, Driver.name)
        .join(Driver, Driver.id == User.driver_id)
        .order_by(User.username)
    ).all()
    assert [(u, code, name) for u, _, code, name in rows] == [
        ("carla", "C-001", "Carla Reyes"),
        ("sam", "G-001", "Sam Okafor"),
    ]
    assert all(shown.startswith(name) for _, shown, _, name in rows)

"""The viewer scoping that keeps vendors and drivers inside their own rows."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import Viewer, visible_driver_ids
from core.errors import AccessDeniedError
from core.kinds import Role
from core.models import Driver, Fleet, User


def test_vendor_viewer_needs_a_vendor() -> None:
    with pytest.raises(ValueError, match="vendor_id"):
        Viewer(username="x", role=Role.VENDOR)


def test_driver_viewer_needs_a_driver() -> None:
    with pytest.raises(ValueError, match="driver_id"):
        Viewer(username="x", role=Role.DRIVER)


def test_vendor_sees_exactly_its_own_drivers(seeded_db: Session) -> None:
    jonas = seeded_db.scalars(select(User).where(User.username == "jonas")).one()
    viewer = Viewer(username="jonas", role=Role.VENDOR, vendor_id=jonas.vendor_id)
    seen = set(seeded_db.scalars(visible_driver_ids(viewer)))
    own = set(seeded_db.scalars(select(Driver.id).join(Fleet).where(Fleet.vendor_id == jonas.vendor_id)))
    assert seen == own and seen
    assert len(seen) < len(list(seeded_db.scalars(select(Driver.id))))


def test_driver_sees_only_themselves(seeded_db: Session) -> None:
    sam = seeded_db.scalars(select(User).where(User.username == "sam")).one()
    viewer = Viewer(username="sam", role=Role.DRIVER, driver_id=sam.driver_id)
    assert list(seeded_db.scalars(visible_driver_ids(viewer))) == [sam.driver_id]


def test_dispatcher_sees_every_driver(seeded_db: Session) -> None:
    viewer = Viewer(username="priya", role=Role.DISPATCHER)
    assert len(list(seeded_db.scalars(visible_driver_ids(viewer)))) == len(
        list(seeded_db.scalars(select(Driver.id)))
    )


def test_require_refuses_other_roles() -> None:
    with pytest.raises(AccessDeniedError, match="may not approve"):
        Viewer(username="marcus", role=Role.HEAD_OF_LAST_MILE).require(
            frozenset({Role.DISPATCHER}), "approve proposals"
        )

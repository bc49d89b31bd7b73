"""Who is looking: the `Viewer`, and the scoping every page-facing read starts from.

The second wall behind the app's login: whatever a page asks, a vendor viewer only ever
selects its own vendor's drivers (and what hangs off them), and a driver only themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, false, select

from core.errors import AccessDeniedError
from core.kinds import Role
from core.models import Driver, Fleet

FULL_VIEW_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.HEAD_OF_LAST_MILE, Role.FLEET_MANAGER})
PLAN_CHANGE_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER})


@dataclass(frozen=True)
class Viewer:
    """A signed-in person. A vendor viewer without a vendor, or a driver without a driver
    profile, cannot be built."""

    username: str
    role: Role
    user_id: int | None = None
    vendor_id: int | None = None
    driver_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        if self.role is Role.VENDOR and self.vendor_id is None:
            raise ValueError("a vendor viewer needs a vendor_id")
        if self.role is Role.DRIVER and self.driver_id is None:
            raise ValueError("a driver viewer needs a driver_id")

    @property
    def sees_everything(self) -> bool:
        return self.role in FULL_VIEW_ROLES

    def require(self, roles: frozenset[Role], action: str) -> None:
        """Raise `AccessDeniedError` unless the viewer's role is in `roles`."""
        if self.role not in roles:
            raise AccessDeniedError(f"{self.username} ({self.role.value}) may not {action}")


def visible_driver_ids(viewer: Viewer) -> Select[int]:
    """A subquery of the driver ids this viewer may see; filter any driver-linked read by it."""
    stmt = select(Driver.id)
    if viewer.role is Role.VENDOR:
        stmt = stmt.join(Fleet, Driver.fleet_id == Fleet.id).where(Fleet.vendor_id == viewer.vendor_id)
    elif viewer.role is Role.DRIVER:
        stmt = stmt.where(Driver.id == viewer.driver_id)
    elif not viewer.sees_everything:
        stmt = stmt.where(false())
    return stmt


SYSTEM = Viewer(username="system", role=Role.ADMIN)

"""Demo users, one or more per role; the README lists the same credentials."""

from __future__ import annotations

from dataclasses import dataclass

from core.kinds import Role


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    display_name: str
    role: Role
    vendor_code: str | None = None
    driver_code: str | None = None
    driver_name: str | None = None  # the driver record's name, so the co-pilot greets the same person


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "admin-demo", "Admin", Role.ADMIN),
    DemoUser("priya", "priya-demo", "Priya (dispatcher)", Role.DISPATCHER),
    DemoUser("marcus", "marcus-demo", "Marcus (head of last mile)", Role.HEAD_OF_LAST_MILE),
    DemoUser("aisha", "aisha-demo", "Aisha (fleet operations)", Role.FLEET_MANAGER),
    DemoUser("jonas", "jonas-demo", "Jonas (Metro Parcel Partners)", Role.VENDOR, vendor_code="MPP"),
    DemoUser("hudson", "hudson-demo", "Hudson Logistics account", Role.VENDOR, vendor_code="HUD"),
    DemoUser("dash", "dash-demo", "DashDrop account", Role.VENDOR, vendor_code="DASH"),
    DemoUser(
        "sam",
        "sam-demo",
        "Sam Okafor (gig courier)",
        Role.DRIVER,
        driver_code="G-001",
        driver_name="Sam Okafor",
    ),
    DemoUser(
        "carla",
        "carla-demo",
        "Carla Reyes (captive driver)",
        Role.DRIVER,
        driver_code="C-001",
        driver_name="Carla Reyes",
    ),
)

"""Order search and the page's import: scoped to the viewer, filters combine, imports need the role."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.access import Viewer
from core.errors import AccessDeniedError
from core.kinds import OrderStatus, Role, SlaKind
from core.orders_view import OrderQuery, can_import_orders, import_orders_as, order_facets, search_orders
from tests.core.test_live import DAY, OPS, Day, _build


@pytest.fixture
def day(db: Session) -> Day:
    return _build(db)


def _refs(db: Session, viewer: Viewer, query: OrderQuery = OrderQuery()) -> set[str]:
    return set(search_orders(db, viewer, DAY, query).rows["ref"])


def test_operations_see_every_order_of_the_day(db: Session, day: Day) -> None:
    found = search_orders(db, OPS, DAY, OrderQuery())
    assert found.total == 10 and len(found.rows) == 10
    assert dict(zip(found.rows["ref"], found.rows["driver"].fillna(""), strict=True))["o4"] == "d1"


def test_vendor_and_driver_see_only_orders_on_their_routes(db: Session, day: Day) -> None:
    assert _refs(db, Viewer("v1", Role.VENDOR, vendor_id=day.vendors["V1"].id)) == {"o3"}
    assert _refs(db, Viewer("d1", Role.DRIVER, driver_id=day.drivers["d1"].id)) == {"o1", "o2", "o4", "o5"}
    facets = order_facets(db, Viewer("v2", Role.VENDOR, vendor_id=day.vendors["V2"].id), DAY)
    assert facets.zones == ("Z1",) and [code for _, code in facets.hubs] == ["H1"]


def test_filters_combine_and_the_reference_match_is_literal(db: Session, day: Day) -> None:
    assert _refs(db, OPS, OrderQuery(ref="O1")) == {"o1", "o10"}
    assert _refs(db, OPS, OrderQuery(ref="o_")) == set()  # "_" is not a wildcard
    assert _refs(db, OPS, OrderQuery(ref="%")) == set()
    assert _refs(db, OPS, OrderQuery(statuses=frozenset({OrderStatus.UNASSIGNED}))) == {"o6", "o7", "o8"}
    assert _refs(
        db,
        OPS,
        OrderQuery(
            statuses=frozenset({OrderStatus.DELIVERED}),
            sla_kinds=frozenset({SlaKind.TWO_HOUR}),
            zones=frozenset({"Z1"}),
            hub_ids=frozenset({day.hub.id}),
        ),
    ) == {"o1", "o2"}
    assert _refs(db, OPS, OrderQuery(hub_ids=frozenset({day.hub.id + 1}))) == set()


def test_search_reports_the_total_beyond_the_limit(db: Session, day: Day) -> None:
    found = search_orders(db, OPS, DAY, OrderQuery(limit=3))
    assert (found.total, len(found.rows)) == (10, 3)


@pytest.mark.parametrize("role", [Role.HEAD_OF_LAST_MILE, Role.FLEET_MANAGER])
def test_only_plan_changing_roles_may_import(db: Session, role: Role) -> None:
    viewer = Viewer("x", role)
    assert not can_import_orders(viewer)
    with pytest.raises(AccessDeniedError):
        import_orders_as(db, viewer, b"external_ref\n")
    assert can_import_orders(OPS)

"""Urgent orders arriving during the day: new, unassigned rows for a dispatcher (or an agent)
to place. They come in like a shop's API call would: a two-hour window starting soon."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import numpy as np
from sqlalchemy.orm import Session

from core.kinds import BrandTier, ContactChannel, OrderStatus, SlaKind
from core.models import Order
from core.sim.disruptions import UrgentOrder
from core.sim.world import HubInfo

URGENT_PRIORITY = 3


def add_urgent_order(
    session: Session, day: date, hub: HubInfo, urgent: UrgentOrder, at: Callable[[float], datetime], seed: int
) -> Order:
    """Write one urgent order (unassigned); its reference says which hub and when it came."""
    rng = np.random.default_rng([seed, 4, hub.id, urgent.at_s])
    ref = f"URG-{day:%Y%m%d}-{hub.code}-{urgent.at_s:05d}"
    order = Order(
        external_ref=ref,
        hub_id=hub.id,
        service_date=day,
        status=OrderStatus.UNASSIGNED,
        address=f"{int(rng.integers(1, 400))} Urgent Lane, {urgent.zone}",
        zone=urgent.zone,
        lat=urgent.lat,
        lon=urgent.lon,
        parcels=urgent.parcels,
        weight_g=urgent.weight_g,
        volume_ml=urgent.weight_g * 3,
        service_time_s=urgent.service_time_s,
        sla_kind=SlaKind.TWO_HOUR,
        window_start_at=at(urgent.window_start_s),
        window_end_at=at(urgent.window_end_s),
        priority=URGENT_PRIORITY,
        brand_tier=BrandTier.STANDARD,
        required_skills=[],
        customer_name=f"Urgent customer {urgent.at_s % 1000:03d}",
        contact_channel=ContactChannel.SMS,
        safe_place_allowed=bool(rng.random() < 0.5),
        safe_place_note="by the door",
        neighbour_allowed=bool(rng.random() < 0.35),
        locker_allowed=bool(rng.random() < 0.25),
        attempts=0,
        created_at=at(urgent.at_s),
        delivered_at=None,
    )
    session.add(order)
    return order

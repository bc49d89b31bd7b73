"""Write sampled demo orders as an orders CSV in the import format (sample files, benchmarks)."""

from __future__ import annotations

import csv
import io
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np

from core.scenario.city import load_city
from core.scenario.orders import sample_orders
from core.timeutil import at_seconds

ORDER_COLUMNS = (
    "external_ref",
    "hub",
    "address",
    "zone",
    "lat",
    "lon",
    "window_start",
    "window_end",
    "parcels",
    "weight_kg",
    "volume_l",
    "service_time_s",
    "priority",
    "brand_tier",
    "required_skills",
    "customer_name",
    "contact_channel",
    "safe_place_allowed",
    "safe_place_note",
    "neighbour_allowed",
    "locker_allowed",
)


def orders_csv(n: int, day: date, seed: int = 11, prefix: str = "CSV") -> str:
    """`n` orders for `day` in the import format, with local times carrying their offset."""
    city = load_city()
    batch = sample_orders(city, n, np.random.default_rng(seed), day)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ORDER_COLUMNS)
    channels = ("sms", "email", "none")
    local = ZoneInfo(city.timezone)
    for i in range(n):
        start = at_seconds(day, city.timezone, int(batch.window_start_s[i])).astimezone(local)
        end = at_seconds(day, city.timezone, int(batch.window_end_s[i])).astimezone(local)
        writer.writerow(
            (
                f"{prefix}-{day:%Y%m%d}-{i + 1:06d}",
                city.hubs[batch.hub[i]].code,
                f"{batch.house_number[i]} {city.streets[batch.street[i]]}",
                batch.zone_names[batch.zone[i]],
                f"{batch.lat[i]:.6f}",
                f"{batch.lon[i]:.6f}",
                start.isoformat(),
                end.isoformat(),
                int(batch.parcels[i]),
                f"{batch.weight_g[i] / 1000:.3f}",
                f"{batch.volume_ml[i] / 1000:.3f}",
                int(batch.service_time_s[i]),
                int(batch.priority[i]),
                "premium" if batch.premium[i] else "standard",
                ";".join(batch.skills[i]),
                f"{city.first_names[batch.customer_first[i]]} {city.last_names[batch.customer_last[i]]}",
                channels[batch.channel[i]],
                str(bool(batch.safe_place[i])).lower(),
                "porch" if batch.safe_place[i] else "",
                str(bool(batch.neighbour[i])).lower(),
                str(bool(batch.locker[i])).lower(),
            )
        )
    return out.getvalue()

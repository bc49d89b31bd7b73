"""The allocation problem: frozen, validated inputs; a what-if is a modified copy.

Node numbering used everywhere in the allocator (matrices, model, evaluate):
orders 0..n-1, then one start node per driver n..n+m-1, then hubs n+m..n+m+h-1.
"""

from collections.abc import Hashable, Mapping, Set
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from core.allocator.costs import FleetCost
from core.allocator.travel import HaversineTravel, IntMatrix, TravelModel
from core.kinds import BrandTier, FleetType, VehicleKind

DAY_S = 86_400


@dataclass(frozen=True)
class HubSpec:
    """A hub where routes end (and, when loading, begin); turnaround_s = loading time."""

    id: str
    lat: float
    lon: float
    turnaround_s: int = 0

    def __post_init__(self) -> None:
        if self.turnaround_s < 0:
            raise ValueError(f"hub {self.id}: turnaround_s must be >= 0")


@dataclass(frozen=True)
class DriverSpec:
    """One driver and vehicle as the solver sees them, starting where they are now.

    `loading_at_start`: the route begins with the hub's turnaround (a fresh day); False when
    re-optimising a van that is already loaded and on the road.
    `zone_success`: learned first-attempt probability per zone; unknown zones count as 1.0.
    `max_item_weight_g`: heaviest single order this vehicle takes (a cargo bike's limit).
    `start_cost_cents`: paid once if the driver gets any stop (e.g. calling an idle driver out
    mid-day), on top of the fleet's own route minimum.
    """

    id: str
    fleet_type: FleetType
    lat: float
    lon: float
    hub: int
    cost: FleetCost
    shift_start_s: int = 0
    shift_end_s: int = DAY_S
    start_s: int = 0
    max_route_duration_s: int | None = None
    capacity_parcels: int = 100
    capacity_weight_g: int = 1_000_000
    capacity_volume_ml: int = 10_000_000
    co2_g_per_km: int = 0
    skills: frozenset[str] = frozenset()
    vehicle_type: VehicleKind = VehicleKind.VAN
    max_item_weight_g: int | None = None
    work_before_break_s: int = 0
    break_duration_s: int = 0
    blocked: bool = False
    zone_success: Mapping[str, float] = field(default_factory=dict)
    loading_at_start: bool = True
    start_cost_cents: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fleet_type", FleetType(self.fleet_type))
        object.__setattr__(self, "vehicle_type", VehicleKind(self.vehicle_type))
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "zone_success", MappingProxyType(dict(self.zone_success)))
        who = f"driver {self.id}"
        if not self.id:
            raise ValueError("driver id must not be empty")
        if self.shift_end_s <= self.shift_start_s:
            raise ValueError(f"{who}: shift_end_s must be after shift_start_s")
        if self.start_cost_cents < 0:
            raise ValueError(f"{who}: start_cost_cents must be >= 0")
        if self.start_s < 0 or self.shift_start_s < 0:
            raise ValueError(f"{who}: times must be >= 0")
        for name in ("capacity_parcels", "capacity_weight_g", "capacity_volume_ml", "co2_g_per_km"):
            if getattr(self, name) < 0:
                raise ValueError(f"{who}: {name} must be >= 0")
        if self.max_route_duration_s is not None and self.max_route_duration_s <= 0:
            raise ValueError(f"{who}: max_route_duration_s must be > 0")
        if self.work_before_break_s < 0 or self.break_duration_s < 0:
            raise ValueError(f"{who}: break times must be >= 0")
        if (self.work_before_break_s > 0) != (self.break_duration_s > 0):
            raise ValueError(f"{who}: set both work_before_break_s and break_duration_s, or neither")
        for zone, p in self.zone_success.items():
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{who}: success rate for zone {zone} must be in [0, 1]")
        if self.cost.fleet_type is not self.fleet_type:
            raise ValueError(f"{who}: cost model is {self.cost.fleet_type}, driver is {self.fleet_type}")

    def __getstate__(self) -> dict[str, object]:
        """Picklable (a mappingproxy is not), so parts can go to worker processes."""
        state = dict(self.__dict__)
        state["zone_success"] = dict(self.zone_success)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        state = dict(state)
        state["zone_success"] = MappingProxyType(dict(state["zone_success"]))  # type: ignore[call-overload]
        self.__dict__.update(state)

    @property
    def available_s(self) -> int:
        """Earliest moment the route can begin: now, or the shift start if later."""
        return max(self.start_s, self.shift_start_s)

    def success_rate(self, zone: str) -> float:
        return self.zone_success.get(zone, 1.0)


@dataclass(frozen=True)
class OrderSpec:
    """One delivery. Service must start in [ready_s, due_s] (seconds since local midnight).

    `priority`: 0 = normal; higher is dropped last when capacity is short.
    `locked_driver_id`: already loaded in that van; only that driver may deliver it.
    """

    id: str
    lat: float
    lon: float
    zone: str = ""
    parcels: int = 1
    weight_g: int = 0
    volume_ml: int = 0
    ready_s: int = 0
    due_s: int = DAY_S
    service_time_s: int = 120
    priority: int = 0
    brand_tier: BrandTier = BrandTier.STANDARD
    required_skills: frozenset[str] = frozenset()
    allowed_fleet_types: frozenset[FleetType] | None = None
    allowed_vehicle_types: frozenset[VehicleKind] | None = None
    locked_driver_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "brand_tier", BrandTier(self.brand_tier))
        object.__setattr__(self, "required_skills", frozenset(self.required_skills))
        if self.allowed_fleet_types is not None:
            kinds = frozenset(FleetType(f) for f in self.allowed_fleet_types)
            object.__setattr__(self, "allowed_fleet_types", kinds)
        if self.allowed_vehicle_types is not None:
            vkinds = frozenset(VehicleKind(v) for v in self.allowed_vehicle_types)
            object.__setattr__(self, "allowed_vehicle_types", vkinds)
        who = f"order {self.id}"
        if not self.id:
            raise ValueError("order id must not be empty")
        for name in ("parcels", "weight_g", "volume_ml", "service_time_s", "ready_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{who}: {name} must be >= 0")
        if self.due_s < self.ready_s:
            raise ValueError(f"{who}: due_s must be >= ready_s")
        if not 0 <= self.priority <= 100:
            raise ValueError(f"{who}: priority must be in [0, 100]")


@dataclass(frozen=True)
class AllocationProblem:
    """Drivers, orders, hubs and how to travel between them; read-only for the solver."""

    drivers: tuple[DriverSpec, ...]
    orders: tuple[OrderSpec, ...]
    hubs: tuple[HubSpec, ...]
    travel: TravelModel = field(default_factory=HaversineTravel)
    due_margin_s: int = 0
    """How long before its window closes the plan aims to start a service. A start inside the
    margin is priced as lateness (from the margin's start) but not counted late: a day under
    way is known only roughly (a driver's position from the last ping, a service under way),
    so a plan that starts services on the window's last second makes them late in practice."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "drivers", tuple(self.drivers))
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "hubs", tuple(self.hubs))
        if not self.hubs:
            raise ValueError("a problem needs at least one hub")
        if self.due_margin_s < 0:
            raise ValueError("due_margin_s must be >= 0")
        _unique("driver", [d.id for d in self.drivers])
        _unique("order", [o.id for o in self.orders])
        _unique("hub", [h.id for h in self.hubs])
        driver_ids = {d.id for d in self.drivers}
        for d in self.drivers:
            if not 0 <= d.hub < len(self.hubs):
                raise ValueError(f"driver {d.id}: hub {d.hub} out of range ({len(self.hubs)} hubs)")
        for o in self.orders:
            if o.locked_driver_id is not None and o.locked_driver_id not in driver_ids:
                raise ValueError(f"order {o.id}: locked to unknown driver {o.locked_driver_id}")

    # -- node numbering -------------------------------------------------------------------
    @property
    def n_orders(self) -> int:
        return len(self.orders)

    def start_node(self, v: int) -> int:
        return len(self.orders) + v

    def hub_node(self, h: int) -> int:
        return len(self.orders) + len(self.drivers) + h

    def end_node(self, v: int) -> int:
        return self.hub_node(self.drivers[v].hub)

    @property
    def n_nodes(self) -> int:
        return len(self.orders) + len(self.drivers) + len(self.hubs)

    @cached_property
    def order_index(self) -> dict[str, int]:
        return {o.id: i for i, o in enumerate(self.orders)}

    @cached_property
    def driver_index(self) -> dict[str, int]:
        return {d.id: v for v, d in enumerate(self.drivers)}

    def points(self) -> npt.NDArray[np.float64]:
        rows = [(o.lat, o.lon) for o in self.orders]
        rows += [(d.lat, d.lon) for d in self.drivers]
        rows += [(h.lat, h.lon) for h in self.hubs]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 2)

    # -- matrices -------------------------------------------------------------------------
    @cached_property
    def distance_m(self) -> IntMatrix:
        """Distances between all nodes; one matrix for every vehicle kind."""
        dist, _ = self.travel.matrices(self.points(), 0, "van")
        return dist

    def speed_profile(self, v: int) -> Hashable:
        """Key of the duration matrix driver v uses: the travel model's profile of its
        departure hour and vehicle kind (drivers with equal keys share one matrix)."""
        return self.travel.profile(self._departure(v), str(self.drivers[v].vehicle_type))

    def _departure(self, v: int) -> int:
        """The whole hour driver v sets off in: one matrix per departure hour is the documented
        approximation of time-dependent travel."""
        return (self.drivers[v].available_s // 3600) % 24 * 3600

    def duration_s(self, v: int) -> IntMatrix:
        return self._duration_of[v]

    @cached_property
    def _duration_of(self) -> tuple[IntMatrix, ...]:
        return tuple(self._durations[self.speed_profile(v)] for v in range(len(self.drivers)))

    @cached_property
    def _durations(self) -> dict[Hashable, IntMatrix]:
        out: dict[Hashable, IntMatrix] = {}
        pts = self.points()
        for v in range(len(self.drivers)):
            key = self.speed_profile(v)
            if key not in out:
                out[key] = self.travel.matrices(pts, self._departure(v), str(self.drivers[v].vehicle_type))[1]
        return out

    def priced_due_s(self, o: OrderSpec) -> int:
        """Where lateness starts to be priced for `o`: `due_margin_s` before its due time,
        never before it is ready."""
        return max(o.ready_s, o.due_s - self.due_margin_s)

    def with_orders(self, orders: tuple[OrderSpec, ...]) -> "AllocationProblem":
        """A copy with `orders` in place of the orders at the same index and place (e.g. one
        unlocked or made ready later): the travel matrices, which depend only on places and
        on the drivers, are kept rather than computed again."""
        if [(o.id, o.lat, o.lon) for o in orders] != [(o.id, o.lat, o.lon) for o in self.orders]:
            raise ValueError("with_orders keeps every order at its index and place")
        return self._sharing_matrices(replace(self, orders=orders))

    def with_drivers(self, drivers: tuple[DriverSpec, ...]) -> "AllocationProblem":
        """A copy with `drivers` in place of the drivers at the same index, each still at its
        place and hub, in its vehicle and setting off in the same hour (e.g. a shift that ends
        sooner): the travel matrices are kept, as in `with_orders`."""
        copy = replace(self, drivers=drivers)
        same = [(d.id, d.lat, d.lon, d.hub) for d in drivers] == [
            (d.id, d.lat, d.lon, d.hub) for d in self.drivers
        ]
        if not same or any(copy.speed_profile(v) != self.speed_profile(v) for v in range(len(drivers))):
            raise ValueError("with_drivers keeps every driver at its index, place, hub and speed profile")
        return self._sharing_matrices(copy)

    def _sharing_matrices(self, copy: "AllocationProblem") -> "AllocationProblem":
        """`copy` with this problem's matrices and indexes, computed here first if need be, so
        that both (and every copy made alike) use one of each."""
        for name in ("distance_m", "_durations", "_duration_of", "order_index", "driver_index"):
            copy.__dict__[name] = getattr(self, name)
        return copy

    def without(self, drivers: Set[str], orders: Set[str]) -> "AllocationProblem":
        """A copy less the given drivers and orders; the travel matrices already computed are
        cut from this problem's (every point left is one of its points) rather than computed
        again, which on a hub's day takes seconds and a matrix per speed profile."""
        kept_orders = [i for i, o in enumerate(self.orders) if o.id not in orders]
        kept_drivers = [v for v, d in enumerate(self.drivers) if d.id not in drivers]
        if len(kept_orders) == len(self.orders) and len(kept_drivers) == len(self.drivers):
            return self
        copy = replace(
            self,
            drivers=tuple(self.drivers[v] for v in kept_drivers),
            orders=tuple(self.orders[i] for i in kept_orders),
        )
        nodes = np.asarray(
            kept_orders
            + [self.start_node(v) for v in kept_drivers]
            + [self.hub_node(h) for h in range(len(self.hubs))]
        )
        cut = np.ix_(nodes, nodes)
        if "distance_m" in self.__dict__:
            copy.__dict__["distance_m"] = self.distance_m[cut]
        if "_durations" in self.__dict__:
            keys = {copy.speed_profile(v) for v in range(len(copy.drivers))}
            copy.__dict__["_durations"] = {k: m[cut] for k, m in self._durations.items() if k in keys}
        return copy

    def service_s(self, v: int, node: int) -> int:
        """Time spent at a node before leaving it: service at orders, loading at the start."""
        if node < len(self.orders):
            return self.orders[node].service_time_s
        return 0


def _unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"duplicate {kind} id: {i}")
        seen.add(i)

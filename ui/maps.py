"""Read model -> pydeck Deck. Pure: no st.* calls, so the bench and tests can build decks too.

Layers, bottom to top: remaining routes (coloured by fleet type), orders (by live status),
drivers (filled by fleet type, ringed by state), hubs with their codes. Every layer's rows carry a `tooltip`
column, pre-rendered and HTML-escaped (addresses come from imported CSVs), because deck.gl's
tooltip is one template for all layers. Columns are built with vectorised pandas, never a
Python loop per row.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd
import pydeck as pdk

from core.kinds import FleetType
from core.live import DriverState, LiveKpis, LiveMap, LiveStatus, PositionSource

RGB = tuple[int, int, int]

FLEET_COLOURS: dict[str, RGB] = {
    FleetType.CAPTIVE: (15, 118, 110),  # teal
    FleetType.THIRD_PARTY: (124, 58, 237),  # violet
    FleetType.GIG: (234, 88, 12),  # orange
}
ORDER_COLOURS: dict[str, RGB] = {
    LiveStatus.UNASSIGNED: (100, 116, 139),  # slate
    LiveStatus.PLANNED: (59, 130, 246),  # blue
    LiveStatus.OUT_FOR_DELIVERY: (6, 182, 212),  # cyan
    LiveStatus.AT_RISK: (245, 158, 11),  # amber
    LiveStatus.DELIVERED: (34, 197, 94),  # green
    LiveStatus.FAILED: (220, 38, 38),  # red
}
STATE_COLOURS: dict[str, RGB] = {
    DriverState.EXCEPTION: (220, 38, 38),
    DriverState.ON_ROUTE: (15, 23, 42),
    DriverState.ON_SHIFT: (34, 197, 94),
    DriverState.OFF_SHIFT: (203, 213, 225),
    DriverState.UNAVAILABLE: (148, 163, 184),
}
HUB_COLOUR: RGB = (15, 23, 42)
BEFORE_COLOUR: RGB = (148, 163, 184)  # a proposal's routes as they are now: slate, drawn wide
AFTER_COLOUR: RGB = (219, 39, 119)  # ... and as the proposal would have them: magenta, on top
BASEMAPS: dict[str, str] = {  # BASEMAP_STYLE names; any other value is used as a style URL
    "road": pdk.map_styles.CARTO_ROAD,  # streets and places, no token needed
    "light": pdk.map_styles.CARTO_LIGHT,
    "dark": pdk.map_styles.CARTO_DARK,
    "blank": "/app/static/blank_style.json",  # served by the app itself: draws with no network
}
FLEET_LABELS: dict[str, str] = {
    FleetType.CAPTIVE: "captive",
    FleetType.THIRD_PARTY: "3PL",
    FleetType.GIG: "gig",
}
ORDER_LABELS: dict[str, str] = {
    LiveStatus.UNASSIGNED: "unassigned",
    LiveStatus.PLANNED: "planned",
    LiveStatus.OUT_FOR_DELIVERY: "out for delivery",
    LiveStatus.AT_RISK: "at risk of being late",
    LiveStatus.DELIVERED: "delivered",
    LiveStatus.FAILED: "failed",
}
STATE_LABELS: dict[str, str] = {
    DriverState.EXCEPTION: "exception",
    DriverState.ON_ROUTE: "on route",
    DriverState.ON_SHIFT: "on shift, no stops",
    DriverState.OFF_SHIFT: "off shift",
    DriverState.UNAVAILABLE: "off duty / suspended",
}
SLA_LABELS = {"two_hour": "2-hour", "four_hour": "4-hour", "same_day": "same-day"}
HUB_CLUSTER_STEP_DEG = 0.0022  # drivers waiting at a hub are fanned out around it, ~250 m apart
HUB_CLUSTER_FIRST_RING = 4  # ... starting clear of the hub's marker
GOLDEN_ANGLE = np.pi * (3 - np.sqrt(5))
PIXELS = '"pixels"'  # quoted: pydeck turns a bare string into a data accessor expression
TOOLTIP_STYLE = {
    "backgroundColor": "#0f172a",
    "color": "#f8fafc",
    "fontSize": "12px",
    "padding": "6px 8px",
    "borderRadius": "4px",
    "maxWidth": "320px",
}


@dataclass(frozen=True)
class MapView:
    """Where the map opens. Keep it identical across reruns: any change throws the user's pan
    and zoom back (see PITFALLS.md); change it only on an explicit re-centre or hub choice."""

    latitude: float
    longitude: float
    zoom: float


def view_over(hubs: pd.DataFrame, recentred: int = 0) -> MapView:
    """A view over these hubs (all of them when one is not chosen). `recentred` counts presses of
    "re-centre": each press nudges the zoom by a hair so the chart sees a new view."""
    lat = float(hubs["lat"].mean()) if len(hubs) else 40.73
    lon = float(hubs["lon"].mean()) if len(hubs) else -73.94
    zoom = 11.6 if len(hubs) == 1 else 10.0
    return MapView(round(lat, 5), round(lon, 5), zoom + (recentred % 2) * 1e-4)


def basemap_url(setting: str) -> str:
    """The style URL for a `BASEMAP_STYLE` value: a name from `BASEMAPS`, or a URL as given."""
    return BASEMAPS.get(setting.strip().lower(), setting)


TILE_PX = 512  # deck.gl's world is 512 pixels wide at zoom 0
MAX_FIT_ZOOM = 15.0


def fit_view(
    points: Sequence[tuple[float, float]], width_px: int, height_px: int, pad: float = 0.12
) -> MapView:
    """The view that shows every (lon, lat) point in a `width_px` x `height_px` map, with a
    margin of `pad` of each side, in Web Mercator (so a north-south route fits as well)."""
    if not points:
        return MapView(40.73, -73.94, 10.0)
    lons = [p[0] for p in points]
    lats = [max(-85.0, min(85.0, p[1])) for p in points]

    def merc_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    x_span = (max(lons) - min(lons)) / 360.0
    y_span = (merc_y(max(lats)) - merc_y(min(lats))) / (2 * math.pi)
    usable_w, usable_h = width_px * (1 - 2 * pad), height_px * (1 - 2 * pad)
    zooms = [math.log2(usable_w / (x_span * TILE_PX))] if x_span > 0 else []
    zooms += [math.log2(usable_h / (y_span * TILE_PX))] if y_span > 0 else []
    zoom = min([MAX_FIT_ZOOM, *zooms])
    mid_y = (merc_y(max(lats)) + merc_y(min(lats))) / 2
    lat = math.degrees(2 * math.atan(math.exp(mid_y)) - math.pi / 2)
    return MapView(round(lat, 5), round((max(lons) + min(lons)) / 2, 5), round(zoom, 2))


class RouteDrawing(Protocol):
    """One driver's route to draw (e.g. `core.agents.dispatch.RouteLine`): the driver's code
    and the path as (lon, lat) points."""

    @property
    def driver_code(self) -> str: ...

    @property
    def path(self) -> Sequence[tuple[float, float]]: ...


def change_deck(
    before: Sequence[RouteDrawing],
    after: Sequence[RouteDrawing],
    basemap_style: str,
    width_px: int = 640,
    height_px: int = 300,
) -> pdk.Deck:
    """A proposal's changed routes: as they are now (wide, slate) under what the proposal
    would make of them (magenta), fitted to every point of both."""

    def rows(lines: Sequence[RouteDrawing], when: str) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "path": [[round(lon, 5), round(lat, 5)] for lon, lat in line.path],
                    "tooltip": f"<b>{escape_html(line.driver_code)}</b> · {when}",
                }
                for line in lines
                if line.path
            ],
            columns=["path", "tooltip"],
        )

    points = [pt for line in (*before, *after) for pt in line.path]
    view = fit_view(points, width_px, height_px)
    layers = [
        pdk.Layer(
            "PathLayer",
            rows(before, "route now"),
            id="before",
            get_path="path",
            get_color=[*BEFORE_COLOUR, 200],
            width_units=PIXELS,
            get_width=7,
            joint_rounded=True,
            cap_rounded=True,
            pickable=True,
        ),
        pdk.Layer(
            "PathLayer",
            rows(after, "route after the change"),
            id="after",
            get_path="path",
            get_color=[*AFTER_COLOUR, 230],
            width_units=PIXELS,
            get_width=3,
            joint_rounded=True,
            cap_rounded=True,
            pickable=True,
        ),
    ]
    return pdk.Deck(
        layers=layers,
        map_style=basemap_url(basemap_style),
        initial_view_state=pdk.ViewState(
            latitude=view.latitude, longitude=view.longitude, zoom=view.zoom, pitch=0, bearing=0
        ),
        tooltip={"html": "{tooltip}", "style": TOOLTIP_STYLE},
    )


def escape_html(text: str) -> str:
    """Text from outside (codes, names, addresses) made safe for a deck.gl HTML tooltip."""
    return html.escape(text, quote=True)


def _esc(values: pd.Series) -> pd.Series:
    text = values.astype("str").fillna("")
    return (
        text.str.replace("&", "&amp;", regex=False)
        .str.replace("<", "&lt;", regex=False)
        .str.replace(">", "&gt;", regex=False)
        .str.replace('"', "&quot;", regex=False)
    )


_HH_MM = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(24 * 60)] + ["–"], dtype=object)


def _clock(values: pd.Series, tz: str) -> pd.Series:
    """ "HH:MM" in `tz` ("–" when missing), by table lookup: strftime is slow at 20k rows."""
    local = values.dt.tz_convert(tz)
    minute = (local.dt.hour * 60 + local.dt.minute).fillna(24 * 60).astype(int)
    return pd.Series(_HH_MM[minute.to_numpy()], index=values.index, dtype="str")


def _labels(values: pd.Series, labels: dict[str, str]) -> pd.Series:
    return values.map(labels).fillna(values).astype("str")


def _rgb(frame: pd.DataFrame, keys: pd.Series, colours: dict[str, RGB], prefix: str) -> pd.DataFrame:
    table = np.array([colours.get(k, (128, 128, 128)) for k in colours] + [(128, 128, 128)], dtype=np.int64)
    index = pd.Index(list(colours)).get_indexer(keys.astype("str"))
    rgb = table[np.where(index < 0, len(colours), index)]
    return frame.assign(**{f"{prefix}r": rgb[:, 0], f"{prefix}g": rgb[:, 1], f"{prefix}b": rgb[:, 2]})


def _driver_rows(live: LiveMap, tz: str) -> pd.DataFrame:
    d = live.drivers
    lat, lon = d["lat"].to_numpy(dtype=np.float64, copy=True), d["lon"].to_numpy(dtype=np.float64, copy=True)
    at_hub = (d["position_source"] == PositionSource.HOME_HUB).to_numpy()
    rank = d[at_hub].groupby("hub_id").cumcount().to_numpy()
    radius = HUB_CLUSTER_STEP_DEG * np.sqrt(rank + HUB_CLUSTER_FIRST_RING)
    lat[at_hub] += radius * np.sin(rank * GOLDEN_ANGLE)
    lon[at_hub] += radius * np.cos(rank * GOLDEN_ANGLE) * 1.3  # longitude degrees are shorter here
    where = np.where(at_hub, "waiting at home hub", "reported " + _clock(d["position_at"], tz))
    company = d["vendor_name"].fillna("own fleet")
    tip = (
        "<b>"
        + _esc(d["code"])
        + " · "
        + _esc(d["name"])
        + "</b><br/>"
        + _labels(d["fleet_type"], FLEET_LABELS)
        + " · "
        + _esc(company)
        + " · "
        + d["vehicle_type"]
        + "<br/>"
        + _labels(d["state"], STATE_LABELS)
        + " · "
        + d["stops_left"].astype("str")
        + " stops left · next ETA "
        + _clock(d["next_eta_at"], tz)
        + "<br/>"
        + where
    )
    rows = pd.DataFrame(
        {"lon": lon.round(5), "lat": lat.round(5), "code": d["code"].to_numpy(), "tooltip": tip.to_numpy()}
    )
    rows = _rgb(rows, d["fleet_type"], FLEET_COLOURS, "f")
    return _rgb(rows, d["state"], STATE_COLOURS, "s")


def _order_rows(live: LiveMap, tz: str) -> pd.DataFrame:
    o = live.orders
    window = _clock(o["window_start_at"], tz) + "–" + _clock(o["window_end_at"], tz)
    done = _clock(o["delivered_at"], tz)
    when = np.where(
        o["eta_at"].notna(),
        "ETA " + _clock(o["eta_at"], tz),
        np.where(o["delivered_at"].notna(), "delivered " + done, "no ETA yet"),
    )
    tip = (
        "<b>"
        + _esc(o["ref"])
        + "</b> · "
        + _labels(o["live_status"], ORDER_LABELS)
        + "<br/>"
        + _labels(o["sla_kind"], SLA_LABELS)
        + " window "
        + window
        + " · "
        + when
        + "<br/>"
        + "driver "
        + o["driver_code"].fillna("–")
        + " · zone "
        + _esc(o["zone"])
        + "<br/>"
        + _esc(o["address"])
    )
    rows = pd.DataFrame(
        {"lon": o["lon"].round(5).to_numpy(), "lat": o["lat"].round(5).to_numpy(), "tooltip": tip.to_numpy()}
    )
    return _rgb(rows, o["live_status"], ORDER_COLOURS, "")


def _route_rows(live: LiveMap) -> pd.DataFrame:
    r = live.routes
    codes = r["driver_id"].map(live.drivers.set_index("driver_id")["code"]) if len(r) else r["driver_id"]
    tip = "<b>Route of " + _esc(codes) + "</b><br/>" + r["stops_left"].astype("str") + " stops left"
    rows = pd.DataFrame({"path": r["path"].to_numpy(), "tooltip": tip.to_numpy()})
    return _rgb(rows, r["fleet_type"], FLEET_COLOURS, "")


def _hub_rows(live: LiveMap) -> pd.DataFrame:
    h = live.hubs
    return pd.DataFrame(
        {
            "lon": h["lon"].round(5),
            "lat": h["lat"].round(5),
            "code": h["code"],
            "tooltip": ("<b>Hub " + _esc(h["code"]) + "</b><br/>" + _esc(h["name"])).to_numpy(),
        }
    )


class CompactDeck(pdk.Deck):  # type: ignore[misc]
    """A Deck whose JSON is compact, written once and shared by every viewer it is shown to.

    pydeck writes its JSON indented and key-sorted, which forces Python's pure-Python encoder:
    seconds for 20,000 orders. Here the layers carry no rows while pydeck writes the (small)
    spec; each layer's rows are then spliced in from its frame, encoded in C. The text is
    made when the deck is, so a deck shown to many viewers at once is never encoded twice.
    """

    def __init__(self, frames: dict[str, pd.DataFrame], **kwargs: object) -> None:
        super().__init__(**kwargs)
        spec = json.loads(super().to_json())
        for layer in spec["layers"]:
            layer["data"] = f"@@rows:{layer['id']}@@"
        text = json.dumps(spec, separators=(",", ":"))
        for layer_id, frame in frames.items():
            text = text.replace(
                f'"@@rows:{layer_id}@@"',
                frame.to_json(orient="records", double_precision=6, force_ascii=False),
            )
        self._json = text

    def to_json(self) -> str:
        return self._json


def live_deck(live: LiveMap, view: MapView, basemap_style: str, tz: str) -> pdk.Deck:
    """The live map as a deck: routes, orders, drivers, hubs (bottom to top)."""
    hubs = _hub_rows(live)
    frames = {
        "routes": _route_rows(live),
        "orders": _order_rows(live, tz),
        "drivers": _driver_rows(live, tz),
        "hubs": hubs,
        "hub-labels": hubs,
    }
    layers = [
        pdk.Layer(
            "PathLayer",
            [],
            id="routes",
            get_path="path",
            get_color="[r, g, b, 170]",
            width_units=PIXELS,
            get_width=3,
            pickable=True,
            joint_rounded=True,
            cap_rounded=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            [],
            id="orders",
            get_position="[lon, lat]",
            get_fill_color="[r, g, b, 215]",
            radius_units=PIXELS,
            get_radius=4,
            pickable=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            [],
            id="drivers",
            get_position="[lon, lat]",
            get_fill_color="[fr, fg, fb, 235]",
            get_line_color="[sr, sg, sb, 255]",
            stroked=True,
            radius_units=PIXELS,
            get_radius=7,
            line_width_units=PIXELS,
            get_line_width=3,
            pickable=True,
        ),
        pdk.Layer(
            "ScatterplotLayer",
            [],
            id="hubs",
            get_position="[lon, lat]",
            get_fill_color=list(HUB_COLOUR),
            radius_units=PIXELS,
            get_radius=15,
            pickable=True,
        ),
        pdk.Layer(
            "TextLayer",
            [],
            id="hub-labels",
            get_position="[lon, lat]",
            get_text="code",
            get_size=10,
            get_color=[255, 255, 255],
            font_weight=700,
            pickable=False,
        ),
    ]
    return CompactDeck(
        frames,
        layers=layers,
        map_style=basemap_url(basemap_style),
        initial_view_state=pdk.ViewState(
            latitude=view.latitude, longitude=view.longitude, zoom=view.zoom, pitch=0, bearing=0
        ),
        tooltip={"html": "{tooltip}", "style": TOOLTIP_STYLE},
    )


@dataclass(frozen=True)
class MapFilters:
    """The live map's filters (None: no filter), hashable so viewers with the same ones share."""

    hub_ids: frozenset[int] | None = None
    fleet_types: frozenset[FleetType] | None = None
    vendor_ids: frozenset[int] | None = None
    order_states: frozenset[LiveStatus] | None = None
    driver_states: frozenset[DriverState] | None = None


@dataclass(frozen=True)
class LivePanel:
    """What the live map shows for one snapshot and set of filters: the KPI strip (hub, fleet
    type and vendor filters), the map (the state filters too) and its counts."""

    kpis: LiveKpis
    deck: pdk.Deck
    now: datetime
    drivers: int
    routes: int
    orders: int


def live_panel(live: LiveMap, filters: MapFilters, view: MapView, basemap_style: str, tz: str) -> LivePanel:
    f = filters
    narrowed = live.filtered(hub_ids=f.hub_ids, fleet_types=f.fleet_types, vendor_ids=f.vendor_ids)
    shown = narrowed.with_order_states(f.order_states).with_driver_states(f.driver_states)
    return LivePanel(
        narrowed.kpis(),
        live_deck(shown, view, basemap_style, tz),
        live.now,
        len(shown.drivers),
        len(shown.routes),
        len(shown.orders),
    )

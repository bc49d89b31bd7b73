"""Map builders (pure): the basemap setting, a view fitted to what it must show, and the
proposal's before/after map."""

from __future__ import annotations

import json
import math

import pydeck as pdk

from core.agents.dispatch import RouteLine
from ui import maps


def _pixel(lon: float, lat: float, view: maps.MapView) -> tuple[float, float]:
    """Where (lon, lat) lands, in pixels from the map's centre, at the view's zoom (Web Mercator)."""
    scale = maps.TILE_PX * 2**view.zoom

    def x(v: float) -> float:
        return (v + 180) / 360 * scale

    def y(v: float) -> float:
        return (1 - math.log(math.tan(math.pi / 4 + math.radians(v) / 2)) / math.pi) / 2 * scale

    return x(lon) - x(view.longitude), y(lat) - y(view.latitude)


def test_the_basemap_setting_takes_a_name_or_a_style_url() -> None:
    assert maps.basemap_url("road") == pdk.map_styles.CARTO_ROAD
    assert maps.basemap_url("Blank") == "/app/static/blank_style.json"
    assert maps.basemap_url("https://tiles.example.org/style.json") == "https://tiles.example.org/style.json"


def test_a_fitted_view_shows_every_point_inside_the_frame() -> None:
    points = [(-74.02, 40.70), (-73.90, 40.86), (-73.95, 40.75)]  # a long north-south route
    view = maps.fit_view(points, 390, 320)
    for lon, lat in points:
        dx, dy = _pixel(lon, lat, view)
        assert abs(dx) <= 390 / 2 and abs(dy) <= 320 / 2, (lon, lat, dx, dy)
    tighter = maps.fit_view(points[:1] + [(-74.01, 40.71)], 390, 320)
    assert tighter.zoom > view.zoom + 2  # a short hop is shown much closer


def test_one_point_is_shown_close_but_not_at_street_number_zoom() -> None:
    view = maps.fit_view([(-73.95, 40.72)], 390, 320)
    assert (view.longitude, view.latitude, view.zoom) == (-73.95, 40.72, maps.MAX_FIT_ZOOM)


def test_the_proposal_map_draws_before_under_after_in_two_colours_fitted_to_both() -> None:
    hub = (-73.95, 40.70)
    before = [RouteLine("C-001", "captive", 2, (hub, (-73.90, 40.72), (-73.88, 40.74), hub))]
    after = [
        RouteLine("C-001", "captive", 1, (hub, (-73.90, 40.72), hub)),
        RouteLine("G-002", "gig", 1, (hub, (-74.05, 40.66), hub)),
    ]
    spec = json.loads(maps.change_deck(before, after, "blank", 640, 300).to_json())
    layers = {layer["id"]: layer for layer in spec["layers"]}
    assert list(layers) == ["before", "after"]  # drawn in this order: after on top
    assert layers["before"]["getColor"][:3] == list(maps.BEFORE_COLOUR)
    assert layers["after"]["getColor"][:3] == list(maps.AFTER_COLOUR)
    assert [row["tooltip"] for row in layers["after"]["data"]] == [
        "<b>C-001</b> · route after the change",
        "<b>G-002</b> · route after the change",
    ]
    assert spec["mapStyle"] == "/app/static/blank_style.json"
    state = spec["initialViewState"]
    view = maps.MapView(state["latitude"], state["longitude"], state["zoom"])
    for line in (*before, *after):
        for lon, lat in line.path:
            dx, dy = _pixel(lon, lat, view)
            assert abs(dx) <= 320 and abs(dy) <= 150, (lon, lat)

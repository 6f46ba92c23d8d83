"""The map as a person sees it: headless Chromium against the app on 127.0.0.1."""
from urllib.parse import urlsplit

import pytest

from tests.synthetic import HOSTILE

pytestmark = pytest.mark.browser

COUNT_JS = """() => ({
  districts: document.querySelectorAll('path.ocop-district').length,
  products: OcopMap.layers.products.getLayers().length,
  destinations: OcopMap.layers.destinations.getLayers().length,
  communes: OcopMap.layers.communes.getLayers().length,
  visibleMarkers: document.querySelectorAll('.leaflet-marker-icon').length,
})"""

def open_popup(w, key, fid):
    """Open a feature's popup the way the app does (zooming into its cluster) and return it."""
    assert w.page.evaluate("([k, id]) => OcopMap.open(k, id)", [key, fid])
    w.page.wait_for_selector(".leaflet-popup-content", timeout=10000)
    return w.page.locator(".leaflet-popup-content")


def load_map(watch, url, **context_args):
    w = watch(**context_args)
    w.page.goto(url + "/", wait_until="load")
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    w.page.wait_for_selector("path.ocop-district", timeout=15000)
    return w


def test_map_draws_districts_and_every_marker(watch, live_server, app, tmp_path):
    st = app.extensions["ocop"]
    w = load_map(watch, live_server.url, viewport={"width": 1280, "height": 800})
    counts = w.page.evaluate(COUNT_JS)
    assert counts["districts"] == 15
    assert counts["products"] == len(st.products)
    assert counts["destinations"] == len(st.dataset.destinations)
    assert counts["communes"] == 114  # the 2025 units: a layer the user can switch on
    assert counts["visibleMarkers"] > 0
    w.page.screenshot(path=str(tmp_path / "map-desktop.png"))
    assert w.errors == []
    # Only the configured tile server was asked for, and the map drew without it.
    tile_host = urlsplit(app.config["TILE_URL"]).hostname
    assert w.outside_hosts() <= {tile_host}, w.outside


def test_map_works_on_a_phone_with_tiles_unreachable(watch, live_server, tmp_path):
    w = load_map(watch, live_server.url, viewport={"width": 390, "height": 844},
                 device_scale_factor=2, is_mobile=True, has_touch=True)
    assert w.page.evaluate(COUNT_JS)["districts"] == 15
    overflow = w.page.evaluate("() => document.documentElement.scrollWidth > innerWidth")
    assert not overflow
    w.page.screenshot(path=str(tmp_path / "map-phone.png"))
    assert w.errors == []


def test_popup_shows_product_details(watch, live_server, app):
    st = app.extensions["ocop"]
    w = load_map(watch, live_server.url)
    first = st.products.iloc[len(st.products) // 2]
    popup = open_popup(w, "products", first["id"])
    assert first["name"] in popup.inner_text()
    assert first["address"] in popup.inner_text()
    assert "nan" not in popup.inner_text().split()


def test_hostile_names_show_as_text_and_run_nothing(watch, hostile_server, tmp_path):
    w = load_map(watch, hostile_server.url)
    counts = w.page.evaluate(COUNT_JS)
    assert counts["districts"] == 15 and counts["products"] == 12
    popup = open_popup(w, "products", "test-5")
    text = popup.inner_text()
    assert HOSTILE in text  # shown literally, quotes, backtick, ${...} and backslash included
    assert popup.locator("img").count() == 0
    # Hover a district and a destination: their tooltips must not run the payload either.
    w.page.hover(".leaflet-marker-icon >> nth=0")
    w.page.screenshot(path=str(tmp_path / "hostile.png"))
    assert w.dialogs == []
    assert w.page.evaluate("() => document.querySelectorAll('img[src=x]').length") == 0
    assert w.errors == []

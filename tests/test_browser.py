"""The map as a person sees it: headless Chromium against the app on 127.0.0.1."""
from urllib.parse import urlsplit

import pytest

from tests.synthetic import HOSTILE
from tests.synthetic import N_DISTRICTS

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
    w.page.wait_for_selector(".leaflet-popup-content .ocop-popup", timeout=10000)
    return w.page.locator(".leaflet-popup-content")


def open_tab(w, name):
    """Open one view of the map's panel (filters, legend, near) unless it is open."""
    tab = w.page.locator(f".ocop-tab-{name}")
    if tab.get_attribute("aria-expanded") != "true":
        tab.click()


# A chosen feature's details: a popup on large screens, the panel's sheet on phones.
FEATURE = ".leaflet-popup-content .ocop-popup, .ocop-view-feature:not([hidden]) .ocop-popup"


def load_map(watch, url, path="/", **context_args):
    w = watch(**context_args)
    w.page.goto(url + path, wait_until="load")
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    # Drawn, though not every district need be in view (a link may zoom in).
    w.page.wait_for_selector("path.ocop-district", state="attached", timeout=15000)
    return w


def test_map_draws_districts_and_every_marker(watch, live_server, app, tmp_path):
    st = app.extensions["ocop"]
    w = load_map(watch, live_server.url, viewport={"width": 1280, "height": 800})
    counts = w.page.evaluate(COUNT_JS)
    assert counts["districts"] == N_DISTRICTS
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
    assert w.page.evaluate(COUNT_JS)["districts"] == N_DISTRICTS
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


# The centre of a marker drawn in the free part of the screen (not under the side panel).
VISIBLE_MARKER_JS = """() => {
  const free = document.querySelector('.ocop-side').getBoundingClientRect().right;
  for (const n of document.querySelectorAll('.leaflet-marker-icon')) {
    const r = n.getBoundingClientRect();
    if (r.left > free && r.right < innerWidth && r.top > 0 && r.bottom < innerHeight)
      return [r.x + r.width / 2, r.y + r.height / 2];
  }
}"""


def test_hostile_names_show_as_text_and_run_nothing(watch, hostile_server, tmp_path):
    w = load_map(watch, hostile_server.url)
    counts = w.page.evaluate(COUNT_JS)
    assert counts["districts"] == N_DISTRICTS and counts["products"] == 12
    popup = open_popup(w, "products", "test-5")
    text = popup.inner_text()
    assert HOSTILE in text  # shown literally, quotes, backtick, ${...} and backslash included
    assert popup.locator("img").count() == 0
    # Hover a district and a destination: their tooltips must not run the payload either.
    # (Close the popup first: it may cover the marker.)
    w.page.evaluate("() => OcopMap.map.closePopup()")
    w.page.mouse.move(*w.page.evaluate(VISIBLE_MARKER_JS))
    w.page.screenshot(path=str(tmp_path / "hostile.png"))
    assert w.dialogs == []
    assert w.page.evaluate("() => document.querySelectorAll('img[src=x]').length") == 0
    assert w.errors == []


# -- tourists: search, filters, permalinks, nearby, language (issue: find, filter, nearby) --

def test_search_without_accents_opens_the_product(watch, live_server):
    w = load_map(watch, live_server.url, "/?lang=vi")
    w.page.fill("#ocop-q", "")
    w.page.type("#ocop-q", "nuoc mam", delay=20)
    options = w.page.locator("#ocop-results [role=option]")
    assert options.count() >= 1
    first = options.nth(0).inner_text()
    assert "Nước mắm" in first
    w.page.keyboard.press("ArrowDown")
    w.page.keyboard.press("ArrowUp")
    w.page.keyboard.press("Enter")
    popup = w.page.wait_for_selector(".leaflet-popup-content .ocop-popup", timeout=10000)
    assert first.splitlines()[0] in popup.inner_text()
    assert "sel=products" in w.page.url
    # đ folds to d: "do son" finds the district Đồ Sơn.
    w.page.fill("#ocop-q", "do son")
    assert "Đồ Sơn" in w.page.locator("#ocop-results").inner_text()
    assert w.errors == []


def test_js_and_python_fold_text_the_same_way(watch, live_server):
    from geo.text import fold
    samples = ["Đồ Sơn", "Nước mắm Cát Hải", "MẬT ONG Tùng Hằng", "  Thủy  Nguyên ", "Gạo rươi",
               "Bạch Long Vĩ", "Ưu đãi Ơn"]
    w = load_map(watch, live_server.url)
    assert w.page.evaluate("s => s.map(OcopMap.fold)", samples) == [fold(s) for s in samples]


def test_filter_moves_markers_counts_legend_and_download_link(watch, live_server, app):
    st = app.extensions["ocop"]
    n4 = int((st.products["stars"] == 4).sum())
    w = load_map(watch, live_server.url)
    open_tab(w, "filters")
    w.page.check("input[name=stars][value='4']")
    assert w.page.evaluate("() => OcopMap.layers.products.getLayers().length") == n4
    assert f"{n4} " in w.page.locator(".ocop-status").inner_text()
    assert "stars=4" in w.page.url
    href = w.page.get_attribute(".ocop-links a[data-format=geojson]", "href")
    assert "stars=4" in href and "bbox=" in href
    # The download gives exactly what the map shows (inside the current view).
    shown = w.page.evaluate("""() => OcopMap.layers.products.getLayers()
        .filter(m => OcopMap.map.getBounds().contains(m.getLatLng())).length""")
    doc = w.page.evaluate("url => fetch(url).then(r => r.json())", href)
    assert len(doc["features"]) == shown
    # District colours follow: the tooltips count only 4-star products.
    tips = w.page.evaluate("""() => { const out = []; OcopMap.layers.districts.eachLayer(
        l => out.push(l.getTooltip().getContent())); return out.join(' '); }""")
    assert "3★ 0" in tips and "5★ 0" in tips
    assert w.errors == []


def test_permalink_reopens_the_same_map(watch, live_server, app):
    st = app.extensions["ocop"]
    target = st.products[st.products["stars"] == 4].iloc[0]
    w = load_map(watch, live_server.url, "/?lang=en")
    open_tab(w, "filters")
    w.page.check("input[name=stars][value='4']")
    open_popup(w, "products", target["id"])
    w.page.wait_for_timeout(500)
    link = w.page.url
    assert "sel=products" in link and "stars=4" in link and "view=" in link
    again = watch()
    again.page.goto(link)
    again.page.wait_for_selector(".leaflet-popup-content .ocop-popup", timeout=10000)
    assert target["name_en"] in again.page.locator(".leaflet-popup-content").inner_text()
    assert again.page.is_checked("input[name=stars][value='4']")
    assert again.page.evaluate("() => OcopMap.layers.products.getLayers().length") == \
        int((st.products["stars"] == 4).sum())
    assert again.page.evaluate("() => document.documentElement.lang") == "en"
    assert again.errors == []


def test_destination_popup_lists_nearby_products_that_open(watch, live_server, app):
    w = load_map(watch, live_server.url)
    dest = w.page.evaluate("""async () => {
        const url = OcopMap.opts.urls.popups.replace('{layer}', 'destinations');
        const all = await fetch(url).then(r => r.json());
        return Object.keys(all).find(id => all[id].includes('data-ocop-open="products:')); }""")
    popup = open_popup(w, "destinations", dest)
    assert "km" in popup.inner_text()
    link = popup.locator("a[data-ocop-open^='products:']").first
    name = link.inner_text()
    link.click()
    w.page.wait_for_function(
        "name => [...document.querySelectorAll('.leaflet-popup-content h2')]"
        ".some(h => h.textContent === name)", arg=name, timeout=10000)
    assert "sel=products" in w.page.url
    assert "google.com/maps/dir" in w.page.inner_html(".leaflet-popup-content")


def test_language_switch_keeps_the_state(watch, live_server):
    w = load_map(watch, live_server.url, "/?lang=vi&stars=3")
    assert "Bản đồ sản phẩm OCOP Hải Phòng" in w.page.inner_text(".ocop-bar")
    w.page.click("a.ocop-lang")
    w.page.wait_for_selector("[data-ocop-ready]")
    assert w.page.evaluate("() => document.documentElement.lang") == "en"
    assert "Hải Phòng OCOP products map" in w.page.inner_text(".ocop-bar")
    assert "stars=3" in w.page.url


def test_hostile_url_is_ignored_and_reported_as_text(watch, live_server):
    w = watch()
    w.page.goto(live_server.url + "/?stars=9&category=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"
                "&view=99/1/1&q=%3Cscript%3Ealert(2)%3C/script%3E")
    w.page.wait_for_selector("[data-ocop-ready]")
    note = w.page.inner_text(".ocop-notice")
    assert "stars=9" in note and "<img src=x" in note  # shown as text
    assert w.page.evaluate("() => document.querySelectorAll('img[src=x]').length") == 0
    assert w.dialogs == [] and w.errors == []


@pytest.mark.parametrize("size", [(390, 844), (1280, 800)])
def test_usable_at_phone_and_desktop_size(watch, live_server, tmp_path, size):
    w = load_map(watch, live_server.url, viewport={"width": size[0], "height": size[1]},
                 is_mobile=size[0] < 600, has_touch=size[0] < 600)
    assert not w.page.evaluate("() => document.documentElement.scrollWidth > innerWidth")
    for sel in ("#ocop-q", ".ocop-tab-filters", ".ocop-tab-near", ".leaflet-control-zoom-in"):
        box = w.page.locator(sel).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= size[0], sel
    w.page.fill("#ocop-q", "gao")
    w.page.keyboard.press("Enter")
    popup = w.page.wait_for_selector(FEATURE, timeout=10000)
    w.page.wait_for_timeout(600)
    box = popup.bounding_box() if size[0] > 600 else w.page.locator(".ocop-sheet").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= size[0]
    assert box["y"] >= 0 and box["y"] + box["height"] <= size[1]
    w.page.screenshot(path=str(tmp_path / f"map-{size[0]}x{size[1]}.png"))
    assert w.errors == []


def test_near_me_when_location_is_refused_and_when_given(watch, live_server):
    refused = load_map(watch, live_server.url, permissions=[])
    refused.page.click(".ocop-tab-near")
    refused.page.wait_for_function(
        "() => /long-press|nhấn giữ|chạm giữ/i.test(document.querySelector('.ocop-near-status')"
        ".textContent)", timeout=15000)
    assert refused.errors == []

    given = load_map(watch, live_server.url, permissions=["geolocation"],
                     geolocation={"latitude": 20.8585, "longitude": 106.6839})
    given.page.click(".ocop-tab-near")
    given.page.wait_for_selector(".ocop-near-list .ocop-near-item", timeout=15000)
    href = given.page.get_attribute(".ocop-view-near a[href*='/nearby']", "href")
    assert "near=106.68390%2C20.85850" in href or "near=106.6839" in href
    given.page.goto(live_server.url + href)
    assert "km" in given.page.inner_text("main")
    assert given.errors == []

"""The map takes the same CQL2 `filter` as the OGC API and the downloads: headless Chromium
against the app on 127.0.0.1."""
from urllib.parse import quote

import pytest

from tests.test_browser import load_map, open_tab

pytestmark = pytest.mark.browser

PRODUCTS = "() => OcopMap.layers.products.getLayers().length"
DESTINATIONS = "() => OcopMap.layers.destinations.getLayers().length"


def wait_count(w, js, n):
    w.page.wait_for_function(f"n => ({js})() === n", arg=n, timeout=10000)


def test_map_filter_shows_the_matching_products_and_keeps_it_in_links(watch, live_server, app):
    st = app.extensions["ocop"]
    p = st.products
    text = "stars >= 4 AND category = 'food'"
    n = int(((p["stars"] >= 4) & (p["category"] == "food")).sum())
    assert 0 < n < len(p)
    w = load_map(watch, live_server.url, f"/?lang=en&filter={quote(text)}")
    wait_count(w, PRODUCTS, n)
    # Like the map's other filters, it acts on products only.
    assert w.page.evaluate(DESTINATIONS) == len(st.dataset.destinations)
    assert "filter=" in w.page.url
    href = w.page.get_attribute(".ocop-links a[data-format=geojson]", "href")
    assert "filter=" in href
    shown = w.page.evaluate("""() => OcopMap.layers.products.getLayers()
        .filter(m => OcopMap.map.getBounds().contains(m.getLatLng())).length""")
    doc = w.page.evaluate("url => fetch(url).then(r => r.json())", href)
    assert len(doc["features"]) == shown
    # The map's own filters add to it; clearing them all removes it too.
    open_tab(w, "filters")
    w.page.check("input[name=stars][value='5']")
    n5 = int(((p["stars"] == 5) & (p["category"] == "food")).sum())
    wait_count(w, PRODUCTS, n5)
    assert "filter=" in w.page.url and "stars=5" in w.page.url
    w.page.get_by_role("button", name="Clear filters").click()
    wait_count(w, PRODUCTS, len(p))
    assert "filter=" not in w.page.url
    assert w.errors == []


def test_map_filter_acts_on_products_as_the_other_filters_do(watch, live_server, app):
    st = app.extensions["ocop"]
    first = st.products["name"].iloc[0]
    w = load_map(watch, live_server.url, f"/?filter={quote(f'name = {first!r}')}")
    wait_count(w, PRODUCTS, int((st.products["name"] == first).sum()))
    assert w.page.evaluate(DESTINATIONS) == len(st.dataset.destinations)
    assert w.errors == []


def test_a_bad_map_filter_is_reported_as_text_and_ignored(watch, live_server, app):
    st = app.extensions["ocop"]
    w = load_map(watch, live_server.url, "/?lang=en&filter=" + quote("colour = '<b>x</b>'"))
    w.page.wait_for_function(
        "() => document.querySelector('.ocop-notice').textContent.includes('colour')",
        timeout=10000)
    note = w.page.inner_text(".ocop-notice")
    assert "filter=colour = '<b>x</b>'" in note and "unknown property" in note
    assert w.page.evaluate(PRODUCTS) == len(st.products)
    assert w.page.evaluate("() => document.querySelectorAll('.ocop-notice b').length") == 0
    # The API's 400 is the only thing the console reports (Chromium logs every refused fetch).
    assert w.dialogs == []
    assert all("status of 400" in e and "/ogc/collections/products/items" in e
               for e in w.errors), w.errors

"""Client bugs of static/ocop-map.js, each pinned by a browser test.

1. A `q` in the URL with the search control off (the embed's default, or `controls` without
   `search`) threw a TypeError in OcopMap.decorate: the map never became ready and `sel` never
   opened its popup.
2. A failed popup fetch (e.g. a 503) was cached for good: every popup of that layer said
   "try again" until the page was reloaded.
"""
import json
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest

from tests.conftest import PageWatch

pytestmark = pytest.mark.browser

CONTROLS = ["zoom", "layers", "legend", "search", "filters", "locate"]
LAYERS = ["products", "destinations", "districts", "communes"]

# `controls`: absent (the page's default: the embed's has no search), none, each one alone,
# all, and all but search. `layers`: each one alone and all.
CONTROL_CASES = [None, "", *CONTROLS, ",".join(CONTROLS),
                 ",".join(c for c in CONTROLS if c != "search")]
LAYER_CASES = [*LAYERS, ",".join(LAYERS)]

# Resolves once the map is ready or the page has thrown, so a broken page fails fast.
ERRORS_INIT = """window.__ocopErrors = [];
window.addEventListener('error', function (e) { window.__ocopErrors.push(String(e.message)); });"""
READY_OR_ERROR = ("() => document.querySelector('[data-ocop-ready]') || "
                  "(window.__ocopErrors && window.__ocopErrors.length)")


def _features(base: str, collection: str) -> list[dict]:
    with urlopen(f"{base}/export/{collection}.geojson", timeout=10) as r:
        return json.load(r)["features"]


@pytest.fixture(scope="module")
def features(live_server):
    """One real feature per point layer: (id, a text its popup shows)."""
    prods = _features(live_server.url, "products")
    dests = _features(live_server.url, "destinations")
    communes = _features(live_server.url, "communes")
    p, d, c = prods[len(prods) // 2], dests[len(dests) // 2], communes[len(communes) // 2]
    return {"products": (p["properties"]["id"], p["properties"]["name"]),
            "destinations": (d["properties"]["id"], d["properties"]["name"]),
            "communes": (str(c["properties"]["code"]), c["properties"]["full_name"])}


@pytest.fixture(scope="module")
def shared_page(browser):
    """One page for every combination: each test navigates it afresh."""
    w = PageWatch(browser, viewport={"width": 1280, "height": 800})
    w.page.add_init_script(ERRORS_INIT)
    yield w
    w.close()


def _label(v):
    return "absent" if v is None else (v or "empty")


@pytest.mark.parametrize("path", ["/", "/embed"])
@pytest.mark.parametrize("layers", LAYER_CASES)
@pytest.mark.parametrize("controls", CONTROL_CASES, ids=_label)
def test_q_and_sel_work_with_any_controls_and_layers(shared_page, live_server, features,
                                                     path, layers, controls):
    w = shared_page
    w.errors.clear()
    shown = layers.split(",")
    # Select a feature of the one point layer shown, else a product.
    sel_layer = shown[0] if len(shown) == 1 and shown[0] != "districts" else "products"
    fid, text = features[sel_layer]
    params = {"q": "x", "layers": layers, "sel": f"{sel_layer}:{fid}"}
    if controls is not None:
        params["controls"] = controls
    w.page.goto(f"{live_server.url}{path}?{urlencode(params)}", wait_until="load")
    w.page.wait_for_function(READY_OR_ERROR, timeout=15000)
    assert w.page.evaluate("() => window.__ocopErrors") == []
    assert w.page.locator("[data-ocop-ready]").count() == 1
    if controls is not None and "search" in controls.split(","):
        assert w.page.input_value("#ocop-q") == "x"
    if sel_layer in shown:
        popup = w.page.wait_for_selector(".leaflet-popup-content .ocop-popup", timeout=10000)
        assert text in popup.inner_text()
        assert w.page.evaluate("() => OcopMap.state.sel") == f"{sel_layer}:{fid}"
    assert "q=x" in w.page.url  # the state written back to the URL keeps the query
    assert w.errors == []


def test_a_failed_popup_fetch_is_tried_again(watch, live_server, features):
    w = watch(viewport={"width": 1280, "height": 800})
    failed = []

    def first_fails(route):
        if not failed:
            failed.append(route.request.url)
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    w.page.route(lambda url: "popups" in url and "products" in url, first_fails)
    w.page.goto(live_server.url + "/", wait_until="load")
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    fid, text = features["products"]
    unavailable = w.page.evaluate("() => OcopMap.opts.messages.popup_unavailable")

    assert w.page.evaluate("([k, id]) => OcopMap.open(k, id)", ["products", fid])
    content = w.page.locator(".leaflet-popup-content")
    content.get_by_text(unavailable).wait_for(timeout=10000)
    assert len(failed) == 1

    w.page.evaluate("() => OcopMap.map.closePopup()")
    w.page.wait_for_selector(".leaflet-popup", state="detached", timeout=5000)

    assert w.page.evaluate("([k, id]) => OcopMap.open(k, id)", ["products", fid])
    popup = w.page.wait_for_selector(".leaflet-popup-content .ocop-popup", timeout=10000)
    assert text in popup.inner_text()
    assert unavailable not in popup.inner_text()
    # The only error is the 503 the test answered.
    assert len(w.errors) == 1 and "503" in w.errors[0], w.errors

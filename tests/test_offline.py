"""Works with no signal after one visit: manifest, icons, favicon and the service worker
(web/offline.py, web/sw.js, static/pwa.js)."""
import io
import json
import re
import time

import pytest
from PIL import Image

import web.state
from app import create_app
from geo import importer
from tests.conftest import LiveServer, free_port
from tests.test_import import DATA

SETTINGS = re.compile(r"self\.OCOP = (.*);\n")


def worker(client, **kw):
    """(settings, response) of /sw.js."""
    resp = client.get("/sw.js", **kw)
    return json.loads(SETTINGS.match(resp.get_data(as_text=True)).group(1)), resp


@pytest.mark.parametrize("lang,title", [("vi", "Bản đồ sản phẩm OCOP Hải Phòng"),
                                        ("en", "Hải Phòng OCOP products map")])
def test_manifest_is_valid_in_the_page_language_with_icons_that_exist(client, lang, title):
    resp = client.get(f"/manifest.webmanifest?lang={lang}")
    assert resp.status_code == 200 and resp.mimetype == "application/manifest+json"
    m = json.loads(resp.data)
    assert m["name"] == title and m["lang"] == lang and m["short_name"]
    assert m["start_url"] == f"/?lang={lang}" and m["scope"] == "/"
    assert m["display"] == "standalone" and re.fullmatch(r"#[0-9a-f]{6}", m["theme_color"])
    found = set()
    for icon in m["icons"]:
        r = client.get(icon["src"])
        assert r.status_code == 200 and r.mimetype == "image/png", icon
        img = Image.open(io.BytesIO(r.data))
        assert img.format == "PNG" and f"{img.width}x{img.height}" == icon["sizes"], icon
        found.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= found


def test_favicon_and_apple_touch_icon(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    ico = Image.open(io.BytesIO(r.data))
    assert ico.format == "ICO" and {(16, 16), (32, 32), (48, 48)} <= set(ico.ico.sizes())
    html = client.get("/?lang=vi").get_data(as_text=True)
    touch = re.search(r'<link rel="apple-touch-icon" href="([^"]+)"', html).group(1)
    assert Image.open(io.BytesIO(client.get(touch).data)).size == (180, 180)


def test_the_full_map_registers_the_worker_and_the_embed_does_not(client):
    full = client.get("/?lang=en").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest?lang=en">' in full
    assert '<meta name="ocop-service-worker" content="/sw.js">' in full
    assert re.search(r'<script nonce="[^"]+" src="/static/pwa.js">', full)
    embed = client.get("/embed?lang=en").get_data(as_text=True)
    assert "pwa.js" not in embed and "manifest" not in embed


def test_static_build_has_no_worker(app):
    from flask_babel import force_locale

    from geo.mapbuild import build_map, page_parts
    from web.i18n import messages
    from web.static_site import _static_config

    st = app.extensions["ocop"]
    with app.test_request_context("/"), force_locale("vi"):
        cfg = _static_config("vi", "full", messages())
        shell, _ = page_parts(build_map(st.dataset, st.products,
                                        st.collections["destinations"].frame, st.counts, cfg),
                              "vi", "map-vi-full.js")
    assert "pwa.js" not in shell and "ocop-service-worker" not in shell


def test_worker_is_ours_uncached_and_copies_the_map(client, app):
    settings, resp = worker(client)
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Cache-Control"] == "no-cache"
    assert client.get("/sw.js", headers={"If-None-Match": resp.headers["ETag"]}).status_code == 304
    # Its own CSP lets it fetch tiles (to keep them), and nothing else outside.
    csp = dict(p.strip().split(" ", 1) for p in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["connect-src"] == "'self' https://tile.openstreetmap.org"
    page_csp = client.get("/").headers["Content-Security-Policy"]
    assert "worker-src 'self'" in page_csp and "connect-src 'self';" in page_csp
    version = app.extensions["ocop"].version
    assert settings["version"] == version and version in settings["cache"]
    urls = settings["precache"]
    for lang in ("vi", "en"):
        assert f"/?lang={lang}" in urls and f"/map/{version}/{lang}/full.js" in urls
        assert f"/map/{version}/{lang}/embed.js" in urls
        for layer in ("products", "destinations", "communes"):
            assert f"/map/{version}/{lang}/popups-{layer}.json" in urls
    assert {"/static/ocop-map.js", "/static/ocop-map.css", "/vendor/leaflet/leaflet.js",
            "/export/products.geojson", "/favicon.ico"} <= set(urls)
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert re.match(settings["tiles"], "https://tile.openstreetmap.org")


def test_worker_urls_follow_the_script_root():
    # A new app: the page shells (whose asset URLs the worker copies) are built for the script
    # root of the first request, as one deployment has one root.
    client = create_app({"TESTING": True}).test_client()
    settings, _ = worker(client, base_url="http://localhost/ocop/")
    assert all(u.startswith("/ocop/") for u in settings["precache"]), settings["precache"]
    assert all(p.startswith("/ocop/") for p in settings["cacheFirst"])
    assert set(settings["pages"]) == {"/ocop/", "/ocop/embed"}


def test_a_new_data_version_changes_the_worker(data_copy, monkeypatch):
    monkeypatch.setattr(web.state, "CHECK_EVERY", 0.0)
    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    client = app.test_client()
    before, first = worker(client)
    importer.import_file(data_copy, DATA / "lonlat.csv")       # as an official would
    after, second = worker(client)
    new = app.extensions["ocop"].version
    assert new != before["version"] and after["version"] == new
    assert after["cache"] != before["cache"] and first.data != second.data
    assert f"/map/{new}/vi/full.js" in after["precache"]
    # A browser revalidating the old worker gets the new one.
    assert client.get("/sw.js", headers={"If-None-Match": first.headers["ETag"]}).status_code == 200


# -- in Chromium: visit once, then no signal ------------------------------------------------

class Gate:
    """WSGI wrapper: once `closed`, every request is recorded and refused (a 503), as with no
    signal whatever the browser's offline emulation covers."""

    def __init__(self, app):
        self.app, self.closed, self.hits = app, False, []

    def __call__(self, environ, start_response):
        if not self.closed:
            return self.app(environ, start_response)
        self.hits.append(environ.get("PATH_INFO"))
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
        return [b"no signal"]


def _tile_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), "#cfe3c9").save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def servers():
    """The app and a tile server, both on 127.0.0.1 (so the page reaches nothing else even
    where routes do not see the worker's fetches), each behind a Gate."""
    png = _tile_png()

    def tiles(environ, start_response):
        # CORS like public tile servers; no-store, so only the worker can keep a tile.
        start_response("200 OK", [("Content-Type", "image/png"),
                                  ("Access-Control-Allow-Origin", "*"),
                                  ("Cache-Control", "no-store")])
        return [png]

    tile_gate = Gate(tiles)
    tile_srv = LiveServer(tile_gate)
    app = create_app({"TESTING": True,
                      "TILE_URL": tile_srv.url + "/{z}/{x}/{y}.png"})
    app_gate = Gate(app)
    app_srv = LiveServer(app_gate)
    yield app, app_srv, app_gate, tile_srv.url, tile_gate
    app_srv.stop()
    tile_srv.stop()


ALL_TILES = """() => { const all = document.querySelectorAll('.leaflet-tile').length;
    return all > 0 && document.querySelectorAll('.leaflet-tile-loaded').length === all; }"""


def visit_until_copied(w, url):
    """Open the map and wait until its service worker controls the page with the whole copy
    made (installing copies everything before the worker activates)."""
    w.page.goto(url, wait_until="load")
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    w.page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                             timeout=60000)
    return w.page.evaluate("""async () => {
        const names = (await caches.keys()).filter(n => n.startsWith('ocop-'));
        const out = {};
        for (const n of names) { out[n] = (await (await caches.open(n)).keys()).length; }
        return out;
    }""")


@pytest.mark.browser
def test_the_map_opens_draws_searches_and_shows_popups_offline(watch, servers, tmp_path):
    app, srv, app_gate, tile_url, tile_gate = servers
    st = app.extensions["ocop"]
    settings, _ = worker(app.test_client())
    w = watch(service_workers="allow", viewport={"width": 1280, "height": 800})
    caches = visit_until_copied(w, srv.url + "/?lang=vi")
    assert caches.get(settings["cache"]) == len(settings["precache"]), caches
    # The tiles of this first view (loaded before the worker took over) are kept too.
    w.page.wait_for_function(ALL_TILES, timeout=15000)
    shown = w.page.locator(".leaflet-tile-loaded").count()
    kept = "async () => (await (await caches.open('ocop-tiles')).keys()).length"
    deadline = time.monotonic() + 15     # polled here: wait_for_function takes no promise
    while w.page.evaluate(kept) < shown and time.monotonic() < deadline:
        time.sleep(0.1)
    assert w.page.evaluate(kept) >= shown

    w.context.set_offline(True)
    app_gate.closed = tile_gate.closed = True
    assert w.page.reload(wait_until="load").from_service_worker   # the page is no-store
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    districts = w.page.locator(".leaflet-overlay-pane path.ocop-district").count()
    assert districts == len(st.dataset.districts)
    assert w.page.locator(".ocop-pin, .marker-cluster").count() > 0
    w.page.wait_for_function(ALL_TILES, timeout=15000)               # the tiles seen stay
    w.page.screenshot(path=str(tmp_path / "offline.png"))

    w.page.fill("#ocop-q", "")
    w.page.type("#ocop-q", "nuoc mam", delay=20)
    options = w.page.locator("#ocop-results [role=option]")
    assert options.count() >= 1 and "Nước mắm" in options.nth(0).inner_text()
    product = st.products.iloc[len(st.products) // 2]
    assert w.page.evaluate("([k, id]) => OcopMap.open(k, id)", ["products", product["id"]])
    popup = w.page.wait_for_selector(".leaflet-popup-content .ocop-popup", timeout=10000)
    assert product["name"] in popup.inner_text() and product["address"] in popup.inner_text()

    # Another state of the map (a link, a bookmark) opens from the copy of its language.
    assert w.page.goto(srv.url + "/?lang=en&view=12/20.86/106.68").from_service_worker
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    assert w.page.evaluate("document.documentElement.lang") == "en"
    assert w.page.locator("path.ocop-district").count() == len(st.dataset.districts)
    w.page.screenshot(path=str(tmp_path / "offline-en.png"))
    # Nothing reached a server but the browser's own check for a new worker, which offline
    # emulation does not cover (refused: the installed worker stays).
    assert set(app_gate.hits) <= {"/sw.js"} and tile_gate.hits == []
    # Tiles never seen are simply missing (each a failed load); nothing else failed.
    assert [e for e in w.errors if f"({tile_url}/" not in e] == []
    assert w.outside == []

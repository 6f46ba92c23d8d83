"""Embedding: /embed, oEmbed, the builder, and who may frame what (issue: tourism sites)."""
import re
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import create_app
from tests.conftest import LiveServer
from tests.synthetic import N_DISTRICTS


def csp(resp) -> dict:
    out = {}
    for part in resp.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_embed_page_is_the_map_with_minimal_chrome(client):
    from tests.test_page import full_page
    html = full_page(client, "/embed?lang=en&layers=products&controls=zoom")
    assert '"mode":"embed"' in html and "OcopMap.productLayer(" in html


def test_only_configured_origins_may_frame_the_embed(app, client):
    assert csp(client.get("/embed"))["frame-ancestors"] == "'self'"
    for url in ("/", "/list", "/export/products.geojson", "/ogc", "/embed/builder"):
        r = client.get(url)
        assert csp(r)["frame-ancestors"] == "'self'", url
        assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"]
    other = create_app({"TESTING": True, "EMBED_ORIGINS": "https://dulich.example.vn"})
    r = other.test_client().get("/embed")
    assert csp(r)["frame-ancestors"] == "'self' https://dulich.example.vn"
    assert "X-Frame-Options" not in r.headers
    anyone = create_app({"TESTING": True, "EMBED_ORIGINS": "*"})
    assert csp(anyone.test_client().get("/embed"))["frame-ancestors"] == "*"


def test_the_tile_server_is_the_only_outside_origin(client, app):
    policy = csp(client.get("/"))
    assert policy["default-src"] == "'self'"
    assert policy["img-src"] == "'self' data: https://tile.openstreetmap.org"
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    for name, value in policy.items():
        if name not in ("img-src", "frame-ancestors"):
            assert "http" not in value, name


def test_oembed_answers_for_our_map_urls(client):
    r = client.get("/oembed", query_string={"url": "http://localhost/?stars=4&lang=en",
                                            "format": "json", "maxwidth": "500"})
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["type"] == "rich" and doc["version"] == "1.0"
    assert doc["width"] == 500 and doc["height"] == 600
    html = doc["html"]
    assert html.startswith("<iframe ") and 'loading="lazy"' in html and "title=" in html
    assert 'src="http://localhost/embed?stars=4&amp;lang=en"' in html
    assert client.get("/oembed?url=https://evil.example/&format=json").status_code == 404
    assert client.get("/oembed?url=http://localhost/export/products.csv").status_code == 404
    assert client.get("/oembed?url=http://localhost/&format=xml").status_code == 501
    assert client.get("/oembed?url=http://localhost/&maxwidth=abc").status_code == 400
    # Digits of other scripts are digits to str.isdigit() but not to int(): still a 400.
    assert client.get("/oembed?url=http://localhost/&maxwidth=%C2%B2").status_code == 400
    assert client.get("/oembed?url=http://localhost/&x=1").status_code == 400


def test_map_pages_carry_the_oembed_discovery_link(client):
    for url in ("/", "/embed?layers=products"):
        html = client.get(url).get_data(as_text=True)
        link = re.search(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', html)
        assert link, url
        target = re.sub(r"^http://localhost", "", link.group(1).replace("&amp;", "&"))
        assert client.get(target).get_json()["type"] == "rich"


def test_builder_page_renders_in_both_languages(client):
    assert "Nhúng bản đồ" in client.get("/embed/builder?lang=vi").get_data(as_text=True)
    html = client.get("/embed/builder?lang=en").get_data(as_text=True)
    assert "Embed the map" in html and 'id="snippet"' in html


# -- in Chromium: a page on another origin frames the map ----------------------------------

@pytest.fixture()
def host_site(tmp_path):
    """A second local origin (localhost, not 127.0.0.1) serving a page with an iframe."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://localhost:{server.server_port}"
    server.shutdown()


def frame_page(directory, name, src):
    (directory / name).write_text(
        f'<!doctype html><title>host</title><iframe id="map" src="{src}" width="600" '
        f'height="400" title="map"></iframe>', encoding="utf-8")


@pytest.mark.browser
def test_allowed_site_embeds_the_map_and_others_are_refused(watch, host_site, tmp_path):
    directory, host = host_site
    app = create_app({"TESTING": True, "EMBED_ORIGINS": host})
    server = LiveServer(app)
    servers = [server]
    try:
        frame_page(directory, "ok.html", f"{server.url}/embed?layers=products,districts")
        w = watch()
        w.page.goto(f"{host}/ok.html")
        frame = w.page.frame_locator("#map")
        frame.locator("[data-ocop-ready]").wait_for(timeout=15000)
        assert frame.locator("path.ocop-district").count() == N_DISTRICTS
        assert frame.locator("a.ocop-larger").count() == 1
        w.page.screenshot(path=str(tmp_path / "embedded.png"))
        assert w.errors == []

        # The same site, on a server whose allow-list names another origin.
        other = LiveServer(create_app({"TESTING": True,
                                       "EMBED_ORIGINS": "https://somewhere-else.example"}))
        servers.append(other)
        frame_page(directory, "refused.html", f"{other.url}/embed?layers=products,districts")
        refused = watch()
        refused.page.goto(f"{host}/refused.html")
        refused.page.wait_for_timeout(2000)
        child = refused.page.frames[1]
        assert child.evaluate("() => !!document.querySelector('[data-ocop-ready]')") is False
        # The full page may never be framed by another site.
        frame_page(directory, "full.html", f"{server.url}/")
        full = watch()
        full.page.goto(f"{host}/full.html")
        full.page.wait_for_timeout(2000)
        assert full.page.frames[1].evaluate(
            "() => !!document.querySelector('[data-ocop-ready]')") is False
    finally:
        for srv in servers:
            srv.stop()

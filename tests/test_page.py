"""The map page as served: assets, escaping, caching, language."""
import gzip
import json
import re

import pytest

from geo.text import escape, fold
from tests.synthetic import HOSTILE

ASSET_RE = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"')
SCRIPT_SRC = re.compile(r'<script nonce="[^"]+" src="(/map/[^"]+)"></script>')


def map_script_url(shell: str) -> str:
    return SCRIPT_SRC.search(shell).group(1)


def full_page(client, url: str = "/", **kw) -> str:
    """The page as the browser runs it: the HTML shell and the map script it loads."""
    shell = client.get(url, **kw).get_data(as_text=True)
    return shell + client.get(map_script_url(shell)).get_data(as_text=True)


def popups(client, url: str = "/") -> dict:
    """{layer: {id: popup HTML}} as the map fetches them."""
    script = full_page(client, url)
    template = json.loads(re.search(r'"popups":("[^"]+")', script).group(1))
    return {layer: client.get(template.replace("{layer}", layer)).get_json()
            for layer in ("products", "destinations", "communes")}


def test_page_renders_with_districts_products_and_destinations(client, app):
    r = client.get("/?lang=vi")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = full_page(client, "/?lang=vi")
    st = app.extensions["ocop"]
    assert '<html lang="vi">' in html
    assert "Bản đồ sản phẩm OCOP Hải Phòng" in html
    for name in st.dataset.districts["full_name"]:
        assert name in html
    p = popups(client, "/?lang=vi")
    assert set(p["products"]) == set(st.products.index)
    assert set(p["destinations"]) == set(st.dataset.destinations.index)
    assert len(p["communes"]) == 114
    assert "geoBoundaries" in html and "OpenStreetMap" in html


def test_every_asset_comes_from_our_origin(client):
    html = client.get("/").get_data(as_text=True)
    urls = ASSET_RE.findall(html)
    assert len(urls) >= 6, urls
    for url in urls:
        path = re.sub(r"^http://localhost(?=/)", "", url.replace("&amp;", "&"))
        assert path.startswith("/"), url
        assert client.get(path).status_code == 200, url
    assert "cdn" not in full_page(client).lower()


def test_no_inline_script_and_a_fresh_nonce_per_response(client):
    first, second = client.get("/"), client.get("/")
    html = first.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script is a file
    nonces = set(re.findall(r'nonce="([^"]+)"', html))
    assert len(nonces) == 1
    (n,) = nonces
    assert f"'nonce-{n}'" in first.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in first.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert n not in second.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "no-store"


def test_points_are_not_one_python_marker_each(client, app):
    html = full_page(client)
    assert "L.marker(" not in html  # markers are built client-side from compact rows
    assert "OcopMap.productLayer(" in html


def test_english_page_and_accept_language(client):
    en = full_page(client, "/?lang=en")
    assert '<html lang="en">' in en and "Hải Phòng OCOP products map" in en
    r = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.headers["Content-Language"] == "en"
    r = client.get("/", headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    assert r.headers["Content-Language"] == "vi"
    assert client.get("/?lang=<script>").headers["Content-Language"] in ("vi", "en")


def test_map_script_is_cached_under_the_data_version(client, app, monkeypatch):
    import web.maps

    url = map_script_url(client.get("/?lang=vi").get_data(as_text=True))
    assert app.extensions["ocop"].version in url
    first = client.get(url)
    calls = []
    monkeypatch.setattr(web.maps, "build_map", lambda *a, **k: calls.append(1))
    client.get("/?lang=vi")
    again = client.get(url)
    assert calls == [] and again.data == first.data
    assert first.headers["ETag"].strip('"').startswith(app.extensions["ocop"].version)
    # A day: the script carries certificate statuses as of today.
    assert "max-age=86400" in first.headers["Cache-Control"]
    assert client.get(url.replace(app.extensions["ocop"].version, "000000000000")).status_code == 404


def test_etag_304_and_gzip(client):
    url = map_script_url(client.get("/").get_data(as_text=True))
    r = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(r.data)
    assert body == client.get(url).data
    assert client.get(url, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304


TEXT_FIELDS = ("title", "sub")       # rows: set through textContent / DOM properties only


def layer_payloads(html: str) -> dict:
    """The JSON each OcopMap.<factory>(...) call receives, decoded."""
    return {name: json.loads(arg) for name, arg in
            re.findall(r"OcopMap\.(\w+Layer)\((.*)\);", html)}


def test_hostile_text_is_escaped_in_every_field(hostile_app):
    client = hostile_app.test_client()
    html = full_page(client)
    layer_popups = popups(client)
    assert HOSTILE not in html
    assert not re.search(r"<img[^>]*onerror", html)
    assert "`</script>" not in html
    assert html.count("</script>") == html.count("<script")  # no early close of a script
    payloads = layer_payloads(html)
    rows = payloads["productLayer"]["rows"] + payloads["destinationLayer"]["rows"]
    assert len(rows) == 12 + 4
    for row in rows:
        popup = layer_popups["products" if "c" in row else "destinations"][row["id"]]
        for bad in ("<img", "<script", "`", "${", "\\"):
            assert bad not in popup, bad
        assert escape(HOSTILE) in popup
        assert row["title"] == HOSTILE  # raw text, shown by Leaflet as a DOM property


@pytest.mark.parametrize("text,expected", [
    ("Đồ Sơn", "do son"), ("Nước mắm", "nuoc mam"), ("MẬT ONG", "mat ong"),
    ("  Thủy   Nguyên ", "thuy nguyen"), (None, ""),
])
def test_fold_for_accentless_search(text, expected):
    assert fold(text) == expected


def test_escape_neutralises_html_and_js_template_syntax():
    out = escape(HOSTILE)
    for ch in "<>\"'`$\\":
        assert ch not in out


def test_unknown_pages_and_vendor_paths_are_plain_404s(client):
    for url in ("/nope", "/vendor/nope/x.js", "/vendor/leaflet/../../../etc/passwd",
                "/vendor/leaflet/%2e%2e/%2e%2e/app.py"):
        r = client.get(url)
        assert r.status_code == 404, url
        assert b"Traceback" not in r.data

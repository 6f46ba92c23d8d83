"""The map page as served: assets, escaping, caching, language."""
import gzip
import json
import re

import pytest

from geo.text import escape, fold, script_json
from tests.synthetic import HOSTILE

ASSET_RE = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"')


def test_page_renders_with_districts_products_and_destinations(client, app):
    r = client.get("/?lang=vi")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    st = app.extensions["ocop"]
    assert '<html lang="vi">' in html
    assert "Bản đồ sản phẩm OCOP Hải Phòng" in html
    for name in st.dataset.districts["full_name"]:
        assert name in html
    assert html.count('"popup":') == len(st.products) + len(st.dataset.destinations) + 114
    assert "geoBoundaries" in html and "OpenStreetMap" in html


def test_every_asset_comes_from_our_origin(client):
    html = client.get("/").get_data(as_text=True)
    urls = ASSET_RE.findall(html)
    assert urls, "no assets found"
    for url in urls:
        assert url.startswith("/"), url
        assert client.get(url).status_code == 200, url
    # The only absolute URL the browser will fetch from is the tile template.
    assert "cdn" not in html.lower()
    assert not re.search(r"""(?:src|href)=["']https?://""", html.split("<body>")[0])


def test_points_are_not_one_python_marker_each(client, app):
    html = client.get("/").get_data(as_text=True)
    assert "L.marker(" not in html  # markers are built client-side from compact rows
    assert "OcopMap.productLayer(" in html


def test_english_page_and_accept_language(client):
    en = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Hải Phòng OCOP products map" in en
    r = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.headers["Content-Language"] == "en"
    r = client.get("/", headers={"Accept-Language": "vi-VN,vi;q=0.9"})
    assert r.headers["Content-Language"] == "vi"
    assert client.get("/?lang=<script>").headers["Content-Language"] in ("vi", "en")


def test_page_is_cached_under_the_data_version(client, app, monkeypatch):
    import geo.mapbuild
    import web.pages

    first = client.get("/?lang=vi")
    calls = []
    monkeypatch.setattr(web.pages, "build_map", lambda *a, **k: calls.append(1))
    again = client.get("/?lang=vi")
    assert calls == [] and again.data == first.data
    assert first.headers["ETag"].strip('"').startswith(app.extensions["ocop"].version)
    assert geo.mapbuild.build_map is not None


def test_etag_304_and_gzip(client):
    r = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(r.data)
    assert body == client.get("/").data
    assert client.get("/", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304


HTML_FIELDS = ("popup", "tooltip")   # set as innerHTML by static/ocop-map.js
TEXT_FIELDS = ("title", "sub")       # set through textContent / DOM properties only


def layer_payloads(html: str) -> dict:
    """The JSON each OcopMap.<factory>(...) call receives, decoded."""
    return {name: json.loads(arg) for name, arg in
            re.findall(r"OcopMap\.(\w+Layer)\((.*)\);", html)}


def test_hostile_text_is_escaped_in_every_field(hostile_app):
    html = hostile_app.test_client().get("/").get_data(as_text=True)
    assert HOSTILE not in html
    assert not re.search(r"<img[^>]*onerror", html)
    assert "`</script>" not in html
    assert html.count("</script>") == html.count("<script")  # no early close of a script
    payloads = layer_payloads(html)
    rows = payloads["productLayer"]["rows"] + payloads["destinationLayer"]["rows"]
    assert len(rows) == 12 + 4
    for row in rows:
        for field in HTML_FIELDS:
            for bad in ("<img", "<script", "`", "${", "\\"):
                assert bad not in row[field], (field, bad)
        assert escape(HOSTILE) in row["popup"]
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

"""The electronic brand card: a page per product and destination, its share preview, its QR
code for the label, the sitemap and robots.txt (web/product_pages.py)."""
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.conftest import HOSTILE
from tests.test_i18n import data_pattern, ui_fragments, wrong_language

LANGS = ("vi", "en")


class Head(HTMLParser):
    """What machines read of a page: meta tags, links, JSON-LD, scripts, images, text."""

    def __init__(self):
        super().__init__()
        self.meta, self.links, self.ld, self.scripts, self.imgs = {}, [], [], [], []
        self.title, self.h1 = "", ""
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta.setdefault(a.get("property") or a["name"], a.get("content"))
        elif tag == "link":
            self.links.append(a)
        elif tag == "script":
            self.scripts.append(a)
            self._in = "ld" if a.get("type") == "application/ld+json" else "script"
            if self._in == "ld":
                self.ld.append("")
        elif tag == "img":
            self.imgs.append(a)
        elif tag in ("title", "h1"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag in ("script", "title", "h1"):
            self._in = None

    def handle_data(self, data):
        if self._in == "ld":
            self.ld[-1] += data
        elif self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data


def parse(html: str) -> Head:
    h = Head()
    h.feed(html)
    return h


def link(head: Head, rel: str, hreflang: str | None = None) -> str | None:
    for a in head.links:
        if a.get("rel") == rel and (hreflang is None or a.get("hreflang") == hreflang):
            return a.get("href")
    return None


def local(url: str) -> str:
    """An absolute URL of the test server as the test client's path."""
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname == "localhost", url
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture(scope="module")
def feats(app):
    st = app.extensions["ocop"]
    prods, dests = st.collections["products"].frame, st.collections["destinations"].frame
    with_producer = prods[prods["producer"].notna()].iloc[0]
    return {"product": with_producer, "no_producer": prods[prods["producer"].isna()].iloc[0],
            "destination": dests.iloc[0], "products": prods, "destinations": dests}


def get(client, url, **kw):
    r = client.get(url, **kw)
    return r, r.get_data(as_text=True)


# -- the pages --------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_product_page_says_everything_without_script(client, feats, lang):
    p = feats["product"]
    r, html = get(client, f"/products/{p['id']}?lang={lang}")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Content-Language"] == lang and f'<html lang="{lang}">' in html
    head = parse(html)
    name = p["name_en"] if lang == "en" else p["name"]
    other = p["name"] if lang == "en" else p["name_en"]
    assert head.h1.strip() == name and name in head.title
    assert head.meta["description"]
    # the only script is the JSON-LD data block: the page is readable with none
    assert [s.get("type") for s in head.scripts] == ["application/ld+json"]
    for text in (other, p["producer"], p["commune_2025"], p["address"],
                 "★" * int(p["stars"])):
        assert text in html, text
    M = {"vi": ("Chủ thể", "Hạng", "Nơi mua", "Mã QR"),
         "en": ("Producer", "Rating", "Where to buy", "QR code")}[lang]
    for label in M:
        assert label in html, label
    # the certificate row says what the one rule says
    from geo.popups import certificate_text
    from web.i18n import messages
    with client.application.test_request_context(f"/?lang={lang}"):
        assert certificate_text(dict(p), messages()) in html
    # the map with the feature open, and its language switch
    assert f'href="/?lang={lang}&amp;sel=products:{p["id"]}"' in html
    other_lang = "en" if lang == "vi" else "vi"
    assert f'href="/products/{p["id"]}?lang={other_lang}"' in html
    # the small map is ours, a PNG of its stated size
    (img,) = [i for i in head.imgs if i.get("class") == "card-map"]
    r = client.get(img["src"])
    from PIL import Image
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert Image.open(io.BytesIO(r.data)).size == (int(img["width"]), int(img["height"]))
    assert img["alt"] and name in img["alt"]


def test_pages_are_in_one_language(app, client, feats):
    data, fragments = data_pattern(app), ui_fragments()
    for lang in LANGS:
        for url in (f"/products/{feats['product']['id']}",
                    f"/products/{feats['no_producer']['id']}",
                    f"/destinations/{feats['destination']['id']}"):
            html = get(client, f"{url}?lang={lang}")[1]
            assert not wrong_language(html, lang, data, fragments), (url, lang)


def test_where_to_buy_is_the_producer_when_no_shop_is_listed(client, feats):
    p = feats["no_producer"]
    html = get(client, f"/products/{p['id']}?lang=en")[1]
    section = html.split("<h2>Where to buy</h2>", 1)[1].split("</section>", 1)[0]
    assert p["address"] in section and "No shop is listed" in section
    assert "<a " not in section         # no invented links


def test_shop_links_are_listed_when_the_record_has_them(hostile_app):
    st = hostile_app.extensions["ocop"]
    p = st.collections["products"].frame.iloc[0]
    assert list(p["links"])          # the synthetic data has one
    html = get(hostile_app.test_client(), f"/products/{p['id']}?lang=en")[1]
    section = html.split("<h2>Where to buy</h2>", 1)[1].split("</section>", 1)[0]
    assert 'href="https://example.org/shop?a=1&amp;b=2"' in section


def test_nearby_destinations_link_to_their_pages_with_distances(client, feats):
    from geo.nearby import near_each
    p = feats["product"]
    near = near_each(feats["products"].loc[[p["id"]]], feats["destinations"])[p["id"]]
    assert near
    html = get(client, f"/products/{p['id']}?lang=vi")[1]
    for n in near:
        assert f'<a href="/destinations/{n.id}?lang=vi">{n.name}</a>' in html
    assert re.search(r'<span class="km">\d+,\d km</span>', html)   # vi decimal comma
    r = client.get(f"/destinations/{near[0].id}?lang=vi")
    assert r.status_code == 200


@pytest.mark.parametrize("lang", LANGS)
def test_destination_page(client, feats, lang):
    d = feats["destination"]
    r, html = get(client, f"/destinations/{d['id']}?lang={lang}")
    assert r.status_code == 200
    head = parse(html)
    assert head.h1.strip() == (d["name_en"] if lang == "en" else d["name"])
    assert (d["description_en"] if lang == "en" else d["description"]) in html
    (ld,) = [json.loads(x) for x in head.ld]
    assert ld["@type"] == "TouristAttraction"
    pt = feats["destinations"].geometry.loc[d["id"]]
    assert ld["geo"] == {"@type": "GeoCoordinates", "latitude": round(pt.y, 6),
                         "longitude": round(pt.x, 6)}
    assert "qr.svg" not in html      # labels are for products


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_id_is_a_404_page_in_its_language(client, lang):
    for url in ("/products/no-such-thing", "/destinations/no-such-thing",
                "/products/no-such-thing/og.png", "/products/no-such-thing/qr.svg"):
        r, html = get(client, f"{url}?lang={lang}")
        assert r.status_code == 404, url
        assert f'<html lang="{lang}">' in html
        assert ("Page not found" if lang == "en" else "Không tìm thấy trang") in html


# -- share previews and search engines --------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_share_preview_and_json_ld(client, feats, lang):
    p = feats["product"]
    html = get(client, f"/products/{p['id']}?lang={lang}")[1]
    head = parse(html)
    canonical = link(head, "canonical")
    assert canonical == f"http://localhost/products/{p['id']}?lang={lang}"
    for code in LANGS:
        assert link(head, "alternate", code) == f"http://localhost/products/{p['id']}?lang={code}"
    assert link(head, "alternate", "x-default") == f"http://localhost/products/{p['id']}"
    m = head.meta
    name = p["name_en"] if lang == "en" else p["name"]
    assert m["og:title"] == m["twitter:title"] == name
    assert m["og:url"] == canonical and m["twitter:card"] == "summary_large_image"
    assert m["og:description"] == m["description"] == m["twitter:description"]
    assert m["og:locale"] == {"vi": "vi_VN", "en": "en_US"}[lang]
    assert (m["og:image:width"], m["og:image:height"]) == ("1200", "630")
    assert m["og:image"] == m["twitter:image"]
    # the image exists, is a 1200 x 630 PNG, and is the page's own
    r = client.get(local(m["og:image"]))
    from PIL import Image
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert Image.open(io.BytesIO(r.data)).size == (1200, 630)
    # schema.org: a Product by its producer, at a Place with geo
    (ld,) = [json.loads(x) for x in head.ld]
    assert ld["@context"] == "https://schema.org" and ld["@type"] == "Product"
    assert ld["name"] == name and ld["url"] == canonical and ld["image"] == m["og:image"]
    assert ld["brand"] == {"@type": "Brand", "name": p["producer"]}
    org = ld["manufacturer"]
    assert org["@type"] == "Organization" and org["name"] == p["producer"]
    pt = feats["products"].geometry.loc[p["id"]]
    assert org["location"]["@type"] == "Place"
    assert org["location"]["geo"] == {"@type": "GeoCoordinates", "latitude": round(pt.y, 6),
                                      "longitude": round(pt.x, 6)}


def test_json_ld_of_a_product_without_producer_invents_none(client, feats):
    p = feats["no_producer"]
    (ld,) = [json.loads(x) for x in parse(get(client, f"/products/{p['id']}")[1]).ld]
    assert "brand" not in ld and "manufacturer" not in ld
    assert ld["subjectOf"]["@type"] == "Place" and "geo" in ld["subjectOf"]


def test_hostile_data_stays_text_in_the_page_json_ld_and_image(hostile_app):
    c = hostile_app.test_client()
    st = hostile_app.extensions["ocop"]
    for layer in ("products", "destinations"):
        fid = st.collections[layer].frame.index[0]
        r, html = get(c, f"/{layer}/{fid}?lang=vi")
        assert r.status_code == 200
        assert "<img src=x" not in html and "</script><img" not in html
        head = parse(html)
        assert [s.get("type") for s in head.scripts] == ["application/ld+json"]
        (raw,) = head.ld
        assert "<" not in raw and ">" not in raw and "&" not in raw
        ld = json.loads(raw)
        assert ld["name"] == HOSTILE          # the text itself, unchanged
        assert head.meta["og:title"] == HOSTILE and head.h1.strip() == HOSTILE.strip()
        assert c.get(local(head.meta["og:image"])).status_code == 200
    # the popups' link to the page is escaped too
    popups = c.get(f"/map/{st.version}/vi/popups-products.json").get_json()
    assert all('class="ocop-page"' in h for h in popups.values())


def test_security_headers_still_hold(client, feats):
    r = client.get(f"/products/{feats['product']['id']}")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "'unsafe-inline'" not in csp.split(
        "script-src", 1)[1].split(";", 1)[0]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_sitemap_lists_every_page_in_both_languages(client, feats):
    r = client.get("/sitemap.xml")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9",
          "x": "http://www.w3.org/1999/xhtml"}
    root = ET.fromstring(r.data)
    urls = root.findall("s:url", ns)
    locs = {u.find("s:loc", ns).text for u in urls}
    expected = {f"http://localhost/{layer}/{i}?lang={lang}"
                for layer in ("products", "destinations") for i in feats[layer].index
                for lang in LANGS}
    assert locs == expected and len(urls) == len(expected)
    lastmods = {u.find("s:lastmod", ns).text for u in urls}
    assert len(lastmods) == 1 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", lastmods.pop())
    first = urls[0]
    alternates = {a.get("hreflang"): a.get("href") for a in first.findall("x:link", ns)}
    assert set(alternates) == {"vi", "en", "x-default"}
    for loc in sorted(locs)[:3]:
        assert client.get(local(loc)).status_code == 200


def test_robots_points_to_the_sitemap_and_keeps_admin_out(client):
    r, text = get(client, "/robots.txt")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    lines = text.splitlines()
    assert "User-agent: *" in lines and "Disallow: /admin" in lines
    assert "Sitemap: http://localhost/sitemap.xml" in lines


# -- QR codes for labels ----------------------------------------------------------------------

@pytest.mark.parametrize("size", [20, 30, 40, 50])
def test_qr_png_decodes_to_the_product_page_at_its_print_size(client, feats, size):
    zxingcpp = pytest.importorskip("zxingcpp")
    import segno
    from PIL import Image
    p = feats["product"]
    r = client.get(f"/products/{p['id']}/qr.png?size={size}")
    assert r.status_code == 200 and r.mimetype == "image/png"
    with Image.open(io.BytesIO(r.data)) as im:
        (code,) = zxingcpp.read_barcodes(im)
        assert code.text == f"http://localhost/products/{p['id']}"
        dpi = im.info["dpi"][0]
        assert dpi >= 299.5
        # whole pixels a module, printed at the stated resolution: the size asked
        modules = segno.make_qr(code.text, error="m", boost_error=False).symbol_size(
            scale=1, border=4)[0]
        assert im.size[0] % modules == 0
        assert abs(im.size[0] / dpi * 25.4 - size) < 0.2, (im.size, dpi, size)
    # a language pinned in the code when asked
    r = client.get(f"/products/{p['id']}/qr.png?lang=en")
    with Image.open(io.BytesIO(r.data)) as im:
        assert zxingcpp.read_barcodes(im)[0].text.endswith(f"/products/{p['id']}?lang=en")


def test_qr_svg_is_the_same_code_at_its_print_size(client, feats):
    import segno
    p = feats["product"]
    r, svg = get(client, f"/products/{p['id']}/qr.svg")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert 'width="30.0mm"' in svg and 'height="30.0mm"' in svg
    # the path of the code for the same text, as segno draws it
    expected = segno.make_qr(f"http://localhost/products/{p['id']}", error="m",
                             boost_error=False)
    assert re.search(r' d="([^"]+)"', svg)[1] == re.search(
        r' d="([^"]+)"', expected.svg_inline(border=4))[1]


@pytest.mark.parametrize("url, parameter", [
    ("/products/{id}/qr.png?size=7", "size"),
    ("/products/{id}/qr.svg?size=abc", "size"),
    ("/products/{id}/qr.svg?size=%C2%B2", "size"),
    ("/products/{id}/qr.png?lang=fr", "lang"),
    ("/products/{id}/qr.png?colour=red", "colour"),
    ("/products/{id}/og.png?lang=xx", "lang"),
    ("/products/{id}/map.png?zoom=3", "zoom"),
])
def test_a_bad_parameter_is_a_400_naming_it(client, feats, url, parameter):
    r = client.get(url.format(id=feats["product"]["id"]))
    assert r.status_code == 400
    assert r.get_json()["parameter"] == parameter


# -- the popups, the cache ----------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_popups_link_to_the_pages(client, app, lang):
    st = app.extensions["ocop"]
    for layer in ("products", "destinations"):
        popups = client.get(f"/map/{st.version}/{lang}/popups-{layer}.json").get_json()
        for fid, html in popups.items():
            href = f'href="{layer}/{fid}?lang={lang}"'
            assert href in html, fid
        # relative to the map page at /: the page itself
        fid = next(iter(popups))
        assert client.get(f"/{layer}/{fid}?lang={lang}").status_code == 200


def _fast_entries(app):
    w = app.wsgi_app
    for _ in range(5):
        if hasattr(w, "entries"):
            return w.entries
        w = getattr(w, "wsgi_app", None) or getattr(w, "app", None)
    raise AssertionError("no fast path installed")


def test_pages_are_cached_per_version_and_language_and_replayed(data_copy, feats):
    from app import create_app
    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    c = app.test_client()
    url = f"/products/{feats['product']['id']}"
    first = {lang: c.get(f"{url}?lang={lang}", headers={"Accept-Encoding": "gzip"})
             for lang in LANGS}
    assert first["vi"].headers["ETag"] != first["en"].headers["ETag"]
    assert all(r.headers["Content-Encoding"] == "gzip" for r in first.values())
    entries = _fast_entries(app)
    assert len(entries) == 2                          # recorded by the fast path
    again = c.get(f"{url}?lang=vi", headers={"Accept-Encoding": "gzip"})
    assert again.data == first["vi"].data and again.headers["ETag"] == first["vi"].headers["ETag"]
    r = c.get(f"{url}?lang=vi", headers={"If-None-Match": first["vi"].headers["ETag"]})
    assert r.status_code == 304



# -- the static build -----------------------------------------------------------------------------

def test_static_build_writes_every_card_with_working_relative_links(app, feats, tmp_path):
    from web.static_site import build_static
    out = tmp_path / "site"
    build_static(app, out, progress=False)
    base = "http://127.0.0.1:5000/"           # PUBLIC_URL's default, as the handbook's
    for layer in ("products", "destinations"):
        for fid in feats[layer].index:
            for page in ("index.html", "index-en.html"):
                assert (out / layer / fid / page).is_file(), (layer, fid, page)
    p = feats["product"]
    page = out / "products" / p["id"] / "index-en.html"
    html = page.read_text(encoding="utf-8")
    head = parse(html)
    assert head.h1.strip() == p["name_en"]
    assert link(head, "canonical") == f"{base}products/{p['id']}/index-en.html"
    assert head.meta["og:image"] == f"{base}products/{p['id']}/og-en.png"
    # every relative link and image of the page is a file of the site
    for ref in re.findall(r'(?:href|src)="([^"]+)"', html):
        if ref.startswith(("http://", "https://")):
            continue
        target = (page.parent / ref.split("?", 1)[0]).resolve()
        assert target.is_file(), ref
    from PIL import Image
    assert Image.open(page.parent / "og-en.png").size == (1200, 630)
    # the label's code holds the published page's URL
    zxingcpp = pytest.importorskip("zxingcpp")
    with Image.open(page.parent / "qr-30mm.png") as im:
        assert zxingcpp.read_barcodes(im)[0].text == f"{base}products/{p['id']}/"
    # the static map's popups open these pages
    (popups,) = out.glob("map/*/vi/popups-products.json")
    href = re.search(r'class="ocop-page"><a href="([^"]+)"',
                     json.loads(popups.read_text(encoding="utf-8"))[p["id"]])[1]
    assert (out / href).is_file()
    sitemap = ET.fromstring((out / "sitemap.xml").read_bytes())
    assert len(sitemap) == 2 * (len(feats["products"]) + len(feats["destinations"]))
    assert f"Sitemap: {base}sitemap.xml" in (out / "robots.txt").read_text(encoding="utf-8")


# -- in a browser -------------------------------------------------------------------------------

VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@pytest.mark.browser
@pytest.mark.parametrize("device", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", ["product", "destination"])
def test_card_page_in_a_browser(watch, live_server, feats, kind, device, lang):
    from tests.axe import format_violations, run_axe
    p = feats[kind]
    w = watch(**VIEWPORTS[device])
    w.page.goto(f"{live_server.url}/{kind}s/{p['id']}?lang={lang}", wait_until="load")
    assert w.page.locator("h1").inner_text().strip() == (p["name_en"] if lang == "en"
                                                         else p["name"])
    # every image drawn (the map and the QR code), from this server only
    assert w.page.evaluate("() => [...document.images].every(i => i.complete && "
                           "i.naturalWidth > 0)")
    assert not w.outside, w.outside
    assert not w.errors, w.errors
    violations = run_axe(w.page)
    assert not violations, format_violations(violations)
    width = w.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= VIEWPORTS[device]["viewport"]["width"], "the page scrolls sideways"


@pytest.mark.browser
def test_qr_svg_as_a_browser_draws_it_decodes(watch, live_server, feats):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image
    p = feats["product"]
    w = watch(viewport={"width": 400, "height": 400})
    w.page.goto(f"{live_server.url}/products/{p['id']}/qr.svg?size=50", wait_until="load")
    shot = w.page.screenshot()
    with Image.open(io.BytesIO(shot)) as im:
        (code,) = zxingcpp.read_barcodes(im)
    assert code.text == f"{live_server.url}/products/{p['id']}"
    assert not w.errors and not w.outside


def test_benchmark_weighs_the_product_page_with_its_css_and_images(app, feats):
    from bench.page_weight import product_page_weight
    w = product_page_weight(app, feats["product"]["id"])
    assert set(w) == {"HTML", "CSS", "image map.png", "image qr.svg"}
    assert all(v > 0 for v in w.values())

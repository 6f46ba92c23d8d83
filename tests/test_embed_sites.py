"""The embed inside real sites (issue 18): links that leave the frame, a snippet that fits any
page, sandboxed frames, site scripts asking oEmbed, and the smaller points (oEmbed's title in
the URL's language, the site root without its slash, the legend with the districts off)."""
import html as htmllib
import json
import re
import threading
import urllib.request
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from app import create_app
from tests.conftest import LiveServer

ORIGIN = {"Origin": "https://dulich.example.vn"}
HERE = {"latitude": 20.8585, "longitude": 106.6839}   # central Hải Phòng


def oembed(client, url, **args):
    r = client.get("/oembed", query_string={"url": url, **args})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


# -- oEmbed ----------------------------------------------------------------------------------

def test_oembed_title_is_in_the_urls_language(client):
    en = oembed(client, "http://localhost/?stars=4&lang=en")
    vi = oembed(client, "http://localhost/embed?lang=vi")
    assert en["title"] == "Hải Phòng OCOP products map" == en["provider_name"]
    assert 'title="Hải Phòng OCOP products map"' in en["html"]
    assert vi["title"] == "Bản đồ sản phẩm OCOP Hải Phòng"
    # The URL's language wins over the language the CMS's request prefers.
    r = client.get("/oembed", query_string={"url": "http://localhost/?lang=en"},
                   headers={"Accept-Language": "vi"})
    assert r.get_json()["title"] == en["title"]


@pytest.mark.parametrize("url", ["http://localhost", "HTTP://LOCALHOST",
                                 "http://localhost?lang=en"])
def test_oembed_accepts_the_site_root_without_its_slash(client, url):
    doc = oembed(client, url)
    src = htmllib.unescape(re.search(r'src="([^"]+)"', doc["html"]).group(1))
    assert src.startswith("http://localhost/embed")


def test_oembed_snippet_is_responsive_and_asks_for_what_the_embed_uses(client):
    html = oembed(client, "http://localhost/?lang=en")["html"]
    assert "width:100%" in html and "aspect-ratio:4/3" in html and "height=" not in html
    assert 'loading="lazy"' in html and 'referrerpolicy="strict-origin-when-cross-origin"' in html
    assert 'allow="fullscreen"' in html          # no "Near me": no position asked for
    locate = oembed(client, "http://localhost/embed?controls=zoom%2Clocate")["html"]
    assert 'allow="geolocation; fullscreen"' in locate
    # A consumer's bounds give a fixed size within them, still narrowed on a phone.
    bounded = oembed(client, "http://localhost/", maxwidth="500", maxheight="400")
    assert (bounded["width"], bounded["height"]) == (500, 400)
    assert 'width="500" height="400"' in bounded["html"]
    assert "max-width:100%" in bounded["html"]


def test_site_scripts_may_read_oembed_and_the_embeds_popups(client):
    r = client.get("/oembed?url=http://localhost/", headers=ORIGIN)
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    bad = client.get("/oembed?url=https://elsewhere.example/", headers=ORIGIN)
    assert bad.status_code == 404 and bad.headers["Access-Control-Allow-Origin"] == "*"
    pre = client.options("/oembed", headers={**ORIGIN, "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 204 and pre.headers["Access-Control-Allow-Origin"] == "*"
    # The popups an embed fetches: from a sandboxed frame its origin is `null`.
    page = client.get("/embed?lang=en").get_data(as_text=True)
    script = re.search(r'src="(/map/[^"]+/en/embed\.js)"', page).group(1)
    popups = script.replace("embed.js", "popups-products.json")
    r = client.get(popups, headers={"Origin": "null"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.get_json()
    # The pages themselves stay unshared.
    assert "Access-Control-Allow-Origin" not in client.get("/embed", headers=ORIGIN).headers


def test_builder_offers_responsive_and_fixed_sizes_in_both_languages(client):
    en = client.get("/embed/builder?lang=en").get_data(as_text=True)
    vi = client.get("/embed/builder?lang=vi").get_data(as_text=True)
    for text in ("Your page&#39;s width, in proportion", "A fixed size", "in a new tab"):
        assert text in en, text
    for text in ("giữ tỉ lệ", "Kích thước cố định", "trong thẻ mới"):
        assert text in vi, text
    assert 'name="ratio"' in en and 'value="_top"' in en


# -- in Chromium ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Another origin (localhost, not 127.0.0.1) serving host pages, and the app allowing it
    to frame the embed."""
    directory = tmp_path_factory.mktemp("site")
    handler = partial(SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None
    host = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=host.serve_forever, daemon=True).start()
    origin = f"http://localhost:{host.server_port}"
    server = LiveServer(create_app({"TESTING": True, "EMBED_ORIGINS": origin}))
    yield directory, origin, server
    server.stop()
    host.shutdown()


def host_page(directory, name, body):
    """A page of the host site (laid out for phones too) with `body` pasted into it."""
    meta = '<meta name="viewport" content="width=device-width, initial-scale=1">'
    (directory / name).write_text(
        f'<!doctype html><html lang="en"><meta charset="utf-8">{meta}<title>host</title>'
        f"<body><h1>A tourism site</h1><p>Some text about the region.</p>{body}</body></html>",
        encoding="utf-8")


def framed(w, origin, name):
    """Open the host page and wait for the map in its (only) frame."""
    w.page.goto(f"{origin}/{name}")
    w.page.frame_locator("iframe").locator("[data-ocop-ready]").wait_for(timeout=20000)
    return w.page.frame_locator("iframe"), w.page.frames[1]


UNMARKED_APP_LINKS = """() => Array.from(document.querySelectorAll('a[href]')).filter(a => {
  const href = a.getAttribute('href');
  if (href.charAt(0) === '#' || a.hasAttribute('data-ocop-open') ||
      a.classList.contains('ocop-lang')) return false;
  if (new URL(a.href).origin !== location.origin) return false;  // outside sites
  return a.target !== '_blank' || !/\\bnoopener\\b/.test(a.rel);
}).map(a => a.outerHTML)"""


@pytest.mark.browser
def test_links_in_an_embed_open_outside_the_frame(watch, site):
    directory, origin, server = site
    src = (f"{server.url}/embed?lang=en&layers=products,destinations,districts"
           "&controls=zoom,filters,legend,locate,search")
    host_page(directory, "links.html",
              f'<iframe src="{src}" title="map" style="width:900px;height:600px;border:0">'
              "</iframe>")
    w = watch(viewport={"width": 1000, "height": 800})
    frame, child = framed(w, origin, "links.html")

    # "List view" in the filters: a new page, the frame keeps the map.
    frame.locator(".ocop-tab-filters").click()
    with w.context.expect_page() as opened:
        frame.locator("a.ocop-list-link").click()
    listed = opened.value
    listed.wait_for_load_state()
    assert "/list?" in listed.url and listed.locator("main").count() == 1
    assert "/embed?" in child.url

    # A right-click ("near here"), then its page link.
    frame.locator(".leaflet-container").click(button="right", position={"x": 600, "y": 300})
    frame.locator(".ocop-view-near a[href*='/nearby']").wait_for(timeout=10000)
    with w.context.expect_page() as opened:
        frame.locator(".ocop-view-near a[href*='/nearby']").click()
    near = opened.value
    near.wait_for_load_state()
    assert "/nearby?" in near.url and "km" in near.locator("main").inner_text()
    assert "/embed?" in child.url

    # A feature's details, then every link to the app in the frame.
    fid = child.evaluate("() => OcopMap.rows.products[0].id")
    child.evaluate("id => OcopMap.open('products', id)", fid)
    frame.locator(".leaflet-popup-content .ocop-popup").wait_for(timeout=10000)
    assert child.evaluate(UNMARKED_APP_LINKS) == []
    assert child.evaluate("() => document.querySelector('a.ocop-larger').target") == "_blank"
    assert w.errors == []


@pytest.mark.browser
def test_an_embed_may_ask_its_links_to_replace_the_host_page(watch, site):
    directory, origin, server = site
    src = f"{server.url}/embed?lang=en&controls=filters&target=_top"
    host_page(directory, "top.html",
              f'<iframe src="{src}" title="map" width="800" height="500"></iframe>')
    w = watch(viewport={"width": 1000, "height": 800})
    frame, child = framed(w, origin, "top.html")
    # Kept in the embed's own URL as it changes (so a reload keeps it).
    assert "target=_top" in child.url
    frame.locator(".ocop-tab-filters").click()
    assert frame.locator("a.ocop-list-link").get_attribute("target") == "_top"
    frame.locator("a.ocop-list-link").click()
    w.page.wait_for_url("**/list?**", timeout=10000)
    assert w.page.url.startswith(server.url)


def builder_snippet(w, server, setup=None):
    """The code the builder writes, with `setup` (a script) run on its form first."""
    w.page.goto(f"{server.url}/embed/builder?lang=en")
    if setup:
        w.page.evaluate(setup)
    return w.page.input_value("#snippet"), w.page.get_attribute("#preview", "src")


@pytest.mark.browser
@pytest.mark.parametrize("size", ["ratio", "height", "fixed"])
def test_the_snippet_pasted_as_is_fits_a_phone(watch, site, size):
    directory, origin, server = site
    setup = (f"() => {{ const f = document.getElementById('builder');"
             f" f.querySelector('input[name=size][value={size}]').click(); }}")
    code, src = builder_snippet(watch(), server, setup)
    assert 'loading="lazy"' in code and 'title="Hải Phòng OCOP products map"' in code
    assert 'referrerpolicy="' in code
    host_page(directory, f"phone-{size}.html", code)
    w = watch(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    framed(w, origin, f"phone-{size}.html")
    box = w.page.locator("iframe").bounding_box()
    assert w.page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert box["x"] + box["width"] <= 390 and box["height"] >= 200
    if size == "ratio":
        assert abs(box["width"] * 3 / 4 - box["height"]) < 2   # 4:3 kept at any width
    assert w.errors == []


@pytest.mark.browser
def test_the_builders_code_is_oembeds(watch, live_server):
    """One markup: the builder's default code is what oEmbed answers for its preview URL,
    with "Near me" on (geolocation asked for) and in Vietnamese."""
    setup = """() => { const f = document.getElementById('builder');
      f.querySelector('input[name=controls][value=locate]').click();
      f.querySelector('input[name=lang][value=vi]').click(); }"""
    code, src = builder_snippet(watch(), live_server, setup)
    assert 'allow="geolocation; fullscreen"' in code and "Bản đồ" in code
    with urllib.request.urlopen(f"{live_server.url}/oembed?{urlencode({'url': src})}",
                                timeout=10) as r:
        assert json.load(r)["html"] == code


@pytest.mark.browser
def test_near_me_works_cross_origin_when_the_snippet_allows_it(watch, site):
    directory, origin, server = site
    url = f"{server.url}/embed?lang=en&controls=zoom,legend,locate"
    with urllib.request.urlopen(f"{server.url}/oembed?{urlencode({'url': url})}",
                                timeout=10) as r:
        code = json.load(r)["html"]
    host_page(directory, "near.html", code)
    w = watch(viewport={"width": 1000, "height": 900}, permissions=["geolocation"],
              geolocation=HERE)
    frame, child = framed(w, origin, "near.html")
    frame.locator(".ocop-tab-near").click()
    frame.locator(".ocop-near-list .ocop-near-item").first.wait_for(timeout=15000)
    status = frame.locator(".ocop-near-status").inner_text()
    assert status != child.evaluate("() => OcopMap.msg('location_unavailable')")
    assert w.errors == []

    # Without the permission in the snippet, the frame gets no position: what the fix was for.
    host_page(directory, "near-denied.html", code.replace(' allow="geolocation; fullscreen"', ""))
    w = watch(viewport={"width": 1000, "height": 900}, permissions=["geolocation"],
              geolocation=HERE)
    frame, child = framed(w, origin, "near-denied.html")
    frame.locator(".ocop-tab-near").click()
    unavailable = child.evaluate("() => OcopMap.msg('location_unavailable')")
    child.wait_for_function(
        "t => document.querySelector('.ocop-near-status').textContent === t", arg=unavailable,
        timeout=20000)


@pytest.mark.browser
def test_a_sandboxed_frame_gets_its_popups_and_search(watch, site):
    directory, origin, server = site
    src = f"{server.url}/embed?lang=en&layers=products,destinations&controls=zoom,search,legend"
    host_page(directory, "sandboxed.html",
              f'<iframe sandbox="allow-scripts allow-popups" src="{src}" title="map" '
              'style="width:1000px;height:700px;border:0"></iframe>')
    w = watch(viewport={"width": 1100, "height": 800})
    frame, child = framed(w, origin, "sandboxed.html")
    assert child.evaluate("() => self.origin") == "null"
    name = child.evaluate("() => OcopMap.rows.products[0].title")
    frame.locator("#ocop-q").fill(name)
    frame.locator("#ocop-results [role=option]").first.wait_for(timeout=5000)
    frame.locator("#ocop-q").press("Enter")
    details = frame.locator(".leaflet-popup-content .ocop-popup")
    details.wait_for(timeout=15000)
    assert name in details.inner_text()
    assert child.evaluate("() => OcopMap.msg('popup_unavailable')") not in \
        frame.locator(".leaflet-popup-content").inner_text()
    assert w.errors == []


@pytest.mark.browser
def test_a_sites_script_can_ask_oembed(watch, site):
    directory, origin, server = site
    host_page(directory, "script.html", "")
    w = watch()
    w.page.goto(f"{origin}/script.html")
    doc = w.page.evaluate(
        "url => fetch(url).then(r => r.json())",
        f"{server.url}/oembed?url={server.url}/%3Flang%3Den&format=json")
    assert doc["type"] == "rich" and doc["title"] == "Hải Phòng OCOP products map"
    assert w.errors == []


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/embed?layers=products&controls=legend,layers",
                                  "/?layers=products"])
def test_the_legend_shows_district_colours_only_with_the_districts_layer(watch, live_server,
                                                                          path):
    w = watch(viewport={"width": 1280, "height": 800})
    w.page.goto(live_server.url + path)
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    tab = w.page.locator(".ocop-tab-legend")
    if tab.get_attribute("aria-expanded") != "true":
        tab.click()
    swatches = w.page.locator(".ocop-classes .ocop-swatch")
    assert w.page.locator(".ocop-legend .ocop-pin").first.is_visible()   # the rest is there
    assert swatches.count() > 0 and not swatches.first.is_visible()
    # The layer switch turns the districts on: their colours appear; off again, they go.
    w.page.hover(".leaflet-control-layers")
    box = w.page.locator(".leaflet-control-layers-overlays label", has_text="district") \
        .or_(w.page.locator(".leaflet-control-layers-overlays label", has_text="huyện")) \
        .locator("input")
    box.check()
    w.page.wait_for_selector(".ocop-classes .ocop-swatch", state="visible", timeout=5000)
    box.uncheck()
    w.page.wait_for_selector(".ocop-classes .ocop-swatch", state="hidden", timeout=5000)
    assert w.errors == []


@pytest.mark.browser
def test_the_full_map_in_a_sandboxed_frame_goes_without_its_offline_copy_quietly(watch,
                                                                                live_server):
    """A frame sandboxed without allow-same-origin may not touch the service worker: the map
    (static/pwa.js) skips its offline copy without an error."""
    w = watch(service_workers="allow", viewport={"width": 1100, "height": 800})
    w.page.route(f"{live_server.url}/host.html", lambda route: route.fulfill(
        content_type="text/html",
        body='<!doctype html><title>host</title><iframe sandbox="allow-scripts" src="/" '
             'title="map" style="width:1000px;height:700px"></iframe>'))
    w.page.goto(f"{live_server.url}/host.html")
    w.page.frame_locator("iframe").locator("[data-ocop-ready]").wait_for(timeout=20000)
    child = w.page.frames[1]
    # Its load handlers (where the worker is registered) have run once it is complete.
    child.wait_for_function("() => document.readyState === 'complete'", timeout=20000)
    assert child.evaluate("() => self.origin") == "null"
    assert w.errors == []

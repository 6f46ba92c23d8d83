"""The static build: a folder any web server can host, with the Flask app not running."""
import json
import re
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from app import create_app
from tests.conftest import free_port
from tests.synthetic import N_DISTRICTS

PAGES = {"index.html": "/", "index-en.html": "/index-en.html", "embed.html": "/embed.html",
         "embed-en.html": "/embed-en.html"}
# What a page loads from the site: its scripts and stylesheets.
LOADS = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"')
MAP_DIR = re.compile(r"map/([^/\"]+)/")
RENAMED = "Nước mắm Cát Hải đổi tên"


def build(app, out):
    result = app.test_cli_runner().invoke(args=["ocop", "build-static", str(out)])
    assert result.exit_code == 0, result.output
    # Built without PUBLIC_URL (tests do not know where a copy would be published): said so.
    assert "warning: PUBLIC_URL is not set" in result.stderr
    return result.stdout          # the report; the progress bar is on stderr


def loads(out, page):
    return LOADS.findall((out / page).read_text(encoding="utf-8"))


def map_dirs(out, page="index.html"):
    """The map folders a page's scripts (and so its popups) come from."""
    return {m for url in loads(out, page) for m in MAP_DIR.findall(url)}


@pytest.fixture(scope="module")
def built(app, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    return out, build(app, out)


@pytest.fixture(scope="module")
def site(built):
    return built[0]


def test_site_has_pages_scripts_downloads_and_assets(site, app):
    for name in (*PAGES, "export/products.geojson", "export/districts.gpkg",
                 "export/communes.kml"):
        assert (site / name).is_file(), name
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "nonce=" not in html and 'src="/' not in html and "http://" not in html.split("<body>")[0]
    urls = loads(site, "index.html")
    assert any(u.endswith("/vendor/leaflet/leaflet.js") for u in urls)
    assert any(u.endswith("/static/ocop-map.js") for u in urls)


@pytest.mark.parametrize("page", PAGES)
def test_pages_load_only_files_named_by_their_content(site, page):
    urls = loads(site, page)
    assert urls
    for url in urls:
        # map/<data version>-<hash>/… or assets/<hash>/…: nothing a CDN could keep stale.
        assert re.match(r"(map/[0-9a-f]{12}-[0-9a-f]{8}|assets/[0-9a-f]{12})/", url), url
        assert (site / url).is_file(), url
    lang = "en" if "-en" in page else "vi"
    mode = "embed" if page.startswith("embed") else "full"
    [script] = [u for u in urls if u.startswith("map/")]
    assert script.endswith(f"/{lang}/{mode}.js")
    # The script fetches its popups from the same versioned folder.
    popups = re.search(r'"popups":"([^"]+)"', (site / script).read_text(encoding="utf-8"))[1]
    folder = script.rsplit("/", 2)[0]
    assert popups == f"{folder}/{lang}/popups-{{layer}}.json"
    for layer in ("products", "destinations", "communes"):
        assert (site / popups.replace("{layer}", layer)).is_file()


def test_build_names_the_pages_it_wrote_and_their_urls(built):
    out, output = built
    for name, url in PAGES.items():
        assert re.search(rf"^wrote {re.escape(name)} +→ {re.escape(url)}$", output, re.M), output
    # Every product and destination page too, in both languages.
    st = create_app({"TESTING": True}).extensions["ocop"]
    fid = st.collections["products"].frame.index[0]
    card = re.escape(f"products/{fid}/")
    assert re.search(rf"^wrote {card}index\.html +→ /{card}$", output, re.M), output
    cards = sum(len(st.collections[c].frame) for c in ("products", "destinations"))
    assert f"{4 + 2 * cards} pages" in output
    assert f"{map_dirs(out).pop()}/" in output


def test_page_urls_and_relative_links():
    from web.static_site import Site, page_url

    assert page_url("index.html") == "/" and page_url("embed/index.html") == "/embed/"
    assert page_url("embed-en.html") == "/embed-en.html"
    assert Site.link("index.html", "assets/ab/static/ocop-map.css") == \
        "assets/ab/static/ocop-map.css"
    assert Site.link("products/x/index.html", "assets/ab/static/pages.css") == \
        "../../assets/ab/static/pages.css"


def test_headers_file_caches_versioned_files_for_a_year_and_revalidates_the_rest(site):
    text = (site / "_headers").read_text(encoding="utf-8")
    rules = dict(re.findall(r"^(\S+)\n  Cache-Control: (.+)$", text, re.M))
    assert rules["/map/*"] == rules["/assets/*"] == "public, max-age=31536000, immutable"
    for path in ("/export/*", "/index.html", *PAGES.values(), "/products/*", "/destinations/*",
                 "/sitemap.xml"):
        assert rules[path] == "public, max-age=0, must-revalidate", path
    # Cloudflare Pages applies every rule that matches: none may also cover a versioned file.
    assert "/*" not in rules


def test_rebuild_after_a_data_change_names_new_files(data_copy, tmp_path, app, site):
    out = tmp_path / "site"
    before = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    build(before, out)
    [old] = map_dirs(out)
    if before.extensions["ocop"].as_of == app.extensions["ocop"].as_of:
        # The same data on the same day gives the same names: a rebuild with nothing new
        # leaves the CDN's copies valid.
        assert map_dirs(site) == {old}
    assets = {u for u in loads(out, "index.html") if u.startswith("assets/")}

    path = data_copy / "products.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    props = doc["features"][0]["properties"]
    old_name, props["name"] = props["name"], RENAMED
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    after = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    output = build(after, out)

    for page in PAGES:
        [new] = map_dirs(out, page)
        assert new != old, page
        assert new.startswith(after.extensions["ocop"].version)
        assert f"{new}/" in output
    # Data changed, code did not: the assets keep their names (and the CDN's copies).
    assert {u for u in loads(out, "index.html") if u.startswith("assets/")} == assets
    # The new names hold the new data; the old files are still there for pages cached before.
    pid = props["id"]
    for lang in ("vi", "en"):
        for mode in ("full", "embed"):
            assert (out / "map" / old / lang / f"{mode}.js").is_file()
        new_popups, old_popups = (
            json.loads((out / "map" / d / lang / "popups-products.json").read_text(
                encoding="utf-8")) for d in (new, old))
        assert new_popups[pid] != old_popups[pid]
    new_popups, old_popups = (
        json.loads((out / "map" / d / "vi" / "popups-products.json").read_text(encoding="utf-8"))
        for d in (new, old))
    assert RENAMED in new_popups[pid] and old_name not in new_popups[pid]
    assert old_name in old_popups[pid]
    assert RENAMED in (out / "map" / new / "vi" / "full.js").read_text(encoding="utf-8")
    assert RENAMED in (out / "export" / "products.csv").read_text(encoding="utf-8-sig")


@pytest.fixture(scope="module")
def static_server(site):
    """`python -m http.server` on 127.0.0.1: no Flask behind it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                             "127.0.0.1", "-d", str(site)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/index.html", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.browser
@pytest.mark.parametrize("page", ["index.html", "index-en.html", "embed.html"])
def test_static_copy_draws_the_same_map(watch, static_server, app, page, tmp_path):
    st = app.extensions["ocop"]
    w = watch()
    w.page.goto(f"{static_server}/{page}")
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    assert w.page.locator("path.ocop-district").count() == N_DISTRICTS
    assert w.page.evaluate("() => OcopMap.layers.products.getLayers().length") == len(st.products)
    assert w.page.evaluate("() => OcopMap.layers.destinations.getLayers().length") == \
        len(st.dataset.destinations)
    # Every request went to the static server (tiles aside).
    assert w.outside_hosts() <= {urlsplit(app.config["TILE_URL"]).hostname}
    w.page.screenshot(path=str(tmp_path / f"static-{page}.png"))
    assert w.errors == []


@pytest.mark.browser
def test_static_downloads_search_and_popups_work(watch, static_server, app):
    w = watch()
    w.page.goto(f"{static_server}/index.html")
    w.page.wait_for_selector("[data-ocop-ready]", timeout=15000)
    w.page.fill("#ocop-q", "mat ong")
    assert "Mật ong" in w.page.inner_text("#ocop-results")
    w.page.keyboard.press("Escape")
    w.page.click(".ocop-tab-filters")
    href = w.page.get_attribute(".ocop-links a[data-format=geojson]", "href")
    doc = w.page.evaluate("url => fetch(url).then(r => r.json())", href)
    assert len(doc["features"]) == len(app.extensions["ocop"].products)
    # The popups come from the versioned folder.
    popups = w.page.evaluate("() => OcopMap.popupsOf('products')")
    assert len(popups) == len(app.extensions["ocop"].products)
    assert w.errors == []

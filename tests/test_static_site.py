"""The static build: a folder any web server can host, with the Flask app not running."""
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.conftest import free_port
from tests.synthetic import N_DISTRICTS


@pytest.fixture(scope="module")
def site(app, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    result = app.test_cli_runner().invoke(args=["ocop", "build-static", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    return out


def test_site_has_pages_scripts_downloads_and_assets(site, app):
    for name in ("index.html", "index-en.html", "embed.html", "embed-en.html",
                 "vendor/leaflet/leaflet.js", "static/ocop-map.js",
                 "export/products.geojson", "export/districts.gpkg", "export/communes.kml"):
        assert (site / name).is_file(), name
    html = (site / "index.html").read_text(encoding="utf-8")
    assert "nonce=" not in html and 'src="/' not in html and "http://" not in html.split("<body>")[0]


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
def test_static_downloads_and_search_work(watch, static_server, app):
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

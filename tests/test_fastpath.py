"""The fast path (web/fastpath.py) answers repeat requests exactly as Flask would."""
import json
import re

import pytest

import web.fastpath
import web.state
from app import create_app
from geo import importer
from tests.test_import import DATA

NONCE = re.compile(r"'nonce-([^']+)'")
URLS = ["/export/products.geojson", "/export/districts.csv?district=311",
        "/ogc/collections/products/items?limit=5", "/ogc/collections?f=html"]


@pytest.fixture()
def fresh_app(data_copy, monkeypatch):
    monkeypatch.setattr(web.state, "CHECK_EVERY", 0.0)
    return create_app({"TESTING": True, "DATA_DIR": str(data_copy)})


def served(app):
    return app.wsgi_app.entries


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_repeat_request_gets_the_same_answer_with_a_fresh_nonce(fresh_app, url, encoding):
    client = fresh_app.test_client()
    headers = {"Accept-Encoding": encoding}
    first = client.get(url, headers=headers)
    assert len(served(fresh_app)) == 1          # recorded...
    second = client.get(url, headers=headers)   # ...and answered from the record
    assert first.status_code == second.status_code == 200
    assert first.data == second.data
    drop = {"Content-Security-Policy"}
    assert {k: v for k, v in first.headers if k not in drop} == \
           {k: v for k, v in second.headers if k not in drop}
    csp1, csp2 = first.headers["Content-Security-Policy"], second.headers[
        "Content-Security-Policy"]
    assert NONCE.sub("", csp1) == NONCE.sub("", csp2)
    assert NONCE.search(csp1).group(1) != NONCE.search(csp2).group(1)
    assert "frame-ancestors 'self'" in csp2 and second.headers["X-Content-Type-Options"]


def test_each_header_that_changes_the_answer_is_part_of_the_key(fresh_app):
    client = fresh_app.test_client()
    url = "/ogc/collections/products/items?limit=2"
    as_json = client.get(url, headers={"Accept": "application/geo+json"})
    as_html = client.get(url, headers={"Accept": "text/html"})
    assert as_json.mimetype == "application/geo+json" and as_html.mimetype == "text/html"
    other_host = client.get(url, headers={"Accept": "application/geo+json"},
                            base_url="http://maps.example.vn")
    assert "http://maps.example.vn/ogc/" in other_host.get_data(as_text=True)
    assert "http://localhost/ogc/" in as_json.get_data(as_text=True)
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"


def test_conditional_requests_still_get_304(fresh_app):
    client = fresh_app.test_client()
    first = client.get("/export/products.geojson")
    again = client.get("/export/products.geojson", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def test_errors_are_never_recorded(fresh_app):
    client = fresh_app.test_client()
    assert client.get("/export/products.geojson?stars=7").status_code == 400
    assert client.get("/export/products.geojson?stars=7").status_code == 400
    assert client.get("/export/nothing.geojson").status_code == 400
    assert client.get("/ogc/collections/products/items/no-such-id").status_code == 404
    assert served(fresh_app) == {}


@pytest.mark.parametrize("url", ["/", "/embed?category=food&lang=en"])
def test_map_pages_get_a_fresh_nonce_in_header_and_markup(fresh_app, url):
    client = fresh_app.test_client()
    pages = [client.get(url) for _ in range(3)]
    assert len(served(fresh_app)) == 1
    nonces = [NONCE.search(p.headers["Content-Security-Policy"]).group(1) for p in pages]
    assert len(set(nonces)) == 3
    bodies = [p.get_data(as_text=True) for p in pages]
    for nonce, body in zip(nonces, bodies):
        assert f'nonce="{nonce}"' in body
    assert bodies[1].replace(nonces[1], "N") == bodies[0].replace(nonces[0], "N")
    assert all(p.headers["Cache-Control"] == "no-store" for p in pages)


def test_a_new_data_version_is_served_at_once(fresh_app, data_copy):
    client = fresh_app.test_client()
    before = json.loads(client.get("/export/products.geojson").data)
    assert json.loads(client.get("/export/products.geojson").data) == before
    importer.import_file(data_copy, DATA / "lonlat.csv")       # as another process would
    after = json.loads(client.get("/export/products.geojson").data)
    assert len(after["features"]) == len(before["features"]) + 2


def test_memory_stays_bounded_whatever_the_query_strings(fresh_app, monkeypatch):
    monkeypatch.setattr(web.fastpath, "MAX_ENTRIES", 5)
    client = fresh_app.test_client()
    for i in range(12):
        assert client.get(f"/ogc/collections/products/items?limit={i + 1}").status_code == 200
        assert len(served(fresh_app)) <= 5


def test_pages_served_around_a_data_change_keep_their_scripts(fresh_app, data_copy):
    """Workers notice new files at different moments: a page from either side of an import
    must find its versioned script and popups, whichever worker answers."""
    client = fresh_app.test_client()
    old_page = client.get("/").get_data(as_text=True)
    old_script = re.search(r'src="(/map/[^"]+)"', old_page).group(1)
    old_popups = old_script.replace("full.js", "popups-products.json")
    importer.import_file(data_copy, DATA / "lonlat.csv")
    new_page = client.get("/").get_data(as_text=True)
    new_script = re.search(r'src="(/map/[^"]+)"', new_page).group(1)
    assert new_script != old_script
    for url in (old_script, old_popups, new_script):
        assert client.get(url).status_code == 200, url
    assert client.get("/map/000000000000/vi/full.js").status_code == 404


def test_a_worker_behind_the_files_serves_the_new_script(data_copy, monkeypatch):
    """A worker that has not checked the files yet gets asked for the new version's script
    (another worker sent the page): it checks at once instead of answering 404."""
    monkeypatch.setattr(web.state, "CHECK_EVERY", 3600.0)
    ahead = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    behind = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    behind.test_client().get("/")       # its last check of the files was now
    importer.import_file(data_copy, DATA / "lonlat.csv")
    web.state.refresh_state(ahead, force=True)
    page = ahead.test_client().get("/").get_data(as_text=True)
    script = re.search(r'src="(/map/[^"]+)"', page).group(1)
    answer = behind.test_client().get(script)
    assert answer.status_code == 200
    assert answer.data == ahead.test_client().get(script).data


def test_the_fast_path_can_be_switched_off(data_copy):
    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy), "FASTPATH": False})
    assert not isinstance(app.wsgi_app, web.fastpath.FastPath)
    client = app.test_client()
    first, second = client.get(URLS[0]), client.get(URLS[0])
    assert first.status_code == second.status_code == 200 and first.data == second.data


def test_only_responses_said_to_be_shared_are_recorded(fresh_app):
    """A page that does not say `shared=True` (the admin, /stats, errors) always goes through
    Flask, so nothing per user can leak to another."""
    client = fresh_app.test_client()
    for url in ("/stats", "/expiring", "/admin", "/list", "/nearby?near=106.7,20.85"):
        client.get(url)
        client.get(url)
    assert len(served(fresh_app)) == 0
    client.get(URLS[0])
    assert len(served(fresh_app)) == 1


def test_a_new_day_recomputes_the_certificate_statuses(fresh_app):
    """Statuses are as of the day the State was built; on a later day the next request
    rebuilds it, so a download never says "valid" for a certificate that ended since."""
    from datetime import date

    stale = web.state.build_state(fresh_app.extensions["ocop"].dataset, today=date(2040, 1, 1))
    fresh_app.extensions["ocop"] = stale
    assert set(stale.products["certificate_status"]) <= {"expired", "unknown"}
    doc = json.loads(fresh_app.test_client().get("/export/products.geojson").data)
    now = fresh_app.extensions["ocop"]
    assert now is not stale and now.as_of == date.today()
    statuses = {f["properties"]["certificate_status"] for f in doc["features"]}
    assert "valid" in statuses

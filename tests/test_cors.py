"""CORS: the public data (downloads, OGC API) may be read from any origin; nothing else may."""
import pytest

import web.state
from app import create_app

ORIGIN = {"Origin": "https://example.org"}
PUBLIC = ["/export/products.geojson", "/export/districts.csv?district=311",
          "/ogc", "/ogc/collections", "/ogc/collections/products/items?limit=5",
          "/ogc/api", "/ogc/collections/products/items/no-such-id"]


@pytest.fixture()
def fresh_app(data_copy, monkeypatch):
    monkeypatch.setattr(web.state, "CHECK_EVERY", 0.0)
    return create_app({"TESTING": True, "DATA_DIR": str(data_copy)})


@pytest.mark.parametrize("url", PUBLIC)
def test_public_data_allows_any_origin_also_from_the_fast_path(fresh_app, url):
    client = fresh_app.test_client()
    answers = [client.get(url, headers=ORIGIN) for _ in range(2)]
    for r in answers:
        assert r.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in r.headers
        if r.status_code == 200:
            assert "ETag" in r.headers["Access-Control-Expose-Headers"]
    if answers[0].status_code == 200:
        assert len(fresh_app.wsgi_app.entries) == 1      # the second one was a replay
    assert client.head(url, headers=ORIGIN).headers["Access-Control-Allow-Origin"] == "*"


def test_304_and_400_carry_it_too(client):
    first = client.get("/ogc/collections/products/items?stars=4")
    again = client.get("/ogc/collections/products/items?stars=4",
                       headers={**ORIGIN, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Access-Control-Allow-Origin"] == "*"
    for url in ("/ogc/collections/products/items?stars=9", "/export/products.geojson?x=1"):
        bad = client.get(url, headers=ORIGIN)
        assert bad.status_code == 400 and bad.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("url", ["/ogc/collections/products/items", "/export/products.csv",
                                 "/ogc"])
def test_preflight_is_answered(client, url):
    r = client.options(url, headers={
        **ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Accept, Content-Type, If-None-Match"})
    assert r.status_code == 204 and not r.data
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"accept", "content-type", "if-none-match"}


@pytest.mark.parametrize("url", ["/", "/admin", "/admin/login", "/stats", "/embed"])
def test_nothing_else_is_shared_across_origins(client, url):
    r = client.get(url, headers=ORIGIN)
    assert "Access-Control-Allow-Origin" not in r.headers, url
    pre = client.options(url, headers={**ORIGIN, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in pre.headers, url
    assert "Access-Control-Allow-Methods" not in pre.headers, url

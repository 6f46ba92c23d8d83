"""OGC API - Features under /ogc: the documents, paging, errors, HTML, and real clients
(GDAL's OAPIF driver, OWSLib, Schemathesis) against the app on 127.0.0.1."""
import json
import re
import subprocess
import sys
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from werkzeug.datastructures import MultiDict

from geo import ogc
from geo.filters import FilterError
from tests.synthetic import HOSTILE
from web.state import state

NAMES = ("products", "destinations", "districts", "communes")
CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"


def get_json(client, url, status=200, **kw):
    r = client.get(url, **kw)
    assert r.status_code == status, (url, r.status_code, r.data[:300])
    return r.get_json(force=True)


def rels(doc) -> dict:
    return {(link["rel"], link["type"]): link["href"] for link in doc["links"]}


def rels_of(doc) -> set:
    return {link["rel"] for link in doc["links"]}


def local(href: str) -> str:
    """An absolute link as a path + query for the test client."""
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def collection_frame(app, name):
    with app.app_context():
        return state().collections[name]


# -- documents ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/ogc", "/ogc/"])
def test_landing_page_links(client, path):
    doc = get_json(client, path)
    links = rels(doc)
    assert links[("service-desc", ogc.OPENAPI)].endswith("/ogc/api?f=json")
    assert links[("service-doc", "text/html")].endswith("/ogc/api?f=html")
    assert links[("conformance", "application/json")].endswith("/ogc/conformance")
    assert links[("data", "application/json")].endswith("/ogc/collections")
    assert links[("self", "application/json")].startswith("http://localhost/ogc")
    assert ("alternate", "text/html") in links


def test_conformance_classes(client):
    doc = get_json(client, "/ogc/conformance")
    assert {CONF + c for c in ("core", "oas30", "html", "geojson")} <= set(doc["conformsTo"])


def test_api_document_is_openapi_30_and_self_contained(client):
    r = client.get("/ogc/api")
    assert r.status_code == 200 and r.mimetype == "application/vnd.oai.openapi+json"
    doc = json.loads(r.data)
    assert doc["openapi"].startswith("3.0")
    refs = re.findall(r'"\$ref":\s*"([^"]*)"', r.data.decode())
    assert refs and all(ref.startswith("#/components/") for ref in refs)
    for name in NAMES:
        assert f"/collections/{name}/items/{{featureId}}" in doc["paths"]
    params = {p["$ref"].rsplit("/", 1)[1] for p in
              doc["paths"]["/collections/products/items"]["get"]["parameters"]}
    assert params == {"f", "limit", "offset", "bbox", "district", "commune", "certificate",
                      "category", "stars", "q", "near", "radius_km", "datetime", "crs",
                      "bbox-crs", "filter", "filter-lang", "filter-crs", "sortby_products",
                      "properties_products"}


def test_collections_and_their_metadata(app, client):
    doc = get_json(client, "/ogc/collections")
    assert [c["id"] for c in doc["collections"]] == list(NAMES)
    for name in NAMES:
        meta = get_json(client, f"/ogc/collections/{name}")
        assert meta["id"] == name and meta["itemType"] == "feature"
        assert meta["extent"]["spatial"]["crs"] == ogc.CRS84
        x0, y0, x1, y1 = meta["extent"]["spatial"]["bbox"][0]
        b = collection_frame(app, name).frame.total_bounds
        assert x0 <= b[0] and y0 <= b[1] and x1 >= b[2] and y1 >= b[3]
        assert max(abs(x0 - b[0]), abs(x1 - b[2])) < 1e-4
        links = rels(meta)
        assert local(links[("items", "application/geo+json")]) == \
            f"/ogc/collections/{name}/items?f=json"
        assert ("items", "text/html") in links


# -- items ----------------------------------------------------------------------------------

def test_items_are_geojson_with_counts_and_a_timestamp(app, client):
    r = client.get("/ogc/collections/products/items")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    doc = r.get_json(force=True)
    n = len(collection_frame(app, "products").frame)
    assert doc["type"] == "FeatureCollection"
    assert doc["numberMatched"] == n and doc["numberReturned"] == len(doc["features"]) == 10
    assert datetime.strptime(doc["timeStamp"], "%Y-%m-%dT%H:%M:%SZ")


def test_next_and_prev_walk_every_match_once_and_keep_other_parameters(app, client):
    c = collection_frame(app, "communes")
    url = "/ogc/collections/communes/items?q=xa&limit=7"
    expected = get_json(client, "/ogc/collections/communes/items?q=xa&limit=1000")
    assert 7 < expected["numberMatched"] < len(c.frame)
    seen, pages, prev_of = [], [], {}
    while url:
        doc = get_json(client, url)
        pages.append(url)
        seen += [f["id"] for f in doc["features"]]
        links = {link["rel"]: local(link["href"]) for link in doc["links"]}
        assert doc["numberMatched"] == expected["numberMatched"]
        for rel in ("next", "prev"):
            if rel in links:
                params = dict(parse_qsl(urlsplit(links[rel]).query))
                assert params["q"] == "xa" and params["limit"] == "7" and params["f"] == "json"
        if "prev" in links:
            prev_of[url] = links["prev"]
        url = links.get("next")
    assert seen == [f["id"] for f in expected["features"]]
    assert len(pages) == -(-expected["numberMatched"] // 7)
    first_ids = [f["id"] for f in get_json(client, pages[0])["features"]]
    assert [f["id"] for f in get_json(client, prev_of[pages[1]])["features"]] == first_ids
    assert "prev" not in rels_of(get_json(client, pages[0]))


def test_offset_past_the_end_is_an_empty_page_with_prev(client):
    doc = get_json(client, "/ogc/collections/products/items?offset=500&limit=10")
    assert doc["features"] == [] and doc["numberReturned"] == 0
    assert "prev" in rels_of(doc) and "next" not in rels_of(doc)


def test_limit_above_the_maximum_is_clamped_not_refused(client):
    q = ogc.parse_items_query([("limit", "50000")], "communes")
    assert q.limit == ogc.MAX_LIMIT == 10000
    assert ogc.parse_items_query([("limit", "9" * 40)], "communes").limit == 10000
    doc = get_json(client, "/ogc/collections/communes/items?limit=50000")
    assert doc["numberReturned"] == doc["numberMatched"] == 114


@pytest.mark.parametrize("query", ["district=303&stars=4", "category=food&category=beverages",
                                   "q=do son", "bbox=106.6,20.7,106.8,20.9",
                                   "near=106.70,20.95&radius_km=15"])
def test_filters_match_the_downloads_exactly(client, query):
    api = get_json(client, f"/ogc/collections/products/items?limit=1000&{query}")
    download = json.loads(client.get(f"/export/products.geojson?{query}").data)
    assert [f["id"] for f in api["features"]] == [f["id"] for f in download["features"]]
    assert api["features"] == download["features"]


def test_one_feature_and_404_for_a_missing_one(app, client):
    c = collection_frame(app, "districts")
    code = c.frame["code"].iloc[0]
    doc = get_json(client, f"/ogc/collections/districts/items/{code}")
    assert doc["id"] == code and doc["properties"]["name"] == c.frame["name"].iloc[0]
    assert set(doc["properties"]) == set(c.fields)
    err = get_json(client, "/ogc/collections/districts/items/nope", 404)
    assert err["code"] == "NotFound"
    r = client.get("/ogc/collections/districts/items/nope?f=html")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert get_json(client, "/ogc/collections/rivers/items", 404)["code"] == "NotFound"


@pytest.mark.parametrize("url, parameter", [
    ("/ogc/collections/products/items?foo=1", "foo"),
    ("/ogc/collections/products/items?limit=0", "limit"),
    ("/ogc/collections/products/items?limit=abc", "limit"),
    ("/ogc/collections/products/items?limit=+5", "limit"),
    ("/ogc/collections/products/items?offset=-1", "offset"),
    ("/ogc/collections/products/items?bbox=1,2", "bbox"),
    ("/ogc/collections/products/items?bbox=107,21,106,20", "bbox"),
    ("/ogc/collections/products/items?stars=9", "stars"),
    ("/ogc/collections/products/items?category=", "category"),
    ("/ogc/collections/products/items?radius_km=5", "radius_km"),
    ("/ogc/collections/products/items?f=xml", "f"),
    ("/ogc/collections/destinations/items?stars=3", "stars"),
    ("/ogc/collections/districts/items/303?limit=1", "limit"),
    ("/ogc?lang=en", "lang"),
    ("/ogc/api?f=yaml", "f"),
])
def test_unknown_parameters_and_bad_values_are_400_naming_the_parameter(client, url, parameter):
    err = get_json(client, url, 400)
    assert err["parameter"] == parameter and err["code"] == "InvalidParameterValue"


def test_pure_parsing_raises_filter_error():
    with pytest.raises(FilterError) as e:
        ogc.parse_items_query(MultiDict([("limit", "1"), ("near", "200,0")]).items(multi=True),
                              "products")
    assert e.value.parameter == "near"


# -- negotiation and caching ----------------------------------------------------------------

def test_format_from_f_then_accept(client):
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert client.get("/ogc/collections").mimetype == "application/json"
    assert client.get("/ogc/collections", headers=browser).mimetype == "text/html"
    assert client.get("/ogc/collections?f=json", headers=browser).mimetype == "application/json"
    assert client.get("/ogc/collections?f=html").mimetype == "text/html"
    r = client.get("/ogc/collections/products/items", headers={"Accept": "application/geo+json"})
    assert r.mimetype == "application/geo+json"
    assert "Accept" in r.headers["Vary"]


def test_etag_304_and_gzip(client):
    r = client.get("/ogc/collections/products/items?stars=4", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["ETag"]
    again = client.get("/ogc/collections/products/items?stars=4",
                       headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


# -- HTML -----------------------------------------------------------------------------------

def html_pages(app):
    with app.app_context():
        colls = state().collections
    pages = ["/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/api"]
    for name, c in colls.items():
        pages += [f"/ogc/collections/{name}", f"/ogc/collections/{name}/items",
                  f"/ogc/collections/{name}/items/{c.frame[c.id_field].iloc[0]}"]
    return [f"{p}?f=html" for p in pages]


def test_html_pages_render_for_a_person(app, client):
    for path in html_pages(app):
        r = client.get(path)
        assert r.status_code == 200 and r.mimetype == "text/html", path
        html = r.get_data(as_text=True)
        assert "<script" not in html and not re.search(r"<[^>]*\son[a-z]+\s*=", html), path
        assert not re.search(r'(src|href)="//', html), path
        assert 'href="/static/ogc.css"' in html
    page = client.get("/ogc/collections/products/items?f=html&limit=5").get_data(as_text=True)
    n = len(app.extensions["ocop"].products)
    assert 'rel="next"' in page and "offset=5" in page and f"of {n} matching" in page


def test_html_escapes_hostile_data(hostile_app):
    client = hostile_app.test_client()
    for path in html_pages(hostile_app):
        html = client.get(path).get_data(as_text=True)
        assert "<img src=x" not in html and "<script" not in html and "</script>" not in html
    item = client.get("/ogc/collections/products/items/test-0?f=html").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in item
    # JSON carries the text unchanged: escaping is the page's job, not the data's.
    doc = get_json(client, "/ogc/collections/products/items/test-0")
    assert doc["properties"]["name"] == HOSTILE


# -- real clients on 127.0.0.1 --------------------------------------------------------------

# pyogrio keeps the GIL while GDAL reads, so GDAL must not run in the process whose thread
# serves it: it runs in a child process and prints what it read.
GDAL_READ = r"""
import json, sys
import pyogrio
url = sys.argv[1]
out = {}
for name, _ in pyogrio.list_layers(url):
    df = pyogrio.read_dataframe(url, layer=name)
    out[name] = json.loads(df.drop(columns="geometry").to_json(orient="records"))
print(json.dumps(out))
"""


def test_gdal_ogc_api_features_driver_reads_every_collection(app, live_server):
    done = subprocess.run([sys.executable, "-c", GDAL_READ, f"OAPIF:{live_server.url}/ogc"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    read = json.loads(done.stdout)
    assert sorted(read) == sorted(NAMES)
    for name in NAMES:
        c = collection_frame(app, name)
        rows = read[name]
        assert len(rows) == len(c.frame), name
        assert set(c.fields) <= set(rows[0]), name
        assert [r[c.id_field] for r in rows] == c.frame[c.id_field].tolist()
        for field in ("name", "district_code"):
            want = [None if v is None or v != v else v for v in c.frame[field]]
            assert [r[field] for r in rows] == want, (name, field)
    assert [r["stars"] for r in read["products"]] == \
        collection_frame(app, "products").frame["stars"].tolist()


def test_owslib_lists_collections_and_reads_items(app, live_server):
    from owslib.ogcapi.features import Features

    api = Features(live_server.url + "/ogc")
    assert api.feature_collections() == list(NAMES)
    assert CONF + "core" in api.conformance()["conformsTo"]
    assert "/collections/products/items" in api.api()["paths"]
    page = api.collection_items("products", limit=5, stars=4)
    products = collection_frame(app, "products").frame
    assert page["numberMatched"] == int((products["stars"] == 4).sum())
    assert page["numberReturned"] == len(page["features"]) <= 5
    first = page["features"][0]["id"]
    assert api.collection_item("products", first)["properties"]["stars"] == 4
    box = api.collection_items("districts", bbox=[107.6, 20.0, 107.9, 20.3])
    assert [f["properties"]["name"] for f in box["features"]] == ["Bạch Long Vĩ"]


# -- the API definition, fuzzed -------------------------------------------------------------

OPERATIONS = ["/", "/conformance", "/api", "/collections"] + [
    p for n in NAMES for p in (f"/collections/{n}", f"/collections/{n}/items",
                               f"/collections/{n}/items/{{featureId}}")]


@pytest.fixture(scope="module")
def ogc_schema(live_server):
    return schemathesis.openapi.from_url(f"{live_server.url}/ogc/api")


def rejects_invalid_except_clamped_limit(ctx, response, case):
    """Schemathesis' negative-data check, except for `limit` above its maximum: the standard
    says that is clamped, never an error."""
    raw = str((case.query or {}).get("limit", ""))
    if raw.isdigit() and int(raw) > ogc.MAX_LIMIT:
        return None
    return negative_data_rejection(ctx, response, case)


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("path", OPERATIONS)
def test_api_definition_holds_under_fuzzing(ogc_schema, path, mode):
    """No 5xx, every response as the definition says, every invalid request a 4xx.

    Rules OpenAPI 3.0 cannot state (bbox min <= max, radius_km needs near) make some
    schema-valid requests a 400, so the "valid data accepted" check is left out."""
    operation = ogc_schema[path]["GET"]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
            additional_checks=[rejects_invalid_except_clamped_limit])

    check()

"""The OGC API and the downloads as GIS users meet them: Debian's GDAL command-line tools (an
older GDAL, as many desktops have), the current GDAL (pyogrio's), OWSLib and Schemathesis,
against the app on 127.0.0.1.  Every request the clients make is recorded, so a test can see
what went to the server (a `-where` as a CQL filter, `-spat` as a bbox, a CRS) and count it.

The GDAL tools are Debian's `gdal-bin` (scripts/test.sh installs it): missing, these tests
fail in CI (CI=true) and are skipped elsewhere.  GDAL always runs in a child process, bounded
by a time-out (it holds the GIL while it reads, and the server is a thread of this process).
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
from urllib.parse import parse_qs

import pytest
from hypothesis import HealthCheck, given, settings
from pyproj import Transformer
from schemathesis import GenerationMode
from schemathesis.checks import (not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

import schemathesis
from geo.export import SHAPEFILE_NAMES, column_types
from tests.conftest import ROOT, LiveServer
from web.state import state

NAMES = ("products", "destinations", "districts", "communes")
FORMATS = ("geojson", "csv", "kml", "gpkg", "fgb", "xlsx", "shp.zip")
UTM48N = "EPSG:32648"           # Hải Phòng's UTM zone, a common projected CRS there
CRS_URI = "http://www.opengis.net/def/crs/EPSG/0/32648"
TIMEOUT = 120                   # seconds for one client run
# Only 127.0.0.1 is ever asked; a stuck request ends instead of holding the test.
GDAL_ENV = {"GDAL_HTTP_TIMEOUT": "60", "GDAL_HTTP_MAX_RETRY": "0", "CPL_DEBUG": "OFF",
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}


# -- the server, recording requests -------------------------------------------------------------

class Recorder:
    """A WSGI wrapper keeping (path, query, status) of every request it passes on."""

    def __init__(self, app):
        self.app = app
        self.log: list[tuple[str, dict, int]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        path, query = environ.get("PATH_INFO", ""), parse_qs(environ.get("QUERY_STRING", ""))

        def start(status, headers, exc_info=None):
            with self.lock:
                self.log.append((path, query, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)

    def mark(self) -> int:
        return len(self.log)

    def since(self, mark: int, path_part: str = "") -> list[tuple[str, dict, int]]:
        with self.lock:
            return [r for r in self.log[mark:] if path_part in r[0]]


@pytest.fixture(scope="module")
def server(app):
    rec = Recorder(app)
    srv = LiveServer(rec)
    srv.recorder = rec
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def frames(app):
    with app.app_context():
        return {name: c.frame for name, c in state().collections.items()}


def gdal_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install -y gdal-bin (scripts/test.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, **GDAL_ENV}, **kw)
    assert done.returncode == 0, (cmd, done.stderr[-2000:])
    return done


def ogr2ogr_features(server, layer: str, tmp_path, *args: str) -> list[dict]:
    """The layer read by Debian's GDAL (ogr2ogr to GeoJSON, with extra arguments)."""
    out = tmp_path / f"{layer}-{len(list(tmp_path.iterdir()))}.geojson"
    run([gdal_tool("ogr2ogr"), "-f", "GeoJSON", str(out), f"OAPIF:{server.url}/ogc", layer,
         *args])
    return json.loads(out.read_text(encoding="utf-8"))["features"]


# The current GDAL, pyogrio's, in a child process: the features read, as JSON.
PYOGRIO_READ = r"""
import json, sys
import pyogrio
url, layer, kw = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
rounds = kw.pop("rounds", 1)
for _ in range(rounds):
    df = pyogrio.read_dataframe(url, layer=layer, **kw)
print(json.dumps({"ids": df[df.columns[0]].astype(str).tolist(),
                  "x": df.geometry.x.tolist() if layer != "districts" else [],
                  "y": df.geometry.y.tolist() if layer != "districts" else [],
                  "crs": str(df.crs)}))
"""


def pyogrio_read(server, layer: str, **kw) -> dict:
    done = run([sys.executable, "-c", PYOGRIO_READ, f"OAPIF:{server.url}/ogc", layer,
                json.dumps(kw)])
    return json.loads(done.stdout)


def ids(features, field="id") -> list[str]:
    return sorted(str(f["properties"][field]) for f in features)


def filters_sent(requests) -> list[tuple[str, str]]:
    """(filter, filter-lang) of every items request that carried a filter."""
    return [(q["filter"][0], q.get("filter-lang", [""])[0]) for _, q, _ in requests
            if "filter" in q]


# -- GDAL's OGC API - Features driver (OAPIF) ---------------------------------------------------

def test_ogrinfo_lists_the_four_collections_as_layers(server):
    out = run([gdal_tool("ogrinfo"), "-ro", f"OAPIF:{server.url}/ogc"]).stdout
    layers = re.findall(r"(?m)^\d+: (\w+) .*\((\w+)\)$", out)
    assert [name for name, _ in layers] == list(NAMES), out
    assert dict(layers)["products"] == "Point"


@pytest.mark.parametrize("reader", ["gdal-3.6-cli", "current-gdal"])
def test_a_where_goes_to_the_server_as_a_cql_filter(server, frames, tmp_path, reader):
    """`-where "stars >= 4"`: the same products as the data, filtered by the server (GDAL, old
    and current, sends `filter=…&filter-lang=cql-text` when the API definition's `filter-lang`
    offers `cql-text`; else it pages through every product and filters them itself)."""
    products = frames["products"]
    want = sorted(products.loc[products["stars"] >= 4, "id"].astype(str))
    mark = server.recorder.mark()
    if reader == "gdal-3.6-cli":
        got = ids(ogr2ogr_features(server, "products", tmp_path, "-where", "stars >= 4"))
    else:
        got = sorted(pyogrio_read(server, "products", where="stars >= 4")["ids"])
    assert got == want and 0 < len(want) < len(products)
    requests = server.recorder.since(mark, "/collections/products/items")
    sent = filters_sent(requests)
    assert sent, [q for _, q, _ in requests]
    assert all(re.fullmatch(r"\(?stars >= 4\)?", f) and lang for f, lang in sent), sent
    assert all(status == 200 for _, q, status in requests if "filter" in q)
    # Served filtered: the pages asked for hold the matches, not the whole collection.
    assert max(int(q.get("offset", ["0"])[0]) for _, q, _ in requests if "filter" in q) \
        < len(want)


def test_ogrinfo_where_counts_as_the_data_does(server, frames):
    out = run([gdal_tool("ogrinfo"), "-ro", "-so", f"OAPIF:{server.url}/ogc", "products",
               "-where", "stars >= 4"]).stdout
    products = frames["products"]
    assert re.search(r"Feature Count: (\d+)", out).group(1) == str(int((products["stars"] >= 4)
                                                                       .sum()))


def test_spat_goes_to_the_server_as_a_bbox(server, frames, tmp_path):
    box = (106.6, 20.7, 106.8, 20.9)
    products = frames["products"]
    xs, ys = products.geometry.x, products.geometry.y
    inside = (xs >= box[0]) & (xs <= box[2]) & (ys >= box[1]) & (ys <= box[3])
    want = sorted(products.loc[inside, "id"].astype(str))
    mark = server.recorder.mark()
    got = ids(ogr2ogr_features(server, "products", tmp_path, "-spat", *map(str, box)))
    assert got == want and 0 < len(want) < len(products)
    sent = [q["bbox"][0] for _, q, _ in server.recorder.since(mark, "/items") if "bbox" in q]
    assert sent and all(list(map(float, b.split(","))) == list(box) for b in sent), sent


def utm(frame):
    to = Transformer.from_crs("EPSG:4326", UTM48N, always_xy=True)
    return dict(zip(frame["id"].astype(str), zip(*to.transform(frame.geometry.x.tolist(),
                                                                frame.geometry.y.tolist()))))


def test_ogr2ogr_reprojects_to_utm_as_pyproj_does(server, frames, tmp_path):
    want = utm(frames["products"])
    features = ogr2ogr_features(server, "products", tmp_path, "-t_srs", UTM48N)
    assert len(features) == len(want)
    for f in features:
        x, y = f["geometry"]["coordinates"][:2]
        wx, wy = want[str(f["properties"]["id"])]
        # The API gives 6 decimals of a degree: about 0.1 m.
        assert math.hypot(x - wx, y - wy) < 0.5, f["properties"]["id"]


def test_current_gdal_reads_in_the_servers_crs(server, frames):
    """The OAPIF driver's CRS open option asks the server for UTM 48N (`crs=`): the points come
    back projected as pyproj projects them, and GDAL labels the layer with that CRS."""
    want = utm(frames["products"])
    mark = server.recorder.mark()
    read = pyogrio_read(server, "products", CRS=UTM48N)
    sent = {q["crs"][0] for _, q, _ in server.recorder.since(mark, "/items") if "crs" in q}
    assert sent == {CRS_URI}
    assert "32648" in read["crs"]
    assert sorted(read["ids"]) == sorted(want)
    for fid, x, y in zip(read["ids"], read["x"], read["y"]):
        assert math.hypot(x - want[fid][0], y - want[fid][1]) < 0.5, fid


def test_gdal_reads_every_layer_twice_in_pages_of_hundreds(server, frames):
    """Reading the four layers twice takes a handful of requests, not one per 10 features."""
    mark = server.recorder.mark()
    for name in NAMES:
        assert len(pyogrio_read(server, name, rounds=2)["ids"]) == len(frames[name])
    requests = server.recorder.since(mark)
    items = [q for path, q, _ in requests if path.endswith("/items")]
    assert all(status == 200 for _, _, status in requests)
    assert max(int(q.get("limit", ["10"])[0]) for q in items) >= 100
    # Per read of a layer: the schema sample and one page (every layer is under 1000).
    assert len(items) <= 3 * 2 * len(NAMES), len(items)
    print(f"\nrequests to read the four layers twice: {len(requests)} "
          f"({len(items)} of them for items)")


# -- every download, opened by Debian's GDAL ----------------------------------------------------

def ogr_types(kind: str, fmt: str, list_field: bool) -> set[str]:
    """What `ogrinfo` may say of a schema type in a format (lists are JSON lists in GeoJSON
    only: a string list, or JSON text when some are empty; KML has no date type; FlatGeobuf's
    only one is a date-time)."""
    if list_field and fmt == "geojson":
        return {"StringList", "String(JSON)"}
    if kind == "date":
        return {{"kml": "String", "fgb": "DateTime"}.get(fmt, "Date")}
    return {{"Int32": "Integer", "float64": "Real"}.get(kind, "String")}


LIST_FIELDS = {"links", "former_units"}


def ogrinfo_download(client, name: str, fmt: str, tmp_path) -> subprocess.CompletedProcess:
    """`ogrinfo -so -al` of the download saved as NAME.FMT (the CSV with its .csvt beside it,
    the zipped shapefile read in its zip)."""
    path = tmp_path / f"{name}.{fmt}"
    r = client.get(f"/export/{name}.{fmt}")
    assert r.status_code == 200, r.data[:200]
    path.write_bytes(r.data)
    if fmt == "csv":        # the CSV's types, saved beside it under the same name
        (tmp_path / f"{name}.csvt").write_bytes(client.get(f"/export/{name}.csvt").data)
    source = f"/vsizip/{path}" if fmt == "shp.zip" else str(path)
    return run([gdal_tool("ogrinfo"), "-ro", "-so", "-al", source])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_ogrinfo_opens_every_download_with_its_layer_name_and_types(client, frames, name, fmt,
                                                                     tmp_path):
    done = ogrinfo_download(client, name, fmt, tmp_path)
    assert not re.search(r"(?im)^error", done.stderr), done.stderr
    out = done.stdout
    assert re.search(r"(?m)^Layer name: (\S+)$", out).group(1) == name
    assert re.search(r"(?m)^Feature Count: (\d+)$", out).group(1) == str(len(frames[name]))
    # KML's own fields come first (its placemark `Name`, `description`): ours follow.
    got = {k.lower(): v for k, v in re.findall(r"(?m)^(\w+): (\w+(?:\(\w+\))?) \(", out)}
    for field, kind in column_types(name).items():
        key = SHAPEFILE_NAMES.get(field, field) if fmt == "shp.zip" else field
        assert got.get(key.lower()) in ogr_types(kind, fmt, field in LIST_FIELDS), \
            (field, got.get(key.lower()))


@pytest.mark.parametrize("name", NAMES)
def test_geopackages_open_without_a_warning_in_older_gdal(client, name, tmp_path):
    """GDAL before 3.8 warns that a GeoPackage 1.4 "may only be partially supported": the
    downloads must be a version it knows."""
    done = ogrinfo_download(client, name, "gpkg", tmp_path)
    assert not re.search(r"(?im)^(warning|error)", done.stderr), done.stderr


# -- OWSLib -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def owslib_api(server):
    from owslib.ogcapi.features import Features

    return Features(server.url + "/ogc", timeout=30)


def test_owslib_queryables_name_the_collections_fields(owslib_api, app):
    with app.app_context():
        colls = state().collections
    for name in NAMES:
        doc = owslib_api.collection_queryables(name)
        props = doc["properties"]
        assert doc["type"] == "object"
        assert {"stars", "certified_year"} <= set(props) if name == "products" else True
        assert set(props) <= set(colls[name].fields) | {"geometry", "id"}, name
    products = owslib_api.collection_queryables("products")["properties"]
    assert products["stars"]["type"] == "integer"
    assert products["certified_date"].get("format") == "date"


@pytest.mark.parametrize("lang, expression", [
    ("cql2-text", "stars >= 4 AND certified_year >= 2020"),
    ("cql2-json", json.dumps({"op": "and", "args": [
        {"op": ">=", "args": [{"property": "stars"}, 4]},
        {"op": ">=", "args": [{"property": "certified_year"}, 2020]}]})),
])
def test_owslib_filters_with_cql2(owslib_api, frames, lang, expression):
    products = frames["products"]
    year = products["certified_year"]
    match = products[(products["stars"] >= 4) & year.notna() & (year >= 2020)]
    page = owslib_api.collection_items("products", limit=1000,
                                       **{"filter": expression, "filter-lang": lang})
    assert page["numberMatched"] == len(match) > 0
    assert sorted(f["id"] for f in page["features"]) == sorted(match["id"].astype(str))


def test_owslib_reads_in_another_crs(owslib_api, frames):
    want = utm(frames["products"])
    page = owslib_api.collection_items("products", limit=1000, crs=CRS_URI)
    assert len(page["features"]) == len(want)
    for f in page["features"]:
        x, y = f["geometry"]["coordinates"][:2]
        assert math.hypot(x - want[f["id"]][0], y - want[f["id"]][1]) < 0.5, f["id"]


# -- the README's conformance table ------------------------------------------------------------

def test_readme_conformance_table_says_what_the_api_declares(client):
    """The README's "this app" column is exactly /ogc/conformance, class by class."""
    bases = {"Part 1": "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/",
             "Part 2": "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/",
             "Part 3": "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/",
             "CQL2": "http://www.opengis.net/spec/cql2/1.0/conf/"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"(?m)^\| (Part [123]|CQL2) \| `([\w-]+)` \| (yes|no) \| (?:yes|no) \|$",
                      readme)
    declared = set(client.get("/ogc/conformance?f=json").get_json()["conformsTo"])
    assert len(rows) >= 20
    assert {bases[part] + name for part, name, ours in rows if ours == "yes"} == declared


# -- the API definition, fuzzed -----------------------------------------------------------------

def test_every_operation_holds_under_fuzzing(server):
    """Schemathesis over every operation the definition lists (queryables included): no 5xx,
    every status and body as the definition says; a few examples each, both valid and
    invalid input (tests/test_ogc.py goes deeper on the Part 1 operations)."""
    schema = schemathesis.openapi.from_url(f"{server.url}/ogc/api")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert any(op.path.endswith("/queryables") for op in operations)
    for operation in operations:
        for mode in GenerationMode:
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=8, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case):
                case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                               response_schema_conformance])

            check()

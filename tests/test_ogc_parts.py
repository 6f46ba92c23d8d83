"""OGC API - Features Part 1 (datetime, 6-number bbox, limit, offset), Part 2 (crs, bbox-crs,
Content-Crs) and Part 3 (queryables, CQL2 filter, sortby, properties) through the test
client, on the real data."""
import json
from urllib.parse import quote

import jsonschema
import pytest
import shapely
from pyproj import Transformer

from geo import ogc
from web.state import state

ITEMS = "/ogc/collections/{}/items"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def get_json(client, url, status=200):
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.data[:400])
    return r.get_json(force=True)


def ids(client, collection, query):
    doc = get_json(client, f"{ITEMS.format(collection)}?limit=10000&{query}")
    assert doc["numberReturned"] == doc["numberMatched"]
    return [f["id"] for f in doc["features"]]


def error(client, url, parameter) -> str:
    err = get_json(client, url, 400)
    assert err["parameter"] == parameter and err["code"] == "InvalidParameterValue", err
    return err["description"]


@pytest.fixture(scope="module")
def products(app):
    with app.app_context():
        return state().collections["products"].frame


def q(text: str) -> str:
    return quote(text, safe="")


# -- Part 1: datetime ---------------------------------------------------------------------

def certified_ids(products, test) -> list[str]:
    """Products whose certification (date, else year) passes `test(first_day, last_day)`."""
    out = []
    for row in products.itertuples():
        d = row.certified_date if isinstance(row.certified_date, str) else None
        y = row.certified_year if row.certified_year == row.certified_year else None
        if d:
            first = last = d
        elif y is not None:
            first, last = f"{int(y)}-01-01", f"{int(y)}-12-31"
        else:
            continue
        if test(first, last):
            out.append(row.id)
    return out


def test_datetime_interval_with_open_ends_matches_the_certification(client, products):
    since = certified_ids(products, lambda first, last: last >= "2023-01-01")
    until = certified_ids(products, lambda first, last: first <= "2022-12-31")
    assert since and until
    assert sorted(ids(client, "products", "datetime=2023-01-01/..")) == sorted(since)
    assert sorted(ids(client, "products", "datetime=2023-01-01/")) == sorted(since)
    assert sorted(ids(client, "products", "datetime=../2022-12-31")) == sorted(until)
    closed = certified_ids(products, lambda f, l: f <= "2022-12-31" and l >= "2022-01-01")
    assert sorted(ids(client, "products", "datetime=2022-01-01/2022-12-31")) == sorted(closed)


def test_datetime_instant_is_a_day_in_vietnam_time(client, products):
    day = products["certified_date"].dropna().iloc[0]
    same_day = certified_ids(products, lambda first, last: first <= day <= last)
    assert sorted(ids(client, "products", f"datetime={day}")) == sorted(same_day)
    # Midnight in Hải Phòng is 17:00 UTC the day before; a second earlier is the day before.
    y, m, d = day.split("-")
    import datetime as dt
    before = (dt.date(int(y), int(m), int(d)) - dt.timedelta(days=1)).isoformat()
    assert sorted(ids(client, "products", f"datetime={before}T17:00:00Z")) == sorted(same_day)
    assert day not in {f for f in ids(client, "products", f"datetime={before}T16:59:59Z")
                       if products.set_index("id").loc[f, "certified_date"] == day}


def test_datetime_far_dates_are_clamped_not_errors(client, products):
    dated = certified_ids(products, lambda first, last: True)
    assert sorted(ids(client, "products", "datetime=0001-01-01/9999-12-31")) == sorted(dated)
    assert ids(client, "products", "datetime=9999-12-31T23:59:59Z/..") == []


def test_datetime_is_accepted_and_ignored_without_a_temporal_property(client):
    everything = ids(client, "districts", "")
    assert ids(client, "districts", "datetime=2020-01-01/..") == everything
    error(client, ITEMS.format("districts") + "?datetime=yesterday", "datetime")


@pytest.mark.parametrize("value", ["2024", "2024-13-01", "2024-02-30", "a/b/c", "..",
                                   "2024-05-02/2024-05-01", "2024-05-01T25:00:00Z"])
def test_malformed_datetime_is_400_naming_it(client, value):
    error(client, ITEMS.format("products") + f"?datetime={q(value)}", "datetime")


def test_temporal_extent_and_property_are_advertised(client):
    coll = get_json(client, "/ogc/collections/products")
    start, end = coll["extent"]["temporal"]["interval"][0]
    assert start < end and start.endswith("Z")
    assert "temporal" not in get_json(client, "/ogc/collections/districts")["extent"]
    props = get_json(client, "/ogc/collections/products/queryables")["properties"]
    assert props["certified_date"]["x-ogc-role"] == "primary-instant"


# -- Part 1: bbox, limit, offset ------------------------------------------------------------

def test_bbox_with_six_numbers_ignores_heights(client):
    four = ids(client, "products", "bbox=106.6,20.7,106.8,20.9")
    assert four
    assert ids(client, "products", "bbox=106.6,20.7,-100,106.8,20.9,9000") == four
    assert "minz" in error(client, ITEMS.format("products") + "?bbox=106.6,20.7,5,106.8,20.9,1",
                           "bbox")
    error(client, ITEMS.format("products") + "?bbox=1,2,3,4,5", "bbox")
    download = json.loads(client.get("/export/products.geojson?"
                                     "bbox=106.6,20.7,0,106.8,20.9,0").data)
    assert [f["id"] for f in download["features"]] == four


def test_limit_default_and_maximum_are_advertised_and_applied(client):
    api = get_json(client, "/ogc/api")
    limit = api["components"]["parameters"]["limit"]["schema"]
    assert limit["maximum"] == ogc.MAX_LIMIT == 10000 and limit["default"] == 10
    assert get_json(client, ITEMS.format("products"))["numberReturned"] == 10
    doc = get_json(client, ITEMS.format("products") + "?limit=20000")
    assert doc["numberReturned"] == doc["numberMatched"] > 10


@pytest.mark.parametrize("value, says", [("-1", "must not be negative"),
                                         ("abc", "not a whole number"),
                                         ("1.5", "not a whole number")])
def test_offset_errors_say_what_is_wrong(client, value, says):
    assert says in error(client, ITEMS.format("products") + f"?offset={value}", "offset")


# -- Part 2: crs, bbox-crs, Content-Crs ---------------------------------------------------

def first_point(client, query=""):
    r = client.get(ITEMS.format("products") + f"?limit=1&sortby=id&{query}")
    assert r.status_code == 200, r.data[:300]
    feat = r.get_json(force=True)["features"][0]
    return feat["id"], feat["geometry"]["coordinates"], r.headers.get("Content-Crs")


@pytest.mark.parametrize("code", [4326, 3857, 32648, 3405, 9210])
def test_crs_transforms_points_as_pyproj_does_in_the_crs_axis_order(client, code):
    fid, (lon, lat), header = first_point(client)
    assert header == f"<{CRS84}>"
    fid2, xy, header = first_point(client, f"crs={q(EPSG + str(code))}")
    assert fid2 == fid and header == f"<{EPSG}{code}>"
    # Without always_xy pyproj answers in the CRS's own axis order: lat, lon for EPSG:4326.
    expected = Transformer.from_crs("OGC:CRS84", f"EPSG:{code}").transform(lon, lat)
    assert xy == pytest.approx(list(expected), abs=1e-3)
    if code == 4326:
        assert xy == pytest.approx([lat, lon])


def test_local_vn2000_zone_is_the_region_files_central_meridian(app, client):
    with app.app_context():
        lon0 = state().dataset.region.vn2000_lon0
    assert lon0 == 105.75      # Hải Phòng: 105°45' (VN-2000 / TM-3 105-45 is EPSG:9210)
    coll = get_json(client, "/ogc/collections/products")
    assert coll["storageCrs"] == CRS84
    assert coll["crs"][0] == CRS84 and f"{EPSG}9210" in coll["crs"]
    assert {f"{EPSG}{c}" for c in (4326, 3857, 32648, 3405)} <= set(coll["crs"])


def test_one_feature_in_another_crs_has_content_crs(client):
    fid, (lon, lat), _ = first_point(client)
    r = client.get(f"/ogc/collections/products/items/{fid}?crs={q(EPSG + '4326')}")
    assert r.status_code == 200 and r.headers["Content-Crs"] == f"<{EPSG}4326>"
    assert r.get_json(force=True)["geometry"]["coordinates"] == pytest.approx([lat, lon])
    error(client, f"/ogc/collections/products/items/{fid}?crs=EPSG:4326", "crs")


def test_bbox_crs_in_lat_lon_and_in_metres_selects_the_same_features(client):
    lonlat = ids(client, "products", "bbox=106.6,20.7,106.8,20.9")
    latlon = ids(client, "products", f"bbox=20.7,106.6,20.9,106.8&bbox-crs={q(EPSG + '4326')}")
    assert latlon == lonlat and lonlat
    t = Transformer.from_crs("OGC:CRS84", "EPSG:32648", always_xy=True)
    x0, y0, x1, y1 = t.transform_bounds(106.65, 20.75, 106.75, 20.85)
    inner = ids(client, "products", "bbox=106.65,20.75,106.75,20.85")
    metres = ids(client, "products", f"bbox={x0},{y0},{x1},{y1}&bbox-crs={q(EPSG + '32648')}")
    assert set(inner) <= set(metres) <= set(lonlat)


@pytest.mark.parametrize("query, parameter", [
    ("crs=EPSG:4326", "crs"),
    (f"crs={q(EPSG + '2154')}", "crs"),
    (f"bbox-crs={q(EPSG + '4326')}", "bbox-crs"),
    (f"bbox=1,2,3,4&bbox-crs={q('http://example.com/crs')}", "bbox-crs"),
    (f"filter-crs={q(EPSG + '4326')}", "filter-crs"),
])
def test_unsupported_crs_is_400_naming_the_parameter(client, query, parameter):
    error(client, ITEMS.format("products") + f"?{query}", parameter)


# -- Part 3: queryables ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["products", "destinations", "districts", "communes"])
def test_queryables_are_a_valid_json_schema_from_the_one_schema(app, client, name):
    r = client.get(f"/ogc/collections/{name}/queryables")
    assert r.status_code == 200 and r.mimetype == "application/schema+json"
    doc = r.get_json(force=True)
    jsonschema.Draft202012Validator.check_schema(doc)
    assert doc["$id"].endswith(f"/ogc/collections/{name}/queryables")
    assert doc["type"] == "object"
    with app.app_context():
        c = state().collections[name]
    assert set(doc["properties"]) == {"geometry", *c.fields}
    assert doc["properties"]["geometry"]["x-ogc-role"] == "primary-geometry"
    assert doc["properties"]["geometry"]["format"].startswith("geometry-")
    assert doc["properties"][c.id_field]["x-ogc-role"] == "id"
    # Each feature's properties validate against the queryables (geometry aside).
    feats = get_json(client, f"{ITEMS.format(name)}?limit=50")["features"]
    props_schema = {**doc, "properties": {k: v for k, v in doc["properties"].items()
                                          if k != "geometry"}}
    for feat in feats:
        jsonschema.validate(feat["properties"], props_schema,
                            cls=jsonschema.Draft202012Validator)


def test_collection_links_to_its_queryables(client):
    coll = get_json(client, "/ogc/collections/products")
    rel = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
    hrefs = [link["href"] for link in coll["links"] if link["rel"] == rel]
    assert hrefs and "/ogc/collections/products/queryables" in hrefs[0]
    html = client.get("/ogc/collections/products/queryables?f=html")
    assert html.status_code == 200 and b"certified_date" in html.data
    assert get_json(client, "/ogc/collections/rivers/queryables", 404)["code"] == "NotFound"


# -- Part 3: CQL2 filter ------------------------------------------------------------------

def expect(products, mask) -> list[str]:
    return list(products[mask]["id"])


CASES = [
    ("stars >= 4", {"op": ">=", "args": [{"property": "stars"}, 4]},
     lambda p: p["stars"] >= 4),
    ("stars <> 3", {"op": "<>", "args": [{"property": "stars"}, 3]},
     lambda p: p["stars"] != 3),
    ("category = 'food'", {"op": "=", "args": [{"property": "category"}, "food"]},
     lambda p: p["category"] == "food"),
    ("name LIKE 'Bánh%'", {"op": "like", "args": [{"property": "name"}, "Bánh%"]},
     lambda p: p["name"].str.startswith("Bánh")),
    ("stars IN (4, 5)", {"op": "in", "args": [{"property": "stars"}, [4, 5]]},
     lambda p: p["stars"].isin([4, 5])),
    ("certified_year BETWEEN 2021 AND 2022",
     {"op": "between", "args": [{"property": "certified_year"}, 2021, 2022]},
     lambda p: p["certified_year"].between(2021, 2022)),
    ("producer IS NULL", {"op": "isNull", "args": [{"property": "producer"}]},
     lambda p: p["producer"].isna()),
    ("stars = 5 AND category = 'food'",
     {"op": "and", "args": [{"op": "=", "args": [{"property": "stars"}, 5]},
                            {"op": "=", "args": [{"property": "category"}, "food"]}]},
     lambda p: (p["stars"] == 5) & (p["category"] == "food")),
    ("stars = 5 OR category = 'food'",
     {"op": "or", "args": [{"op": "=", "args": [{"property": "stars"}, 5]},
                           {"op": "=", "args": [{"property": "category"}, "food"]}]},
     lambda p: (p["stars"] == 5) | (p["category"] == "food")),
    ("NOT (stars = 3)", {"op": "not", "args": [{"op": "=", "args": [{"property": "stars"}, 3]}]},
     lambda p: p["stars"] != 3),
    ("certified_date >= DATE('2024-01-01')",
     {"op": ">=", "args": [{"property": "certified_date"}, {"date": "2024-01-01"}]},
     lambda p: p["certified_date"].fillna("") >= "2024-01-01"),
]


@pytest.mark.parametrize("text, as_json, want", CASES, ids=[c[0] for c in CASES])
def test_each_cql2_operator_in_text_and_json(client, products, text, as_json, want):
    expected = sorted(expect(products, want(products)))
    assert expected and len(expected) < len(products)     # the case selects something
    assert sorted(ids(client, "products", f"filter={q(text)}")) == expected
    assert sorted(ids(client, "products", f"filter={q(json.dumps(as_json))}"
                                          "&filter-lang=cql2-json")) == expected


@pytest.mark.parametrize("negated, inner", [
    ("producer NOT LIKE 'C%'", "producer LIKE 'C%'"),
    ("producer NOT IN ('Hợp tác xã')", "producer IN ('Hợp tác xã')"),
    ("certified_year NOT BETWEEN 2000 AND 2100", "certified_year BETWEEN 2000 AND 2100"),
])
def test_not_leaves_a_null_value_unknown_as_sql_does(client, products, negated, inner):
    """A product without a producer (or year) matches neither the test nor its negation."""
    with_value = set(products.loc[products[inner.split()[0]].notna(), "id"])
    assert with_value != set(products["id"])        # the data has null values to get right
    plain, not_op = set(ids(client, "products", f"filter={q(negated)}")), \
        set(ids(client, "products", f"filter={q(f'NOT ({inner})')}"))
    assert plain == not_op
    assert not_op | set(ids(client, "products", f"filter={q(inner)}")) <= with_value


@pytest.mark.parametrize("pattern, text, hit", [
    ("B_nh%", "Bánh đậu xanh", True), ("%xanh", "Bánh đậu xanh", True),
    ("%đậu%", "Bánh đậu xanh", True), ("%đậu", "Bánh đậu xanh", False),
    ("a%%b%c", "aXbYc", True), ("a%b%c", "acb", False), ("%ab%ab%", "xabab", True),
    ("%ab%ab%", "xab", False), ("100\\%", "100%", True), ("100\\%", "1000", False),
    ("_", "", False), ("%", "", True),
    # A text that fails after many %s: one regular expression would backtrack for hours.
    ("% % % % % % % % % % % % % % % % % % % % % % % %~", "a " * 200, False),
])
def test_like_patterns(pattern, text, hit):
    from geo.cql2 import _like

    assert _like(pattern, False)(text) is hit
    assert _like(pattern.upper(), True)(text.lower()) is hit


def test_s_intersects_with_wkt_and_geojson_and_filter_crs(client, products):
    box = shapely.box(106.6, 20.7, 106.8, 20.9)
    expected = sorted(expect(products, products.geometry.intersects(box)))
    assert expected
    wkt = f"S_INTERSECTS(geometry, {box.wkt})"
    assert sorted(ids(client, "products", f"filter={q(wkt)}")) == expected
    geojson = {"op": "s_intersects", "args": [{"property": "geometry"},
                                              json.loads(shapely.to_geojson(box))]}
    assert sorted(ids(client, "products", f"filter={q(json.dumps(geojson))}"
                                          "&filter-lang=cql2-json")) == expected
    latlon = shapely.box(20.7, 106.6, 20.9, 106.8)          # EPSG:4326 is lat, lon
    query = f"filter={q(f'S_INTERSECTS(geometry, {latlon.wkt})')}&filter-crs={q(EPSG + '4326')}"
    assert sorted(ids(client, "products", query)) == expected
    # One product's own point, given in UTM 48N metres, finds it.
    row = products.iloc[0]
    x, y = Transformer.from_crs("OGC:CRS84", "EPSG:32648", always_xy=True).transform(
        row.geometry.x, row.geometry.y)
    near = shapely.Point(x, y).buffer(1).wkt
    query = f"filter={q(f'S_INTERSECTS(geometry, {near})')}&filter-crs={q(EPSG + '32648')}"
    assert row["id"] in ids(client, "products", query)


@pytest.mark.parametrize("text, says", [
    ("colour = 'red'", "unknown property 'colour'; queryables: id, name"),
    ("stars >= ", "cannot parse"),
    ("stars = 'four'", "'stars' is compared with a number"),
    ("name LIKE 5", "LIKE"),
    ("S_CROSSES(geometry, POINT(106.7 20.8))", "S_INTERSECTS"),
    ("S_INTERSECTS(geometry, POINT(1e400 20))", "finite"),
    ("links = 'x'", "list"),
])
def test_bad_filters_are_400_with_the_reason(client, text, says):
    assert says in error(client, ITEMS.format("products") + f"?filter={q(text)}", "filter")


def test_bad_cql2_json_and_languages_are_400(client):
    error(client, ITEMS.format("products") + "?filter=%7B&filter-lang=cql2-json", "filter")
    error(client, ITEMS.format("products") + f"?filter={q('[1]')}&filter-lang=cql2-json",
          "filter")
    error(client, ITEMS.format("products") + "?filter=stars=4&filter-lang=ecql", "filter-lang")
    error(client, ITEMS.format("products") + "?filter-lang=cql2-text", "filter-lang")
    long = "stars = 4" + " OR stars = 4" * 400
    assert "longer than" in error(client, ITEMS.format("products") + f"?filter={q(long)}",
                                  "filter")


def test_filter_works_on_every_collection(client):
    assert ids(client, "districts", f"filter={q('products_5_stars >= 1')}")
    assert ids(client, "communes", f"filter={q('area_km2 > 50')}")
    assert ids(client, "destinations", f"filter={q('description_en IS NOT NULL')}")


def test_filter_combines_with_the_other_filters_and_pages(client, products):
    expected = sorted(expect(products, (products["stars"] >= 4)
                             & (products["category"] == "food")))
    got = ids(client, "products", f"filter={q('stars >= 4')}&category=food")
    assert sorted(got) == expected
    page = get_json(client, ITEMS.format("products") + f"?filter={q('stars >= 4')}&limit=5")
    nxt = next(link["href"] for link in page["links"] if link["rel"] == "next")
    assert "filter=stars" in nxt


# -- sortby, properties --------------------------------------------------------------------

def test_sortby_orders_by_several_keys(client, products):
    feats = get_json(client, ITEMS.format("products") + "?limit=10000&sortby=-stars,%2Bname"
                     )["features"]
    keys = [(-f["properties"]["stars"], f["properties"]["name"]) for f in feats]
    assert keys == sorted(keys) and len(keys) == len(products)
    feats = get_json(client, ITEMS.format("products") + "?limit=10000&sortby=name")["features"]
    names = [f["properties"]["name"] for f in feats]
    assert names == sorted(names)
    assert "cannot sort by 'colour'" in error(client, ITEMS.format("products") + "?sortby=colour",
                                              "sortby")


def test_properties_limits_what_each_feature_carries(client):
    doc = get_json(client, ITEMS.format("products") + "?limit=3&properties=stars,name")
    for f in doc["features"]:
        assert list(f["properties"]) == ["name", "stars"] and f["id"] and f["geometry"]
    assert "unknown property 'colour'" in error(
        client, ITEMS.format("products") + "?properties=name,colour", "properties")
    html = client.get(ITEMS.format("products") + "?limit=3&properties=stars&f=html")
    assert html.status_code == 200 and b"<th>stars</th>" in html.data
    assert b"<th>producer</th>" not in html.data


# -- conformance and the API definition -------------------------------------------------------

def test_conformance_lists_exactly_what_is_implemented(client):
    got = set(get_json(client, "/ogc/conformance")["conformsTo"])
    f1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
    f3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
    cql = "http://www.opengis.net/spec/cql2/1.0/conf/"
    assert got == {
        f1 + "core", f1 + "oas30", f1 + "html", f1 + "geojson",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
        f3 + "queryables", f3 + "filter", f3 + "features-filter",
        cql + "cql2-text", cql + "cql2-json", cql + "basic-cql2",
        cql + "advanced-comparison-operators", cql + "basic-spatial-functions",
        cql + "basic-spatial-functions-plus"}


def test_api_definition_lists_the_new_parameters_and_queryables(client):
    api = get_json(client, "/ogc/api")
    params = api["components"]["parameters"]
    for name in ("datetime", "crs", "bbox-crs", "filter", "filter-lang", "filter-crs"):
        assert params[name]["name"] == name
    assert f"{EPSG}9210" in params["crs"]["schema"]["enum"]
    items = api["paths"]["/collections/products/items"]["get"]["parameters"]
    refs = {p["$ref"].rsplit("/", 1)[1] for p in items}
    assert {"datetime", "crs", "bbox-crs", "filter", "filter-lang", "filter-crs",
            "sortby_products", "properties_products"} <= refs
    assert "/collections/products/queryables" in api["paths"]


# -- the downloads take the same filter ----------------------------------------------------

@pytest.mark.parametrize("text", ["stars >= 4", "name LIKE '%mắm%' OR stars = 5"])
def test_downloads_take_the_same_filter(client, text):
    api = ids(client, "products", f"filter={q(text)}")
    r = client.get(f"/export/products.geojson?filter={q(text)}")
    assert r.status_code == 200
    assert [f["id"] for f in json.loads(r.data)["features"]] == api and api
    assert 'filtered.' in r.headers["Content-Disposition"]
    csv = client.get(f"/export/products.csv?filter={q(text)}").data.decode("utf-8-sig")
    assert len(csv.strip().splitlines()) == len(api) + 1
    err = get_json(client, f"/export/products.geojson?filter={q('colour = 1')}", 400)
    assert err["parameter"] == "filter" and "colour" in err["description"]


def test_gdal_style_cql_text_is_read_as_cql2_text(client, products):
    """GDAL's OAPIF driver sends `-where` as `filter-lang=cql-text` (the drafts' name), with
    parenthesised terms and dates written '2024-01-01T'."""
    api = get_json(client, "/ogc/api")
    assert "cql-text" in api["components"]["parameters"]["filter-lang"]["schema"]["enum"]
    text = "(stars >= 4) AND (certified_date >= '2024-01-01T')"
    expected = sorted(expect(products, (products["stars"] >= 4)
                             & (products["certified_date"].fillna("") >= "2024-01-01")))
    assert expected
    assert sorted(ids(client, "products", f"filter={q(text)}&filter-lang=cql-text")) == expected


def test_s_intersects_with_a_bbox_literal(client, products):
    box = shapely.box(106.6, 20.7, 106.8, 20.9)
    expected = sorted(expect(products, products.geometry.intersects(box)))
    text = "S_INTERSECTS(geometry, BBOX(106.6, 20.7, 106.8, 20.9))"
    assert sorted(ids(client, "products", f"filter={q(text)}")) == expected
    as_json = {"op": "s_intersects", "args": [{"property": "geometry"},
                                              {"bbox": [106.6, 20.7, 106.8, 20.9]}]}
    assert sorted(ids(client, "products", f"filter={q(json.dumps(as_json))}"
                                          "&filter-lang=cql2-json")) == expected


def test_content_crs_survives_the_repeat_answer(client):
    url = ITEMS.format("products") + f"?limit=2&crs={q(EPSG + '3857')}"
    first, second = client.get(url), client.get(url)
    assert first.data == second.data
    assert first.headers["Content-Crs"] == second.headers["Content-Crs"] == f"<{EPSG}3857>"


def test_the_plain_list_of_results_takes_the_filter(client, products):
    """/list, the map's results as plain HTML, reads the same shared filter."""
    r = client.get(f"/list?filter={q('stars = 5')}&lang=en")
    assert r.status_code == 200
    page = r.data.decode()
    five = products[products["stars"] == 5]["name"]
    three = products[products["stars"] == 3]["name"]
    assert five.size and all(name in page for name in five)
    assert not any(name in page for name in three if not any(name in f for f in five))
    bad = client.get(f"/list?filter={q('colour = 1')}&lang=en")
    assert bad.status_code == 400 and "colour" in bad.data.decode()

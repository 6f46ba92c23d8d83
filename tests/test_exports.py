"""Downloads, read back by GDAL (through pyogrio/geopandas) as a GIS client would."""
import csv
import gzip
import io
import json

import geopandas as gpd

import pytest

FORMATS = ("geojson", "csv", "kml", "gpkg", "fgb")
COLLECTIONS = ("products", "destinations", "districts", "communes")


def read_back(data: bytes, fmt: str, tmp_path) -> gpd.GeoDataFrame:
    path = tmp_path / f"download.{fmt}"
    path.write_bytes(data)
    if fmt == "csv":
        return gpd.read_file(path, engine="pyogrio", encoding="utf-8-sig")
    return gpd.read_file(path, engine="pyogrio")


def column(frame, name):
    """GDAL's KML readers differ in the case of name/description."""
    return frame[next(c for c in frame.columns if c.lower() == name)]


def ids_of(frame, id_field):
    return sorted(frame[id_field].astype(str))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", COLLECTIONS)
def test_every_collection_in_every_format_reads_back_whole(client, app, name, fmt, tmp_path):
    col = app.extensions["ocop"].collections[name]
    r = client.get(f"/export/{name}.{fmt}")
    assert r.status_code == 200
    assert f'filename="hai-phong-{name}.{fmt}"' in r.headers["Content-Disposition"]   # region id
    back = read_back(r.data, fmt, tmp_path)
    assert len(back) == len(col.frame)
    if fmt == "kml":
        assert sorted(column(back, "name")) == sorted(col.frame["name"])
        assert column(back, "description").str.contains("<table>").all()
    elif fmt != "csv":
        assert ids_of(back, col.id_field) == ids_of(col.frame, col.id_field)
        assert sorted(back["name"]) == sorted(col.frame["name"])  # diacritics intact


def test_geojson_is_rfc7946(client):
    r = client.get("/export/districts.geojson")
    assert r.mimetype == "application/geo+json"
    doc = json.loads(r.data)
    assert "crs" not in doc and len(doc["features"]) == 27   # both provinces' former districts
    from shapely.geometry import shape
    import shapely
    for f in doc["features"]:
        g = shape(f["geometry"])
        assert g.is_valid and shapely.orient_polygons(g).equals_exact(g, 0)
        coords = json.dumps(f["geometry"]["coordinates"])
        assert all(len(c.split(".")[1]) <= 5 for c in coords.replace("[", "").replace("]", "").split(",") if "." in c)


def test_csv_opens_in_excel_with_diacritics_and_lon_lat(client, app):
    r = client.get("/export/products.csv")
    assert r.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel then reads UTF-8
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    st = app.extensions["ocop"]
    assert len(rows) == len(st.products)
    row = next(x for x in rows if x["id"] == st.products.index[0])
    p = st.products.iloc[0]
    assert row["name"] == p["name"]
    assert abs(float(row["lon"]) - p.geometry.x) < 1e-5 and abs(float(row["lat"]) - p.geometry.y) < 1e-5
    wkt = list(csv.DictReader(io.StringIO(client.get("/export/districts.csv").data.decode("utf-8-sig"))))
    assert wkt[0]["wkt"].startswith(("POLYGON", "MULTIPOLYGON"))


@pytest.mark.parametrize("query,collection,expect", [
    ("nuoc mam", "products", "Nước mắm"),
    ("NƯỚC MẮM", "products", "Nước mắm"),
    ("mat ong", "products", "Mật ong"),
    ("do son", "districts", "Đồ Sơn"),
    ("do son", "destinations", "Đồ Sơn"),
    ("cat hai", "communes", "Cát Hải"),
])
def test_text_filter_is_accent_and_d_insensitive(client, query, collection, expect):
    doc = json.loads(client.get(f"/export/{collection}.geojson", query_string={"q": query}).data)
    names = [f["properties"]["name"] for f in doc["features"]]
    assert names and all(expect.lower() in (n + " " + json.dumps(f["properties"], ensure_ascii=False)).lower()
                         for n, f in zip(names, doc["features"]))
    assert any(expect in n for n in names) or collection == "destinations"


def test_filters_match_the_source_in_every_format(client, app, tmp_path):
    st = app.extensions["ocop"]
    p = st.products
    # The district with the most 3-star products: a filter on two fields with a non-empty answer.
    code = p.loc[p["stars"] == 3, "district_code"].value_counts().index[0]
    expected = sorted(p[(p["district_code"] == code) & (p["stars"] == 3)].index)
    assert expected
    for fmt in ("geojson", "gpkg", "fgb"):
        r = client.get(f"/export/products.{fmt}?district={code}&stars=3")
        assert ids_of(read_back(r.data, fmt, tmp_path), "id") == expected
        assert "filtered" in r.headers["Content-Disposition"]


def test_bbox_and_near(client, app):
    st = app.extensions["ocop"]
    near = json.loads(client.get("/export/products.geojson?near=106.70,20.95&radius_km=5").data)
    far = json.loads(client.get("/export/products.geojson?near=106.70,20.95&radius_km=50").data)
    assert 0 < len(near["features"]) < len(far["features"]) <= len(st.products)
    box = json.loads(client.get("/export/districts.geojson?bbox=107.6,20.0,107.9,20.3").data)
    assert [f["properties"]["name"] for f in box["features"]] == ["Bạch Long Vĩ"]


def test_etag_304_and_gzip(client):
    r = client.get("/export/products.geojson", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(r.data))["type"] == "FeatureCollection"
    again = client.get("/export/products.geojson", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("url,parameter", [
    ("/export/shops.geojson", "collection"),
    ("/export/products.shp", "format"),
    ("/export/products.geojson?bbox=1,2,3", "bbox"),
    ("/export/products.geojson?bbox=107,21,106,20", "bbox"),
    ("/export/products.geojson?bbox=a,b,c,d", "bbox"),
    ("/export/products.geojson?stars=7", "stars"),
    ("/export/products.geojson?category=weapons", "category"),
    ("/export/products.geojson?district=999", "district"),
    ("/export/products.geojson?near=106.7,20.8&radius_km=-1", "radius_km"),
    ("/export/products.geojson?near=106.7", "near"),
    ("/export/products.geojson?near=nan,inf", "near"),
    ("/export/products.geojson?radius_km=3", "radius_km"),
    ("/export/districts.geojson?stars=3", "stars"),
    ("/export/products.geojson?limit=3", "limit"),
])
def test_bad_parameters_answer_400_naming_the_parameter(client, url, parameter):
    r = client.get(url)
    assert r.status_code == 400 and r.is_json
    assert r.get_json()["parameter"] == parameter


def test_no_input_produces_a_server_error(client):
    weird = ["%00", "'; drop table", "<script>alert(1)</script>", "1e309", "-0", " ", "đ" * 300,
             "106.7,20.8,1,2,3", "🙂"]
    for name in ("bbox", "near", "radius_km", "stars", "q", "district", "category"):
        for value in weird:
            r = client.get("/export/products.geojson", query_string={name: value})
            assert r.status_code in (200, 400), (name, value, r.status_code)


def test_kml_escapes_hostile_text_for_google_earth(hostile_app, tmp_path):
    r = hostile_app.test_client().get("/export/products.kml")
    text = r.data.decode("utf-8")
    assert "<img src=x" not in text
    assert "&amp;lt;img src=x" in text  # HTML-escaped for the balloon, then XML-escaped
    back = read_back(r.data, "kml", tmp_path)
    # After the XML layer, the description is still HTML-escaped for the balloon.
    assert "<img src=x" not in column(back, "description").iloc[0]


def test_every_endpoint_names_a_bad_parameter_in_one_json_shape(client):
    """Downloads, OGC API, oEmbed and the handbook answer a bad parameter the same way."""
    for url, parameter in (("/export/products.geojson?stars=7", "stars"),
                           ("/export/products.geojson?colour=red", "colour"),
                           ("/ogc/collections/products/items?stars=7", "stars"),
                           ("/oembed?url=http://x.test/&format=xml", "format"),
                           ("/handbook?stars=7", "stars"),
                           ("/export/products.geojson?certificate=maybe", "certificate"),
                           ("/export/products.geojson?commune=1", "commune")):
        r = client.get(url)
        assert r.status_code in (400, 501) and r.mimetype == "application/json", url
        body = r.get_json()
        assert set(body) == {"code", "description", "parameter"}, url
        assert body["parameter"] == parameter and parameter in body["description"], url

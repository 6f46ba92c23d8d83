"""One schema in every format: GDAL (through pyogrio, as QGIS or ogr2ogr would) reads every
collection's download in every format with the collection's name as its layer and the schema's
field types (stars, years and counts integers, reals reals, dates dates where the format has a
date type), and the GeoPackage opens without a warning."""
from __future__ import annotations

import logging
import warnings
import zipfile

import pyogrio
import pytest

from geo import schema
from geo.export import SHAPEFILE_NAMES, SHAPEFILE_PARTS, column_types

COLLECTIONS = ("products", "destinations", "districts", "communes")
FORMATS = ("geojson", "csv", "xlsx", "kml", "gpkg", "fgb", "shp.zip")
# What GDAL gives for each schema type, by format (a format without a date type keeps the
# ISO date as text; FlatGeobuf's only date type is a date-time).
EXPECTED = {"Int32": "int32", "float64": "float64", "date": "datetime64[D]", "object": "object"}
DATES = {"kml": "object", "fgb": "datetime64[ms]"}


def read_info(client, name: str, fmt: str, tmp_path):
    """pyogrio.read_info of the download saved as NAME.FMT (the CSV with its .csvt beside it),
    and the warnings GDAL gave on opening it."""
    path = tmp_path / f"{name}.{fmt}"
    r = client.get(f"/export/{name}.{fmt}")
    assert r.status_code == 200, r.data[:200]
    path.write_bytes(r.data)
    if fmt == "csv":
        (tmp_path / f"{name}.csvt").write_bytes(client.get(f"/export/{name}.csvt").data)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("pyogrio")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            info = pyogrio.read_info(path)
            frame = pyogrio.read_dataframe(path)
    finally:
        logger.removeHandler(handler)
    said = [str(w.message) for w in caught] + [rec.getMessage() for rec in records]
    return info, frame, said


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", COLLECTIONS)
def test_every_format_has_the_collections_layer_name_and_field_types(client, app, name, fmt,
                                                                      tmp_path):
    info, frame, said = read_info(client, name, fmt, tmp_path)
    assert info["layer_name"] == name            # the CSV's layer is its file's name
    got = dict(zip(info["fields"], info["dtypes"]))
    col = app.extensions["ocop"].collections[name]
    assert info["features"] == len(col.frame) == len(frame)
    for field, kind in column_types(name).items():
        key = SHAPEFILE_NAMES.get(field, field) if fmt == "shp.zip" else field
        if fmt == "kml" and field in ("id", "name", "description"):
            key += "2"                           # GDAL's own KML fields take the plain names
        expected = DATES.get(fmt, EXPECTED[kind]) if kind == "date" else EXPECTED[kind]
        if fmt == "geojson" and schema.field(name, field).type in ("urls", "texts"):
            # a JSON list (text when every list is empty); " | "-joined text elsewhere
            expected = "list(str)" if got[key] != "object" else "object"
        if fmt in ("geojson", "xlsx", "kml") and frame[key].isna().all():
            expected = got[key]                  # an empty column: the reader guesses text
        assert got[key] == expected, (field, got[key], expected)
    if fmt in ("gpkg", "fgb", "shp.zip"):
        assert info["crs"] == "EPSG:4326"
    if fmt in ("gpkg", "shp.zip", "fgb"):
        assert not said, said                    # opens without a warning


def test_csvt_types_every_column_and_gives_the_points(client, app, tmp_path):
    info, frame, _ = read_info(client, "products", "csv", tmp_path)
    st = app.extensions["ocop"]
    assert frame.geometry.notna().all()
    p = st.products.iloc[0]
    got = frame.set_index("id").loc[st.products.index[0]]
    assert abs(got.geometry.x - p.geometry.x) < 1e-6 and abs(got.geometry.y - p.geometry.y) < 1e-6
    assert got["name"] == p["name"]                                  # diacritics intact
    assert got["district_code"] == p["district_code"]                # codes stay text
    r = client.get("/export/districts.csvt?bbox=107.6,20.0,107.9,20.3")
    assert r.headers["Content-Disposition"].endswith('hai-phong-districts-filtered.csvt"')
    assert r.data.decode().strip().endswith('"WKT"')


def test_shapefile_zip(client, app, tmp_path):
    r = client.get("/export/products.shp.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert 'filename="hai-phong-products.shp.zip"' in r.headers["Content-Disposition"]
    assert client.get("/export/products.shp.zip").data == r.data     # the same bytes again
    path = tmp_path / "products.shp.zip"
    path.write_bytes(r.data)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == sorted(f"products.{p}" for p in SHAPEFILE_PARTS)
        assert zf.read("products.cpg").decode().strip() == "UTF-8"
        assert "WGS" in zf.read("products.prj").decode()
    frame = pyogrio.read_dataframe(path)
    assert all(len(c) <= 10 for c in frame.columns)
    assert len(set(SHAPEFILE_NAMES.values())) == len(SHAPEFILE_NAMES)
    assert all(len(v) <= 10 for v in SHAPEFILE_NAMES.values())
    st = app.extensions["ocop"]
    assert len(frame) == len(st.products)
    got = frame.set_index("id")
    for fid, p in st.products.iterrows():
        g = got.loc[fid]
        assert g["name"] == p["name"] and g["address"] == p["address"]   # Vietnamese intact
        assert g["dist_code"] == p["district_code"] and g["stars"] == p["stars"]
        assert abs(g.geometry.x - p.geometry.x) < 1e-6 and abs(g.geometry.y - p.geometry.y) < 1e-6
    # The same filters as every download.
    code = st.products["district_code"].value_counts().index[0]
    expected = sorted(st.products[(st.products["district_code"] == code)
                                  & (st.products["stars"] == 3)].index)
    r = client.get(f"/export/products.shp.zip?district={code}&stars=3")
    assert "filtered" in r.headers["Content-Disposition"]
    path.write_bytes(r.data)
    assert sorted(pyogrio.read_dataframe(path)["id"]) == expected


def test_every_shapefile_name_is_a_schema_field():
    fields = {f.name for fields in schema.SCHEMAS.values() for f in fields}
    assert set(SHAPEFILE_NAMES) <= fields
    for name in schema.SCHEMAS:
        short = [SHAPEFILE_NAMES.get(f, f) for f in schema.public(name)]
        assert len(set(short)) == len(short) and all(len(s) <= 10 for s in short)


@pytest.mark.parametrize("kind", ("products", "destinations"))
def test_shapefile_zip_reimports_unchanged(kind, tmp_path_factory, tmp_path):
    """The zipped shapefile, imported with `ocop import` (its short names read back as the
    fields), gives back the same records field by field, as every download does
    (tests/test_roundtrip.py)."""
    import shutil
    from pathlib import Path

    from app import create_app
    from tests.test_roundtrip import ROOT, enrich, features, run, typed, warnings_of

    src = enrich(Path(shutil.copytree(ROOT / "data", tmp_path_factory.mktemp("src") / "data")))
    client = create_app({"TESTING": True, "DATA_DIR": str(src)}).test_client()
    target = Path(shutil.copytree(src, tmp_path / "data"))
    path = tmp_path / f"download-{kind}.shp.zip"
    r = client.get(f"/export/{kind}.shp.zip")
    assert r.status_code == 200
    path.write_bytes(r.data)

    assert warnings_of(path, target) == warnings_of(src / f"{kind}.geojson", src)
    result = run(target, "import", str(path), "--replace")
    assert result.exit_code == 0, result.output
    before, after = features(src, kind), features(target, kind)
    assert sorted(after) == sorted(before)
    for fid, old in before.items():
        new = after[fid]
        for name in schema.stored(kind):
            assert typed(new["properties"].get(name)) == typed(old["properties"].get(name)), \
                (fid, name)
        assert [round(c, 6) for c in new["geometry"]["coordinates"]] == \
            [round(c, 6) for c in old["geometry"]["coordinates"]], fid


@pytest.mark.parametrize("fmt", ("gpkg", "fgb", "shp.zip"))
def test_an_empty_download_keeps_its_layer_and_geometry_type(client, fmt, tmp_path):
    for name, kinds in (("products", {"Point"}), ("districts", {"MultiPolygon", "Polygon"})):
        r = client.get(f"/export/{name}.{fmt}?q=zzzzqqq")
        assert r.status_code == 200
        path = tmp_path / f"{name}.{fmt}"
        path.write_bytes(r.data)
        info = pyogrio.read_info(path)
        assert info["layer_name"] == name and info["geometry_type"] in kinds
        assert len(pyogrio.read_dataframe(path)) == 0

"""Serialise a (filtered) collection to the formats GIS tools read.  Bytes in, bytes out.

GeoJSON follows RFC 7946 (WGS 84 lon/lat, right-hand rule, no `crs`, ~1 m rounding); CSV is
UTF-8 with a byte-order mark so Excel shows Vietnamese correctly; KML, GeoPackage and
FlatGeobuf are written by GDAL through pyogrio.
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from . import schema
from .records import plain as _plain
from .text import escape

COORD_DECIMALS = 5  # 1e-5 degree is about 1.1 m
FORMATS = {
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv", "csv"),
    "kml": ("application/vnd.google-earth.kml+xml", "kml"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "fgb": ("application/flatgeobuf", "fgb"),
}


def rounded(geom):
    return shapely.set_precision(geom, 10 ** -COORD_DECIMALS, mode="pointwise")


def feature(row: dict, geom, fields, id_field: str) -> dict:
    return {"type": "Feature", "id": _plain(row[id_field]),
            "geometry": json.loads(shapely.to_geojson(rounded(geom))),
            "properties": {f: _plain(row[f]) for f in fields}}


def records(frame: gpd.GeoDataFrame, fields) -> list[tuple[dict, object]]:
    cols = frame[list(fields)].to_dict("records")
    return list(zip(cols, frame.geometry.tolist()))


def to_features(frame, fields, id_field) -> list[dict]:
    return [feature(r, g, fields, id_field) for r, g in records(frame, fields)]


def to_geojson(frame, fields, id_field, extra: dict | None = None) -> bytes:
    doc = {"type": "FeatureCollection", **(extra or {}),
           "features": to_features(frame, fields, id_field)}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _cell(value) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return str(value)


def to_csv(frame, fields, geometry_type: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    geo_cols = ["lon", "lat"] if geometry_type == "Point" else ["wkt"]
    w.writerow(list(fields) + geo_cols)
    for row, geom in records(frame, fields):
        g = rounded(geom)
        geo = [f"{g.x:.{COORD_DECIMALS}f}", f"{g.y:.{COORD_DECIMALS}f}"] \
            if geometry_type == "Point" else [shapely.to_wkt(g, rounding_precision=COORD_DECIMALS)]
        w.writerow([_csv_safe(_cell(row[f])) for f in fields] + geo)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _csv_safe(text: str) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @ is shown as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def column_types(collection: str) -> dict[str, str]:
    """{field: pandas dtype} of a collection's published fields, from the one schema: years
    and counts stay integers (nullable) in every GIS format, not reals."""
    return {f.name: f.ogr_type for f in schema.SCHEMAS[collection] if f.public}


def _ogr_frame(frame, fields, types: dict | None = None) -> gpd.GeoDataFrame:
    """Lists become ' | '-joined text; everything else keeps the schema's type."""
    types = types or {}
    cols = {}
    for f in fields:
        values = [_cell(v) if isinstance(_plain(v), list) else _plain(v) for v in frame[f]]
        cols[f] = pd.array(values, dtype=types[f]) if types.get(f, "object") != "object" \
            else values
    return gpd.GeoDataFrame(cols, geometry=frame.geometry.map(rounded).to_numpy(),
                            crs="EPSG:4326")


def _written(frame: gpd.GeoDataFrame, driver: str, suffix: str, layer: str, **options) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}.{suffix}"
        pyogrio.write_dataframe(frame, path, layer=layer, driver=driver, **options)
        return path.read_bytes()


def to_gpkg(frame, fields, layer: str, types=None) -> bytes:
    return _written(_ogr_frame(frame, fields, types), "GPKG", "gpkg", layer)


def to_fgb(frame, fields, layer: str, types=None) -> bytes:
    return _written(_ogr_frame(frame, fields, types), "FlatGeobuf", "fgb", layer)


def kml_description(row: dict, fields) -> str:
    """Google Earth shows <description> as HTML: every value is escaped."""
    items = "".join(f"<tr><th>{escape(f)}</th><td>{escape(_cell(row[f]))}</td></tr>"
                    for f in fields if _cell(row[f]))
    return f"<table>{items}</table>"


def to_kml(frame, fields, layer: str, name_field: str, types=None) -> bytes:
    """GDAL's KML driver fills <name> and <description> from the fields so called (in any
    case), so those two carry the placemark title and an escaped HTML table of all fields."""
    rows = [r for r, _ in records(frame, fields)]
    rest = [f for f in fields if f.lower() not in ("name", "description")]
    ogr = _ogr_frame(frame, rest, types)
    ogr.insert(0, "Name", [_cell(r[name_field]) for r in rows])
    ogr.insert(1, "Description", [kml_description(r, fields) for r in rows])
    return _written(ogr, "KML", "kml", layer)


def export(frame, fields, fmt: str, *, layer: str, id_field: str, name_field: str,
           geometry_type: str, types: dict | None = None) -> bytes:
    if fmt == "geojson":
        return to_geojson(frame, fields, id_field)
    if fmt == "csv":
        return to_csv(frame, fields, geometry_type)
    if fmt == "kml":
        return to_kml(frame, fields, layer, name_field, types)
    if fmt == "gpkg":
        return to_gpkg(frame, fields, layer, types)
    if fmt == "fgb":
        return to_fgb(frame, fields, layer, types)
    raise ValueError(f"unknown format {fmt!r}")

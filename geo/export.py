"""Serialise a (filtered) collection to the formats GIS tools read.  Bytes in, bytes out.

GeoJSON follows RFC 7946 (WGS 84 lon/lat, right-hand rule, no `crs`); CSV is UTF-8 with a
byte-order mark so Excel shows Vietnamese correctly; XLSX is one sheet (codes as text, numbers as
numbers, dates as dates); KML is written here (the fields as ExtendedData, a readable table as
the balloon); GeoPackage, FlatGeobuf and the zipped shapefile (short DBF names: SHAPEFILE_NAMES)
are written by GDAL through pyogrio; `csvt` is the CSV's GDAL type sidecar.

One schema in every format (tests/test_formats_schema.py): the layer is the collection's name
(`products`, ...; the GeoJSON's `name` member, the KML folder, the XLSX sheet), and the field
types are `column_types` of geo/schema.py: stars, years and counts integers, reals reals, dates
dates where the format has them, everything else text.

Every download re-imports unchanged (`flask --app app ocop import FILE`, tests/test_roundtrip.py):
points keep the data's 6 decimals (about 0.1 m, what an import stores), boundaries are rounded to
5 (about 1.1 m); codes stay text with their leading zeros, years and stars integers, and lists
(`links`, `former_units`) are joined with " | ", which the importer splits again.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import geopandas as gpd
import numpy as np
import shapely
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from . import schema
from .records import plain as _plain
from .text import escape

POINT_DECIMALS = 6   # the data's own precision (an import rounds to it): about 0.1 m
COORD_DECIMALS = 5   # boundaries: 1e-5 degree is about 1.1 m
FORMATS = {
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "kml": ("application/vnd.google-earth.kml+xml", "kml"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "fgb": ("application/flatgeobuf", "fgb"),
    "shp.zip": ("application/zip", "shp.zip"),
    "csvt": ("text/plain", "csvt"),
}
# Shapefile (DBF) field names are at most 10 characters: the one mapping from the schema's longer
# names (any name not listed is short enough already).  The importer accepts these names too
# (geo/import_columns.py).
SHAPEFILE_NAMES = {
    "commune_2025": "com25",
    "commune_2025_code": "com25_code",
    "commune_2025_from": "com25_from",
    "district_code": "dist_code",
    "commune_code": "com_code",
    "certified_year": "cert_year",
    "certified_date": "cert_date",
    "certificate_status": "cert_state",
    "certificate_expires": "cert_ends",
    "description": "descr",
    "description_en": "descr_en",
    "location_precision": "loc_prec",
    "location_source": "loc_source",
    "spatial_district_code": "spat_dist",
    "district_check": "dist_check",
    "province_before": "prov_prev",
    "products_3_stars": "prod_3star",
    "products_4_stars": "prod_4star",
    "products_5_stars": "prod_5star",
    "former_units": "from_units",
}


def decimals(geom) -> int:
    return POINT_DECIMALS if geom is not None and geom.geom_type == "Point" else COORD_DECIMALS


def rounded(geom):
    return shapely.set_precision(geom, 10 ** -decimals(geom), mode="pointwise")


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
        w.writerow([_csv_safe(_cell(row[f])) for f in fields] + _geo_cells(geom, geometry_type))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _geo_cells(geom, geometry_type: str) -> list[str]:
    """lon, lat (points, the data's 6 decimals) or WKT (boundaries) as text."""
    g = rounded(geom)
    if geometry_type == "Point":
        return [f"{g.x:.{POINT_DECIMALS}f}", f"{g.y:.{POINT_DECIMALS}f}"]
    return [shapely.to_wkt(g, rounding_precision=COORD_DECIMALS)]


def _csv_safe(text: str) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @ is shown as text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def column_types(collection: str) -> dict[str, str]:
    """{field: type} of a collection's published fields, from the one schema, the same in every
    GIS format: years, counts and stars integers (nullable), dates dates (`date`), reals reals,
    everything else text."""
    def kind(f) -> str:
        if f.type == "date":
            return "date"
        if f.choices and all(isinstance(c, int) and not isinstance(c, bool) for c in f.choices):
            return "Int32"
        return f.ogr_type
    return {f.name: kind(f) for f in schema.SCHEMAS[collection] if f.public}


def _field_array(values: list, kind: str, text_bytes: int | None = None):
    """(numpy array, null mask or None) of one column as pyogrio writes it: Int32 -> int32,
    float64 -> float64, date -> datetime64[D] (a GDAL Date), anything else text."""
    missing = np.array([v is None for v in values], dtype=bool)
    if kind == "Int32":
        return np.array([0 if v is None else int(v) for v in values], dtype="int32"), missing
    if kind == "float64":
        return np.array([np.nan if v is None else float(v) for v in values]), None
    if kind == "date":
        return np.array([v or "NaT" for v in values], dtype="datetime64[D]"), None
    texts = [None if v is None else str(v) for v in values]
    if text_bytes:      # cut at a character boundary, not inside one
        texts = [t if t is None else t.encode()[:text_bytes].decode(errors="ignore")
                 for t in texts]
    return np.array(texts, dtype=object), None


def _written(frame, fields, types: dict | None, driver: str, suffix: str, layer: str,
             names: dict | None = None, text_bytes: int | None = None,
             geometry_type: str | None = None, **options) -> Path:
    """Write the fields (lists ' | '-joined, each column of its schema type) and the rounded
    geometries with GDAL into a temporary folder; returns the folder (the caller removes it)."""
    from pyogrio.raw import write

    types, names = types or {}, names or {}
    data, masks = [], []
    for f in fields:
        values = [_plain(v) for v in frame[f]]
        values = [_cell(v) if isinstance(v, list) else v for v in values]
        array, mask = _field_array(values, types.get(f, "object"), text_bytes)
        data.append(array)
        masks.append(mask)
    geoms = [rounded(g) for g in frame.geometry]
    kinds = {g.geom_type for g in geoms if g is not None} or {geometry_type or "Point"}
    if kinds <= {"Point"}:
        geometry_type = "Point"
    else:   # polygons and multipolygons together: all multipolygons, one geometry type
        geometry_type = "MultiPolygon"
        geoms = [shapely.MultiPolygon([g]) if g is not None and g.geom_type == "Polygon" else g
                 for g in geoms]
    tmp = Path(tempfile.mkdtemp())
    write(tmp / f"{layer}.{suffix}", np.array(shapely.to_wkb(geoms), dtype=object), data,
          [names.get(f, f) for f in fields], field_mask=masks, layer=layer, driver=driver,
          geometry_type=geometry_type, crs="EPSG:4326", **options)
    return tmp


def _written_file(frame, fields, types, driver: str, suffix: str, layer: str,
                  geometry_type: str | None = None, **options) -> bytes:
    tmp = _written(frame, fields, types, driver, suffix, layer, geometry_type=geometry_type,
                   **options)
    try:
        return (tmp / f"{layer}.{suffix}").read_bytes()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def to_gpkg(frame, fields, layer: str, types=None, geometry_type=None) -> bytes:
    """GeoPackage 1.2: the GDAL bundled here writes 1.4 by default, which GDAL before 3.7
    (Debian 12's 3.6, QGIS 3.22's 3.4) opens with a warning; 1.2 opens silently everywhere."""
    return _written_file(frame, fields, types, "GPKG", "gpkg", layer, geometry_type,
                         dataset_options={"VERSION": "1.2"})


def to_fgb(frame, fields, layer: str, types=None, geometry_type=None) -> bytes:
    """FlatGeobuf has no date type: dates are GDAL DateTimes (midnight) there."""
    return _written_file(frame, fields, types, "FlatGeobuf", "fgb", layer, geometry_type)


SHAPEFILE_PARTS = ("shp", "shx", "dbf", "prj", "cpg")


def to_shapefile_zip(frame, fields, layer: str, types=None, geometry_type=None) -> bytes:
    """A zipped shapefile: LAYER.shp, .shx, .dbf, .prj (WGS 84) and .cpg (UTF-8), field names
    shortened by SHAPEFILE_NAMES, members dated alike so equal data gives equal bytes.  A DBF text
    holds at most 254 bytes: a longer one (a commune formed from many units) is cut there."""
    tmp = _written(frame, fields, types, "ESRI Shapefile", "shp", layer, SHAPEFILE_NAMES,
                   text_bytes=254, geometry_type=geometry_type,
                   layer_options={"ENCODING": "UTF-8"})
    try:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in SHAPEFILE_PARTS:
                info = zipfile.ZipInfo(f"{layer}.{part}", date_time=(2025, 7, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, (tmp / f"{layer}.{part}").read_bytes())
        return out.getvalue()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_CSVT = {"Int32": "Integer", "float64": "Real", "date": "Date"}


def to_csvt(fields, geometry_type: str, types=None) -> bytes:
    """GDAL's CSV sidecar: the type of each column of the CSV download (saved next to it with
    the same name but .csvt, GDAL and QGIS read the CSV typed, with its points or WKT)."""
    types = types or {}
    cols = [_CSVT.get(types.get(f, "object"), "String") for f in fields]
    cols += ["CoordX", "CoordY"] if geometry_type == "Point" else ["WKT"]
    return (",".join(f'"{c}"' for c in cols) + "\r\n").encode("ascii")


def kml_description(row: dict, fields) -> str:
    """Google Earth shows <description> as HTML: every value is escaped.  Only a balloon to
    read: the fields themselves are the placemark's ExtendedData (the importer takes those and
    knows this table for what it is, geo/import_read.py)."""
    items = "".join(f"<tr><th>{escape(f)}</th><td>{escape(_cell(row[f]))}</td></tr>"
                    for f in fields if _cell(row[f]))
    return f"<table>{items}</table>"


# Characters XML 1.0 cannot carry at all (C0 controls but tab, CR, LF; surrogates; U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
KML_TYPES = {"Int32": "int", "float64": "double"}


def _kml_type(column, dtype) -> str:
    """int for integer fields and for choices among numbers (`stars`), double for reals."""
    if dtype in KML_TYPES:
        return KML_TYPES[dtype]
    values = [v for v in map(_plain, column) if v is not None]
    ints = values and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    return "int" if ints else "string"


def _xml(text: str) -> str:
    return xml_escape(_NOT_XML.sub("", text), {'"': "&quot;"})


def _kml_coords(coords) -> str:
    return " ".join(f"{x!r},{y!r}" for x, y, *_ in coords)


def _kml_geometry(geom) -> str:
    if geom is None or geom.is_empty:
        return ""
    g = rounded(geom)
    if g.geom_type == "Point":
        return f"<Point><coordinates>{_kml_coords(g.coords)}</coordinates></Point>"
    if g.geom_type == "Polygon":
        ring = "<LinearRing><coordinates>{}</coordinates></LinearRing>"
        inner = "".join(f"<innerBoundaryIs>{ring.format(_kml_coords(r.coords))}</innerBoundaryIs>"
                        for r in g.interiors)
        return (f"<Polygon><outerBoundaryIs>{ring.format(_kml_coords(g.exterior.coords))}"
                f"</outerBoundaryIs>{inner}</Polygon>")
    if hasattr(g, "geoms"):
        return f"<MultiGeometry>{''.join(_kml_geometry(p) for p in g.geoms)}</MultiGeometry>"
    raise ValueError(f"no KML for {g.geom_type}")


def to_kml(frame, fields, layer: str, name_field: str, types=None) -> bytes:
    """One Placemark a feature: <name> its title, <description> an escaped HTML table of its
    fields for Google Earth's balloon, and every field as typed ExtendedData/SimpleData (a
    Schema of the collection's fields; empty values left out), which GIS tools and the importer
    read.  Written here, not by GDAL: its KML driver puts fields called name or description into
    <name> and <description> only, so their values would not survive a round trip."""
    types = types or {}
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           '<kml xmlns="http://www.opengis.net/kml/2.2">',
           f'<Document id="root_doc"><name>{_xml(layer)}</name>',
           f'<Schema name="{_xml(layer)}" id="{_xml(layer)}">']
    out += [f'<SimpleField name="{_xml(f)}" type="{_kml_type(frame[f], types.get(f))}"/>'
            for f in fields]
    out += ["</Schema>", f"<Folder><name>{_xml(layer)}</name>"]
    for n, (row, geom) in enumerate(records(frame, fields), start=1):
        data = "".join(f'<SimpleData name="{_xml(f)}">{_xml(_cell(row[f]))}</SimpleData>'
                       for f in fields if _cell(row[f]))
        out.append(f'<Placemark id="{_xml(layer)}.{n}"><name>{_xml(_cell(row[name_field]))}'
                   f'</name><description>{_xml(kml_description(row, fields))}</description>'
                   f'<ExtendedData><SchemaData schemaUrl="#{_xml(layer)}">{data}</SchemaData>'
                   f'</ExtendedData>{_kml_geometry(geom)}</Placemark>')
    out += ["</Folder>", "</Document>", "</kml>", ""]
    return "\n".join(out).encode("utf-8")


def _xlsx_value(value):
    """A cell: numbers as numbers (stars, years, counts, areas); everything else as text (codes
    with their leading zeros, dates, lists joined with " | "), never a formula."""
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", _cell(value))


def to_xlsx(frame, fields, layer: str, geometry_type: str, types=None) -> bytes:
    """One sheet named after the collection: a header row of the field names (then lon, lat or
    wkt) and a row a feature, as the importer reads it back (first sheet, first row).  Dates are
    date cells shown YYYY-MM-DD."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    wb.properties.creator = "OCOP map"
    # The same data gives the same bytes (ETags, the static build): fixed document dates.
    wb.properties.created = wb.properties.modified = datetime(2025, 7, 1)
    ws = wb.create_sheet(layer[:31])
    geo_cols = ["lon", "lat"] if geometry_type == "Point" else ["wkt"]
    ws.append(list(fields) + geo_cols)

    dates = {f for f in fields if (types or {}).get(f) == "date"}

    def cell(value, is_date=False):
        if is_date and isinstance(value, str):
            c = WriteOnlyCell(ws, value=date.fromisoformat(value))
            c.number_format = "yyyy-mm-dd"
            return c
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"           # text stays text: "=1+1" is not a formula
        return c
    for row, geom in records(frame, fields):
        geo = _geo_cells(geom, geometry_type)
        geo_values = [float(v) for v in geo] if geometry_type == "Point" else geo
        ws.append([cell(_xlsx_value(row[f]), f in dates) for f in fields]
                  + [cell(v) for v in geo_values])
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip_times(buf.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """The workbook's ZIP with every member dated the same, so equal data gives equal bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2025, 7, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def export(frame, fields, fmt: str, *, layer: str, id_field: str, name_field: str,
           geometry_type: str, types: dict | None = None) -> bytes:
    if fmt == "geojson":
        return to_geojson(frame, fields, id_field, {"name": layer})   # GDAL's layer name
    if fmt == "csv":
        return to_csv(frame, fields, geometry_type)
    if fmt == "xlsx":
        return to_xlsx(frame, fields, layer, geometry_type, types)
    if fmt == "kml":
        return to_kml(frame, fields, layer, name_field, types)
    if fmt == "gpkg":
        return to_gpkg(frame, fields, layer, types, geometry_type)
    if fmt == "fgb":
        return to_fgb(frame, fields, layer, types, geometry_type)
    if fmt == "shp.zip":
        return to_shapefile_zip(frame, fields, layer, types, geometry_type)
    if fmt == "csvt":
        return to_csvt(fields, geometry_type, types)
    raise ValueError(f"unknown format {fmt!r}")

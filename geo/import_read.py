"""Reading an import file: its format (sniffed from the bytes, never trusted from the name), its
text encoding, its rows as plain Python values, its geometry as GeoJSON lists, the CRS it
declares, and the conversion of coordinates to WGS 84.

Only what the file says: no schema (geo/import_normalise.py) and no placing
(geo/import_place.py), so every format reaches those steps as the same (row, values, geometry).
"""
from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from shapely.geometry import mapping

from .import_report import Problem
from .region import Region


FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson",
           ".kml": "kml", ".zip": "shapefile", ".gpkg": "gpkg"}


MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
         (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"),
         (b"\xd0\xcf\x11\xe0", "an old Excel/Word file (.xls/.doc; save it as .xlsx)"),
         (b"\x1f\x8b", "a gzip archive"), (b"Rar!", "a RAR archive"),
         (b"7z\xbc\xaf", "a 7-Zip archive"), (b"BM", None))


def sniff(raw: bytes) -> tuple[str, str]:
    """(type, description) of the bytes: xlsx, shapefile, kmz, zip, sqlite, json, xml, text,
    binary."""
    if raw.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
        except zipfile.BadZipFile:
            return "binary", "a damaged ZIP archive"
        if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
            return "xlsx", "an Excel workbook (.xlsx)"
        if any(n.lower().endswith(".shp") for n in names):
            return "shapefile", "a zipped shapefile"
        if any(n.lower().endswith(".kml") for n in names):
            return "kmz", "a KMZ archive"
        return "zip", "a ZIP archive without a shapefile"
    if raw.startswith(b"SQLite format 3\x00"):
        return "sqlite", "an SQLite database / GeoPackage"
    for magic, what in MAGIC:
        if what and raw.startswith(magic):
            return "binary", what
    head = raw[:8192]
    if b"\x00" in head:
        return "binary", "binary data"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") or text.startswith(b"["):
        return "json", "JSON text"
    if text.startswith(b"<"):
        return ("xml" if b"<kml" in head.lower() else "text"), "XML/HTML text"
    return "text", "text"


EXPECTED = {"csv": {"text"}, "xlsx": {"xlsx"}, "geojson": {"json"}, "kml": {"xml"},
            "shapefile": {"shapefile"}, "gpkg": {"sqlite"}}
FORMAT_NAMES = {"csv": "CSV", "xlsx": "Excel (.xlsx)", "geojson": "GeoJSON", "kml": "KML",
                "shapefile": "a zipped shapefile", "gpkg": "GeoPackage"}


def decode_text(raw: bytes) -> tuple[str | None, Problem | None]:
    """UTF-8 text (BOM allowed); else a problem naming the likely encoding."""
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        guess = None
        try:
            from charset_normalizer import from_bytes

            best = from_bytes(raw).best()
            guess = best.encoding if best else None
        except Exception:  # the guess is a courtesy; never fail on it
            guess = None
        line = raw[:e.start].count(b"\n") + 1
        named = f"; it looks like {guess}" if guess else ""
        return None, Problem(None, None, f"text is not UTF-8 (first bad byte on line {line})"
                             f"{named}. Save the file as UTF-8 (in Excel: \"CSV UTF-8\")")


def _clean(v: Any) -> Any:
    """Spreadsheet/GIS cell values as plain Python: NaN -> None, numpy -> int/float."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            v = v.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def _header(names) -> list[str]:
    return [str(n).strip().lower().lstrip("\ufeff") if n is not None else "" for n in names]


def _read_csv(text: str) -> tuple[list[tuple[int, dict]], list[Problem]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, problems = [], []
    try:
        header = _header(next(reader))
    except StopIteration:
        return [], [Problem(None, None, "the file has no header row")]
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            problems.append(Problem(line, None, f"has {len(values)} cells but the header has "
                                    f"{len(header)} columns (a comma inside an unquoted "
                                    "text?)"))
        rows.append((line, {h: _clean(v) for h, v in zip(header, values) if h}))
    return rows, problems


def _read_xlsx(path: Path) -> tuple[list[tuple[int, dict]], list[Problem]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header, rows, n = None, [], 0
        for n, values in enumerate(it, start=1):
            if header is None:
                if any(v not in (None, "") for v in values):
                    header = _header(values)
                continue
            if all(v in (None, "") for v in values):
                continue
            rows.append((n, {h: _clean(v) for h, v in zip(header, values) if h}))
    finally:
        wb.close()
    if header is None:
        return [], [Problem(None, None, "the first sheet has no header row")]
    return rows, []


def _crs_of_geojson(doc: dict) -> str | None:
    crs = doc.get("crs")
    if isinstance(crs, dict):
        name = (crs.get("properties") or {}).get("name")
        if isinstance(name, str):
            if "CRS84" in name.upper():
                return "EPSG:4326"
            return name
    return None


def _read_geojson(text: str):
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        return None, [], [Problem(None, None, f"not valid JSON (line {e.lineno}, column "
                                  f"{e.colno}: {e.msg})")]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or not isinstance(doc.get("features"), list):
        return None, [], [Problem(None, None, "not a GeoJSON FeatureCollection")]
    rows = []
    for i, feat in enumerate(doc["features"], start=1):
        props = feat.get("properties") if isinstance(feat, dict) else None
        props = props if isinstance(props, dict) else {}
        values = {str(k).strip().lower(): (_clean(v) if not isinstance(v, (list, dict)) else v)
                  for k, v in props.items()}
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        rows.append((i, values, geom))
    return _crs_of_geojson(doc), rows, []


def _read_gis(path: Path, fmt: str):
    import pyogrio

    src = f"/vsizip/{path}" if fmt == "shapefile" else str(path)
    try:
        layers = pyogrio.list_layers(src)
        gdf = pyogrio.read_dataframe(src, layer=layers[0][0])
    except Exception as e:  # GDAL's errors are the clearest reason we have
        return None, [], [Problem(None, None, f"cannot be read as {FORMAT_NAMES[fmt]}: {e}")]
    crs = gdf.crs.to_string() if gdf.crs is not None else None
    if fmt == "kml":
        crs = "EPSG:4326"
        gdf = gdf.rename(columns={c: c.lower() for c in gdf.columns if c != "geometry"})
    rows = []
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for i, (values, geom) in enumerate(zip(gdf[cols].itertuples(index=False, name=None),
                                           gdf.geometry), start=1):
        props = {str(c).strip().lower(): _clean(v) for c, v in zip(cols, values)}
        if fmt == "kml" and "id2" in props:
            # LIBKML gives the <Placemark id> as `id` and renames a data field `id` to `id2`.
            props["id"] = props.pop("id2")
        g = mapping(geom) if geom is not None and not geom.is_empty else None
        rows.append((i, props, _listify(g) if g else None))
    return crs, rows, []


def _listify(g):
    """shapely's mapping() uses tuples; GeoJSON (and our checks) use lists."""
    if isinstance(g, dict):
        return {k: _listify(v) for k, v in g.items()}
    if isinstance(g, (list, tuple)):
        return [_listify(v) for v in g]
    return g


def guess_kind(columns: set[str], geom_types: set[str]) -> str:
    if "stars" in columns or "category" in columns:
        return "products"
    if "kind" in columns:
        return "destinations"
    if geom_types & {"Polygon", "MultiPolygon"} or "code" in columns:
        return "districts"
    return "products"


# -- coordinate reference systems ----------------------------------------------------------

def resolve_crs(text: str | None, region: Region | None = None):
    """A pyproj CRS from "EPSG:3405", a WKT/PROJ text, or the region's local VN-2000 zone by
    its name in data/region.json (`--crs VN2000-HP` for Hải Phòng)."""
    from pyproj import CRS

    if not text:
        return None
    text = text.strip()
    if region is not None and text.lower() == region.vn2000_name.lower():
        text = region.vn2000_proj
    return CRS.from_user_input(text)


def _map_coords(g: Any, fn: Callable[[float, float], tuple[float, float]]):
    if isinstance(g, list) and len(g) >= 2 and all(isinstance(c, (int, float)) for c in g[:2]):
        x, y = fn(float(g[0]), float(g[1]))
        return [round(x, 7), round(y, 7)]
    if isinstance(g, list):
        return [_map_coords(v, fn) for v in g]
    return g


def transform_geometry(g: dict, transformer) -> dict:
    return {**g, "coordinates": _map_coords(g.get("coordinates"),
                                            lambda x, y: transformer.transform(x, y))}

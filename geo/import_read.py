"""Reading an import file: its format (sniffed from the bytes, never trusted from the name), its
text encoding, its rows as plain Python values, its geometry as GeoJSON lists, the CRS it
declares, and the conversion of coordinates to WGS 84.

Only what the file says: no schema (geo/import_normalise.py) and no placing
(geo/import_place.py), so every format reaches those steps as the same (row, values, geometry).
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from shapely.geometry import mapping

from .import_columns import (HEADER_MIN, HEADER_SCAN, ColumnMap, find_header,
                             header_score, key, map_headers)
from .import_report import Problem
from .region import Region


FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson",
           ".kml": "kml", ".zip": "shapefile", ".gpkg": "gpkg", ".fgb": "fgb"}


MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
         (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"),
         (b"\xd0\xcf\x11\xe0", "an old Excel/Word file (.xls/.doc; save it as .xlsx)"),
         (b"\x1f\x8b", "a gzip archive"), (b"Rar!", "a RAR archive"),
         (b"7z\xbc\xaf", "a 7-Zip archive"), (b"BM", None))


def sniff(raw: bytes) -> tuple[str, str]:
    """(type, description) of the bytes: xlsx, shapefile, kmz, zip, sqlite, fgb, json, xml,
    text, binary."""
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
    if raw.startswith(b"fgb\x03"):
        return "fgb", "a FlatGeobuf file"
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
            "shapefile": {"shapefile"}, "gpkg": {"sqlite"}, "fgb": {"fgb"}}
FORMAT_NAMES = {"csv": "CSV", "xlsx": "Excel (.xlsx)", "geojson": "GeoJSON", "kml": "KML",
                "shapefile": "a zipped shapefile", "gpkg": "GeoPackage", "fgb": "FlatGeobuf"}


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
        return None if v != v else v.date().isoformat()     # NaT: an empty GIS date
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def _unguarded(text: str) -> str:
    """A CSV cell without the apostrophe our downloads put before a text starting with = + - @
    (geo/export._csv_safe, against spreadsheet formulas), so a download re-imports unchanged."""
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r") \
        else text


def _header(names) -> list[str]:
    return [str(n).strip().lower().lstrip("\ufeff") if n is not None else "" for n in names]


def _read_csv(text: str) -> tuple[list[tuple[int, dict]], list[Problem], list[ColumnMap]]:
    """The rows under the header row (the first naming known fields: a title block above it
    is skipped), keyed by field (geo/import_columns.py), and the mapping used."""
    reader = csv.reader(io.StringIO(text, newline=""))
    lines = []
    for values in reader:
        lines.append((reader.line_num, values))
        if len(lines) >= HEADER_SCAN:
            break
    at = find_header([v for _, v in lines])
    if at is None:
        return [], [Problem(None, None, "the file has no header row")], []
    header_line, header = lines[at]
    cmap = map_headers(header)
    cmap.where = f"header row {header_line}"
    rows, problems = [], []

    def take(line, values):
        if not any(v.strip() for v in values):
            return
        if len(values) > len(header):
            problems.append(Problem(line, None, f"has {len(values)} cells but the header has "
                                    f"{len(header)} columns (a comma inside an unquoted "
                                    "text?)"))
        rows.append((line, {k: _clean(_unguarded(v)) for k, v in zip(cmap.keys, values) if k}))
    for line, values in lines[at + 1:]:
        take(line, values)
    for values in reader:
        take(reader.line_num, values)
    return rows, problems, [cmap]


def _read_xlsx(path: Path, sheet: str | None = None):
    """(rows, problems, column maps, labels) of the sheet named `sheet`, else of every sheet
    whose header row names a product's (or destination's) name, else of the first sheet.
    Rows of several sheets are numbered in one sequence; `labels` gives each number's
    (sheet, row) for the report."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = [(ws.title, [list(v) for v in ws.iter_rows(values_only=True)])
                  for ws in wb.worksheets]
    finally:
        wb.close()
    if sheet is not None:
        chosen = [s for s in sheets if s[0] == sheet] or \
            [s for s in sheets if key(s[0]) == key(sheet)]
        if not chosen:
            names = ", ".join(f"'{t}'" for t, _ in sheets)
            return [], [Problem(None, None, f"no sheet named {sheet!r}; the workbook has "
                                f"{names}")], [], {}
    else:
        chosen = []
        for title, values in sheets:
            at = find_header(values)
            if at is not None and "name" in map_headers(values[at]).fields \
                    and header_score(values[at]) >= HEADER_MIN:
                chosen.append((title, values))
        chosen = chosen or sheets[:1]
    several = len(chosen) > 1 or (sheet is None and len(sheets) > 1)
    rows, maps, labels, num = [], [], {}, 0
    for title, values in chosen:
        at = find_header(values)
        if at is None:
            continue
        cmap = map_headers(values[at])
        cmap.where = (f"sheet '{title}', " if several or sheet else "") + f"header row {at + 1}"
        maps.append(cmap)
        for n, cells in enumerate(values[at + 1:], start=at + 2):
            if all(v in (None, "") for v in cells):
                continue
            num = num + 1 if len(chosen) > 1 else n
            if len(chosen) > 1:
                labels[num] = (title, n)
            rows.append((num, {k: _clean(v) for k, v in zip(cmap.keys, cells) if k}))
    if not maps:
        return [], [Problem(None, None, "the sheet has no header row")], [], {}
    maps[-1].skipped = [t for t, _ in sheets if t not in {c[0] for c in chosen}]
    return rows, [], maps, labels


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
        if fmt == "kml":
            props = _kml_fields(props)
        g = mapping(geom) if geom is not None and not geom.is_empty else None
        rows.append((i, props, _listify(g) if g else None))
    return crs, rows, []


# What GDAL's KML drivers read from a placemark itself (lower case); a data field (ExtendedData)
# of one of these names comes with a "2" after it (`id2`, `name2`, `description2`).
_KML_OWN = ("id", "name", "description", "timestamp", "begin", "end", "altitudemode",
            "tessellate", "extrude", "visibility", "draworder", "icon", "snippet")
# The balloon our own KML download writes (geo/export.kml_description): a table of every field.
_KML_TABLE = re.compile(r"<table>(?:<tr><th>[^<>]*</th><td>[^<>]*</td></tr>)*</table>")
_KML_CELL = re.compile(r"<tr><th>([^<>]*)</th><td>([^<>]*)</td></tr>")


def _kml_fields(props: dict) -> dict:
    """A placemark's values: its ExtendedData (Data, SchemaData/SimpleData) fields; its <name>
    and <description> (and <Placemark id>) where no data field of that name has a value; and
    never the balloon of our own KML download as a description: that table lists the fields,
    which are read from it where the file has no data field for them (older downloads)."""
    out = {k: v for k, v in props.items() if k not in _KML_OWN}
    for k in ("id", "name", "description"):
        # GDAL names a data field `id2` (SimpleData) or fills `id` itself (Data): either way
        # the data field's value, when there is one, is the one meant.
        v = out.pop(k + "2", None)
        out[k] = v if v is not None else props.get(k)
    balloon = out["description"]
    if props.get("description2") is None and isinstance(balloon, str) \
            and _KML_TABLE.fullmatch(balloon.strip()):
        out["description"] = None
        for k, v in _KML_CELL.findall(balloon):
            k = html.unescape(k).strip().lower()
            if out.get(k) is None:
                out[k] = _clean(html.unescape(v))
    return out


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

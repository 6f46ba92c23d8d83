"""Read an official's file of products, destinations or district boundaries, and check it.

Pure code, no Flask: `read_import(path, ...)` returns an `Import` with the file's rows as
GeoJSON features in the schemas of geo/load.py and a report (`problems`): one `Problem` per
row/feature, field and reason, each an error or a warning.  `plan_import(data_dir, imp, ...)`
merges them into the current data and validates the whole result with geo/load.load_dataset
on a temporary copy; it returns the new bytes of the data file to write (geo/store.py writes
them) or more problems.  Nothing here writes into the data directory.

Formats (the content is sniffed; a file whose bytes are not what its extension says is
refused): `.csv` (UTF-8, with or without BOM), `.xlsx` (first sheet), `.geojson`/`.json`,
`.kml`, `.zip` (a zipped shapefile: .shp, .shx, .dbf, .prj, optionally .cpg), `.gpkg` (first
layer).

Coordinates come, in this order, from the geometry of a GIS file; from a pair of columns
(`lon`/`lat`, `longitude`/`latitude`, `lng`/`lat`, `x`/`y`, `easting`/`northing`); or from the
address: its commune (else district) centroid, geocoded with `vietnamadminunits` (see
geo/geocode.py) and flagged in `location_precision`.  They are in the CRS the file declares
(a GIS file's .prj, GeoPackage SRS, a GeoJSON `crs` member), else in the one given with
`crs=` (`--crs`), else WGS 84 lon/lat; anything else is converted to WGS 84 with pyproj.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from functools import partial
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable

import shapely
from shapely.geometry import mapping, shape

from . import geocode
from .categories import CATEGORIES, KINDS
from .load import (DESTINATION_FIELDS, DISTRICT_FIELDS, FILES, MAX_FILE_BYTES,
                   PRODUCT_FIELDS, DataError, check_feature, load_dataset, unclosed_rings)
from .placement import spread
from .region import Region, load_region
from .spatial import NEAREST_MAX_M, Places, nearest_points
from .text import fold

KIND_FIELDS = {"products": PRODUCT_FIELDS, "destinations": DESTINATION_FIELDS,
               "districts": DISTRICT_FIELDS}
KIND_FILE = {"products": FILES["products"], "destinations": FILES["destinations"],
             "districts": FILES["districts"]}
ID_FIELD = {"products": "id", "destinations": "id", "districts": "code"}
GEOM_TYPES = {"products": ("Point",), "destinations": ("Point",),
              "districts": ("Polygon", "MultiPolygon")}
FORMATS = {".csv": "csv", ".xlsx": "xlsx", ".geojson": "geojson", ".json": "geojson",
           ".kml": "kml", ".zip": "shapefile", ".gpkg": "gpkg"}
COORD_PAIRS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"),
               ("easting", "northing"))
MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
         (b"GIF8", "a GIF image"), (b"%PDF", "a PDF document"),
         (b"\xd0\xcf\x11\xe0", "an old Excel/Word file (.xls/.doc; save it as .xlsx)"),
         (b"\x1f\x8b", "a gzip archive"), (b"Rar!", "a RAR archive"),
         (b"7z\xbc\xaf", "a 7-Zip archive"), (b"BM", None))


@dataclass(frozen=True)
class Problem:
    row: int | None        # row (CSV/XLSX line) or feature number; None: the whole file
    field: str | None
    reason: str
    severity: str = "error"  # "error" | "warning"
    unit: str = "row"        # "row" (CSV, XLSX: the spreadsheet's line) or "feature"

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{self.severity}: {', '.join(where) + ': ' if where else ''}{self.reason}"


@dataclass
class Import:
    path: Path
    format: str = ""
    kind: str = ""
    crs: str = "EPSG:4326"
    features: list[dict] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)       # source row of each feature
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> str:
        head = (f"{self.path.name}: {self.format or '?'} file, {self.kind or '?'}, "
                f"{len(self.features)} row(s), {len(self.errors)} error(s), "
                f"{len(self.warnings)} warning(s)")
        return "\n".join([head] + [f"  {p}" for p in self.problems])


# -- reading ----------------------------------------------------------------------------------

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


# -- coordinates ------------------------------------------------------------------------------

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


def _number(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.replace(",", ".")) if v.count(",") == 1 and "." not in v \
                else float(v)
        except ValueError:
            return None
    return None


# -- normalising rows to the schemas ----------------------------------------------------------

def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _int(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str):
        s = v.strip().lower().removesuffix("sao").removesuffix("stars").removesuffix("*").strip()
        try:
            return int(s)
        except ValueError:
            try:
                f = float(s)
                return int(f) if f.is_integer() else v
            except ValueError:
                return v
    return v


def _category(v: Any) -> Any:
    s = _text(v)
    if s is None:
        return None
    for c in CATEGORIES.values():
        if fold(s) in (fold(c.code), fold(c.vi), fold(c.en)):
            return c.code
    return s


def _kind(v: Any) -> Any:
    s = _text(v)
    if s is None:
        return None
    for k in KINDS.values():
        if fold(s) in (fold(k.code), fold(k.vi), fold(k.en)):
            return k.code
    return s


def _links(v: Any) -> Any:
    if v is None:
        return []
    if isinstance(v, list):
        return v
    return [u.strip() for u in str(v).replace("\n", "|").split("|") if u.strip()]


def _year_and_date(values: dict) -> tuple[Any, str | None]:
    d = _text(values.get("certified_date"))
    y = values.get("certified_year")
    if d:
        try:
            parsed = date.fromisoformat(d[:10])
            return parsed.year, parsed.isoformat()
        except ValueError:
            try:
                parsed = datetime.strptime(d, "%d/%m/%Y").date()
                return parsed.year, parsed.isoformat()
            except ValueError:
                return _int(y) if y is not None else d, None
    return (_int(y) if y is not None else None), None


class _Units:
    """The region's former districts (by code or name) and its 2025 units, with the spatial
    questions asked through geo/spatial.Places (metric, one engine for loader and importer)."""

    def __init__(self, data_dir: Path):
        self.region = load_region(data_dir)
        districts = json.loads((data_dir / FILES["districts"]).read_text(encoding="utf-8"))
        communes = json.loads((data_dir / FILES["communes"]).read_text(encoding="utf-8"))
        self.places = Places.from_features(districts["features"], communes["features"],
                                           self.region.metric_crs)
        self.records = [(f["properties"]["code"], f["properties"]["name"],
                         f["properties"].get("full_name") or f["properties"]["name"])
                        for f in districts["features"]]
        self.by_code = {r[0]: r for r in self.records}
        # Communes merged between 2019 and early 2025 (data/sources/communes_merged.csv).
        self.merged = geocode.load_merged(data_dir / "sources" / "communes_merged.csv")
        self.by_name = {}
        for r in self.records:
            for n in (r[1], r[2], geocode.short_district(r[2])):
                self.by_name[fold(n)] = r

    @property
    def provinces(self) -> tuple[str, ...]:
        return self.region.province_names_before

    def find(self, code: Any, name: Any):
        code, name = _text(code), _text(name)
        if code and code in self.by_code:
            return self.by_code[code]
        if name:
            return self.by_name.get(fold(name)) or \
                self.by_name.get(fold(geocode.short_district(name)))
        return None

    def at(self, lon: float, lat: float):
        """(district record containing the point or nearest to it, distance in m)."""
        code, metres = self.places.district_at(lon, lat)
        return self.by_code.get(code), metres

    def commune_2025_near(self, lon: float, lat: float):
        return self.places.commune_2025_near(lon, lat)

    def metres_from(self, code: str, lon: float, lat: float) -> float:
        return self.places.metres_from_district(code, lon, lat)


PRODUCT_ORDER = ("id", "name", "name_en", "producer", "category", "stars", "district_code",
                 "district", "commune", "commune_code", "commune_2025", "commune_2025_code",
                 "commune_2025_from", "address", "certified_year", "certified_date", "links",
                 "description", "description_en", "source", "location_precision")
DESTINATION_ORDER = ("id", "name", "name_en", "kind", "district_code", "district", "commune",
                     "commune_2025", "commune_2025_code", "commune_2025_from", "address",
                     "description", "description_en", "source", "location_precision",
                     "location_source")
DISTRICT_ORDER = ("code", "name", "full_name", "type", "source")


def _props(kind: str, v: dict) -> dict:
    if kind == "districts":
        return {"code": _text(v.get("code")), "name": _text(v.get("name")),
                "full_name": _text(v.get("full_name")) or _text(v.get("name")),
                "type": _text(v.get("type")), "source": _text(v.get("source"))}
    common = {"id": _text(v.get("id")), "name": _text(v.get("name")),
              "name_en": _text(v.get("name_en")), "address": _text(v.get("address")),
              "commune": _text(v.get("commune")), "source": _text(v.get("source")),
              "description": _text(v.get("description")),
              "description_en": _text(v.get("description_en")),
              # where an exact coordinate comes from (its own citation)
              "location_source": _text(v.get("location_source"))}
    if kind == "products":
        year, day = _year_and_date(v)
        return {**common, "producer": _text(v.get("producer")),
                "category": _category(v.get("category")), "stars": _int(v.get("stars")),
                "certified_year": year, "certified_date": day, "links": _links(v.get("links"))}
    return {**common, "kind": _kind(v.get("kind"))}


def _ordered(props: dict, order) -> dict:
    out = {k: props[k] for k in order if k in props}
    out.update({k: val for k, val in props.items() if k not in out})
    return out


def read_import(path: str | Path, data_dir: str | Path, kind: str | None = None,
                crs: str | None = None, repair: bool = False,
                progress: Callable[[Iterable, int], Iterable] | None = None) -> Import:
    """Read and check one file; never raises on bad content (it is all in `problems`)."""
    path, data_dir = Path(path), Path(data_dir)
    imp = Import(path=path)
    ext = "".join(path.suffixes[-2:]).lower() if path.name.lower().endswith(".shp.zip") \
        else path.suffix.lower()
    fmt = FORMATS.get(".zip" if ext == ".shp.zip" else ext)
    if fmt is None:
        imp.problems.append(Problem(None, None, f"unsupported file type {ext or '(none)'!r}; "
                                    "use .csv, .xlsx, .geojson, .kml, .zip (shapefile) or "
                                    ".gpkg"))
        return imp
    imp.format = fmt
    try:
        size = path.stat().st_size
    except OSError as e:
        imp.problems.append(Problem(None, None, f"cannot be read: {e.strerror}"))
        return imp
    if size == 0:
        imp.problems.append(Problem(None, None, "the file is empty (0 bytes)"))
        return imp
    if size > MAX_FILE_BYTES:
        imp.problems.append(Problem(None, None, f"the file is {size / 2**20:.1f} MiB; the "
                                    f"limit is {MAX_FILE_BYTES // 2**20} MiB"))
        return imp
    raw = path.read_bytes()
    real, what = sniff(raw)
    if real not in EXPECTED[fmt]:
        imp.problems.append(Problem(None, None, f"the name says {FORMAT_NAMES[fmt]} but the "
                                    f"content is {what}"))
        return imp
    declared = None
    if fmt in ("csv", "geojson"):
        text, bad = decode_text(raw)
        if bad:
            imp.problems.append(bad)
            return imp
        if fmt == "csv":
            table, probs = _read_csv(text)
            rows = [(n, vals, None) for n, vals in table]
        else:
            declared, rows, probs = _read_geojson(text)
    elif fmt == "xlsx":
        try:
            table, probs = _read_xlsx(path)
        except Exception as e:  # openpyxl raises many kinds on damaged workbooks
            table, probs = [], [Problem(None, None, f"cannot be read as Excel (.xlsx): {e}")]
        rows = [(n, vals, None) for n, vals in table]
    else:
        declared, rows, probs = _read_gis(path, fmt)
    imp.problems.extend(probs)
    if any(p.row is None for p in probs):
        return imp

    # CRS: what the file declares wins; --crs is for files that declare none.
    try:
        region = load_region(data_dir)
        given = resolve_crs(crs, region)
        source = resolve_crs(declared, region) if declared else given
    except Exception as e:  # pyproj.exceptions.CRSError
        imp.problems.append(Problem(None, None, f"unknown coordinate reference system: {e}"))
        return imp
    if declared and given is not None and not source.equals(given):
        imp.problems.append(Problem(None, None, f"the file declares {source.name} but --crs "
                                    f"says {given.name}; remove --crs or fix the file"))
        return imp
    transformer = None
    if source is not None and not source.equals(resolve_crs("EPSG:4326")):
        from pyproj import Transformer

        transformer = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
        imp.crs = source.to_string() if source.to_epsg() is None else f"EPSG:{source.to_epsg()}"

    columns = set().union(*(set(v) for _, v, _ in rows)) if rows else set()
    gtypes = {g.get("type") for _, _, g in rows if isinstance(g, dict)}
    imp.kind = kind or guess_kind(columns, gtypes)
    if imp.kind not in KIND_FIELDS:
        imp.problems.append(Problem(None, None, f"unknown kind {imp.kind!r}"))
        return imp
    if not rows:
        imp.problems.append(Problem(None, None, "the file has no rows"))
        return imp
    pair = next(((a, b) for a, b in COORD_PAIRS if a in columns and b in columns), None)
    units = _Units(data_dir)
    iterator = progress(rows, len(rows)) if progress else rows
    seen: dict[str, int] = {}
    for num, values, geom in iterator:
        feat, probs = _normalise(imp, num, values, geom, pair, transformer, units, repair,
                                 fmt)
        imp.problems.extend(probs)
        if feat is None:
            continue
        fid = feat["properties"].get(ID_FIELD[imp.kind])
        if isinstance(fid, str):
            if fid in seen:
                imp.problems.append(Problem(num, ID_FIELD[imp.kind], f"duplicate "
                                            f"{ID_FIELD[imp.kind]} {fid!r}, also row "
                                            f"{seen[fid]}"))
            seen.setdefault(fid, num)
        imp.features.append(feat)
        imp.rows.append(num)
    if fmt not in ("csv", "xlsx"):
        imp.problems = [replace(p, unit="feature") for p in imp.problems]
    return imp


def _normalise(imp: Import, num: int, values: dict, geom: Any, pair, transformer,
               units: _Units, repair: bool, fmt: str):
    kind, probs = imp.kind, []
    props = _props(kind, values)
    extra_precision = _text(values.get("location_precision"))
    given_xy = None
    if geom is None and pair:
        x, y = _number(values.get(pair[0])), _number(values.get(pair[1]))
        if (values.get(pair[0]) is None) != (values.get(pair[1]) is None) or \
                (values.get(pair[0]) is not None and (x is None or y is None)):
            probs.append(Problem(num, pair[0], f"'{pair[0]}'/'{pair[1]}' must both be numbers "
                                 f"(got {values.get(pair[0])!r}, {values.get(pair[1])!r})"))
            return None, probs
        if x is not None:
            geom = {"type": "Point", "coordinates": [x, y]}
    if geom is not None and transformer is not None:
        geom = transform_geometry(geom, transformer)
    if isinstance(geom, dict) and geom.get("type") == "Point":
        c = geom.get("coordinates")
        if isinstance(c, list) and len(c) >= 2:
            geom = {"type": "Point", "coordinates": [round(float(c[0]), 6),
                                                     round(float(c[1]), 6)]}
            given_xy = tuple(geom["coordinates"])

    if kind == "districts":
        geom, gprobs = _polygon(num, geom, repair, fmt)
        probs.extend(gprobs)
        return _finish(num, kind, props, geom, probs, units)

    # Which old district: stated (code or name), else from the address, else the location.
    region = units.region
    drow = units.find(values.get("district_code"), values.get("district"))
    stated = _text(values.get("district_code")) or _text(values.get("district"))
    if stated and drow is None:
        probs.append(Problem(num, "district", f"{stated!r} is not one of the "
                             f"{region.former_districts} former districts of "
                             f"{region.label('vi')} (before July 2025)"))
        return _finish(num, kind, props, None, probs, units, keep=False)
    if drow is None and props.get("address"):
        drow = _district_from_address(props["address"], units)
    unit25 = legacy_commune = None
    if geom is None:
        if drow is None:
            probs.append(Problem(num, "district", "no coordinates and no district or address "
                                 "to place the row by"))
            return _finish(num, kind, props, None, probs, units, keep=False)
        legacy = geocode.find_district(drow[1], units.provinces)
        if legacy is None:
            probs.append(Problem(num, "district", f"{drow[1]!r} is not in the address table"))
            return _finish(num, kind, props, None, probs, units, keep=False)
        if not props.get("address"):
            # The sheet gave a commune and a district, not an address: write it out.
            props["address"] = ", ".join(p for p in (
                props.get("commune"), legacy["district"], _province_full(legacy, region)) if p)
        found = geocode.locate(legacy, props.get("commune"), units.provinces,
                               partial(units.metres_from, drow[0]), units.merged)
        if found.precision == "district" and props.get("commune"):
            # A commune named in the units of 2025 (sources after 1 July 2025 use them).
            unit25 = geocode.find_2025(props["commune"], region.province.name)
        if unit25 is not None:
            found = replace(found, lon=unit25["wardLon"], lat=unit25["wardLat"],
                            precision="commune", warning=None)
        if found.warning:
            probs.append(Problem(num, "commune", found.warning, "warning"))
        lon, lat = found.lon, found.lat
        if found.precision != "exact":
            # Approximate points of different producers must not share one point.
            lon, lat = spread(lon, lat, props.get("producer") or props.get("name") or "")
        geom = {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
        props["location_precision"] = found.precision
        if found.commune_code:
            props["commune_code"] = found.commune_code
        legacy_commune = found.commune_name
    else:
        props["location_precision"] = extra_precision or "exact"
    lonlat = geom.get("coordinates") if geom.get("type") == "Point" else None
    if drow is None and lonlat and region.contains(*lonlat):
        drow, dist = units.at(*lonlat)
        if dist and dist > NEAREST_MAX_M:
            drow = None
    if drow is not None:
        props["district_code"], props["district"] = drow[0], drow[1]
    if given_xy and region.contains(*given_xy):
        probs.extend(_location_checks(num, props, drow, given_xy, units))
    # The 2025 unit: named by the row, else from the old address, else by location.
    if unit25 is not None:
        props.update(commune_2025=unit25["ward"], commune_2025_code=unit25["wardCode"],
                     commune_2025_from="commune")
    else:
        name25, code25 = geocode.commune_2025(
            _old_address(legacy_commune or props.get("commune"), props, drow, units),
            region.province.name)
        if name25:
            props.update(commune_2025=name25, commune_2025_code=code25,
                         commune_2025_from="address")
        elif lonlat and region.contains(*lonlat):
            name25, code25 = units.commune_2025_near(*lonlat)
            props.update(commune_2025=name25, commune_2025_code=code25,
                         commune_2025_from="location")
    if kind == "products" and not props.get("name_en") and props.get("name"):
        props["name_en"] = props["name"]
        probs.append(Problem(num, "name_en", "no English name; the Vietnamese name is used",
                             "warning"))
    if kind == "destinations" and not props.get("description_en") and props.get("description"):
        props["description_en"] = props["description"]
        probs.append(Problem(num, "description_en", "no English description; the Vietnamese "
                             "one is used", "warning"))
    return _finish(num, kind, props, geom, probs, units)


def _province_full(legacy: dict, region: Region) -> str:
    for p in region.provinces_before:
        if p.name == legacy["provinceShort"]:
            return p.full_name
    return legacy["provinceShort"]


def _old_address(commune: str | None, props: dict, drow, units: _Units) -> str | None:
    """The pre-2025 address to convert: the legacy commune the row was placed in (the one it
    names, or what that was merged into) and its district, before a free-text address, which
    may already be written in the 2025 units."""
    if drow is not None and commune:
        legacy = geocode.find_district(drow[1], units.provinces)
        if legacy is not None:
            return f"{commune}, {legacy['district']}, {legacy['provinceShort']}"
    return props.get("address")


def _district_from_address(address: str, units: _Units):
    try:
        from vietnamadminunits import ParseMode, parse_address

        unit = parse_address(address, mode=ParseMode.LEGACY, level=2)
    except Exception:
        return None
    return units.find(getattr(unit, "district_code", None), getattr(unit, "district", None))


def _location_checks(num, props, drow, xy, units: _Units) -> list[Problem]:
    """A point outside the region's districts (error) or in another district/commune than the
    row names (warning, naming both)."""
    out = []
    at, dist = units.at(*xy)
    if dist and dist > NEAREST_MAX_M:
        out.append(Problem(num, None, f"the point {list(xy)} lies outside "
                           f"{units.region.label('vi')} ({dist / 1000:.1f} km from the nearest "
                           f"district, {at[1] if at else '?'})"))
        return out
    if drow is not None and at is not None and at[0] != drow[0]:
        out.append(Problem(num, "district", f"the row says {drow[1]} but the point lies in "
                           f"{at[1]}", "warning"))
    commune = props.get("commune")
    if commune and at is not None:
        wards = geocode.ward_frame(units.provinces, at[1])
        labels, _ = nearest_points([xy[0]], [xy[1]], wards, units.region.metric_crs)
        key = geocode.short_unit(commune)
        if labels[0] is not None and labels[0] != key:
            near = wards.loc[labels[0], "ward"]
            named = geocode.ward_frame(units.provinces, drow[1] if drow else at[1])
            km = None
            if key in named.index:
                _, m = nearest_points([xy[0]], [xy[1]], named.loc[[key]],
                                      units.region.metric_crs)
                km = m[0] / 1000
            if km is None or km > 3:
                far = f" ({km:.1f} km from the centre of {commune})" if km is not None else ""
                out.append(Problem(num, "commune", f"the row says {commune} but the point is "
                                   f"nearest to {near}{far}", "warning"))
    return out


def _polygon(num, geom, repair: bool, fmt: str):
    probs = []
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        return geom, probs
    open_rings = unclosed_rings(geom)
    if open_rings and repair:
        geom = {**geom, "coordinates": _close(geom)}
        probs.append(Problem(num, None, "repaired: closed " + "; ".join(open_rings),
                             "warning"))
    if open_rings and not repair:
        return geom, probs          # check_feature reports it, naming the ring
    try:
        g = shape(geom)
    except Exception:
        return geom, probs
    changed = False
    if not g.is_valid:
        if not repair:
            return geom, probs      # reported by check_feature with shapely's reason
        reason = shapely.is_valid_reason(g)
        g = shapely.make_valid(g)
        polys = [p for p in getattr(g, "geoms", [g]) if p.geom_type in ("Polygon",
                                                                        "MultiPolygon")]
        g = shapely.union_all(polys) if polys else g
        probs.append(Problem(num, None, f"repaired: {reason}", "warning"))
        changed = True
    oriented = shapely.orient_polygons(g)
    if not oriented.equals_exact(g, 0):
        if fmt == "geojson" and not repair:
            # RFC 7946 says counter-clockwise: check_feature reports it.
            return (_listify(mapping(g)) if changed else geom), probs
        if fmt == "geojson":
            probs.append(Problem(num, None, "repaired: rings turned to follow the right-hand "
                                 "rule", "warning"))
        g, changed = oriented, True   # other formats have their own ring order: just fix it
    return (_listify(mapping(g)) if changed else geom), probs


def _close(geom):
    def ring(r):
        return r + [r[0]] if isinstance(r, list) and r and r[0] != r[-1] else r
    if geom["type"] == "Polygon":
        return [ring(r) for r in geom["coordinates"]]
    return [[ring(r) for r in p] for p in geom["coordinates"]]


_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")


def _finish(num, kind, props, geom, probs, units: _Units, keep=True):
    fields = KIND_FIELDS[kind]
    for k, v in props.items():
        if isinstance(v, str) and _MARKUP.search(v):
            probs.append(Problem(num, k, "contains HTML markup; it is stored as plain text and "
                                 "shown escaped, never run", "warning"))
    order = {"products": PRODUCT_ORDER, "destinations": DESTINATION_ORDER,
             "districts": DISTRICT_ORDER}[kind]
    props = {k: v for k, v in props.items() if not (v is None and k not in fields)}
    feat = {"type": "Feature", "geometry": geom, "properties": _ordered(props, order)}
    if geom is None and keep:
        probs.append(Problem(num, None, "no coordinates and nothing to geocode"))
    if geom is not None:
        found, _ = check_feature(feat, fields, GEOM_TYPES[kind], units.region)
        for name, reason in found:
            probs.append(Problem(num, name, reason))
    return (feat if keep and geom is not None else None), probs


# -- merging and the whole-dataset check ------------------------------------------------------

def dump_collection(features: list[dict]) -> bytes:
    """The data files' own layout (as scripts/build_points.py writes them)."""
    fc = {"type": "FeatureCollection", "features": features}
    return (json.dumps(fc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def merge(existing: list[dict], new: list[dict], id_field: str, replace: bool) -> list[dict]:
    """New ids added, existing ids replaced (or only the new rows with replace=True)."""
    if replace:
        merged = list(new)
    else:
        by_id = {f["properties"].get(id_field): f for f in existing}
        for f in new:
            by_id[f["properties"][id_field]] = f
        merged = list(by_id.values())
    return sorted(merged, key=lambda f: str(f["properties"].get(id_field)))


def plan_import(data_dir: str | Path, imp: Import, replace: bool = False
                ) -> tuple[dict[str, bytes], list[Problem]]:
    """The new bytes of the data file, checked with the whole dataset; or the problems."""
    data_dir = Path(data_dir)
    if not imp.ok:
        return {}, imp.errors
    rel = KIND_FILE[imp.kind]
    existing = json.loads((data_dir / rel).read_text(encoding="utf-8"))["features"]
    merged = merge(existing, imp.features, ID_FIELD[imp.kind], replace)
    data = dump_collection(merged)
    problems = check_with(data_dir, {rel: data})
    return ({rel: data} if not problems else {}), problems


def check_with(data_dir: Path, changes: dict[str, bytes]) -> list[Problem]:
    """Load the whole dataset with `changes` applied, in a temporary copy."""
    with tempfile.TemporaryDirectory(prefix="ocop-check-") as tmp:
        tmp = Path(tmp)
        for rel in FILES.values():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            if rel in changes:
                (tmp / rel).write_bytes(changes[rel])
            elif (data_dir / rel).is_file():
                shutil.copyfile(data_dir / rel, tmp / rel)
        try:
            load_dataset(tmp)
        except DataError as e:
            return [Problem(None, None, f"the data after the import would be invalid: {p}")
                    for p in e.problems]
    return []


@dataclass
class Outcome:
    imp: Import
    problems: list[Problem]           # everything to report (warnings too)
    version: str | None = None        # the new data version when applied
    previous: str | None = None
    added: int = 0
    replaced: int = 0

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def import_file(data_dir: str | Path, path: str | Path, kind: str | None = None,
                crs: str | None = None, repair: bool = False, replace: bool = False,
                apply: bool = True, progress=None, note: str = "") -> Outcome:
    """Check a file and, when `apply` and there is no error, write it in (all or nothing)."""
    from .store import Store

    data_dir = Path(data_dir)
    imp = read_import(path, data_dir, kind=kind, crs=crs, repair=repair, progress=progress)
    out = Outcome(imp, list(imp.problems))
    if not imp.ok:
        return out
    rel = KIND_FILE[imp.kind]
    store = Store(data_dir)

    def plan():
        changes, problems = plan_import(data_dir, imp, replace=replace)
        existing = {f["properties"].get(ID_FIELD[imp.kind]) for f in json.loads(
            (data_dir / rel).read_text(encoding="utf-8"))["features"]}
        ids = [f["properties"][ID_FIELD[imp.kind]] for f in imp.features]
        out.replaced = sum(i in existing for i in ids)
        out.added = len(ids) - out.replaced
        return changes, problems

    if not apply:
        out.problems.extend(plan()[1])
        return out
    with store.lock():
        changes, problems = plan()      # again under the lock: the data may have changed
        out.problems.extend(problems)
        if problems:
            return out
        out.previous = store.current_version()
        out.version = store.commit(changes, note=note or f"{Path(path).name}: "
                                   f"{out.added} added, {out.replaced} replaced")
    return out

"""Read an official's file of products, destinations or district boundaries, and check it.

Pure code, no Flask: `read_import(path, ...)` returns an `Import` with the file's rows as
GeoJSON features in the schemas of geo/load.py and a report (`problems`): one `Problem` per
row/feature, field and reason, each an error or a warning.  `plan_import(data_dir, imp, ...)`
merges them into the current data and validates the whole result with geo/load.load_dataset
on a temporary copy; it returns the new bytes of the data file to write (geo/store.py writes
them) or more problems.  Nothing here writes into the data directory.

Formats (the content is sniffed; a file whose bytes are not what its extension says is
refused): `.csv` (UTF-8, with or without BOM), `.xlsx` (the sheets whose header row maps, or
`sheet=`), `.geojson`/`.json`,
`.kml`, `.zip` (a zipped shapefile: .shp, .shx, .dbf, .prj, optionally .cpg), `.gpkg` (first
layer), `.fgb` (FlatGeobuf).  Every download of the map (geo/export.py) re-imports unchanged.

Coordinates come, in this order, from the geometry of a GIS file; from a pair of columns
(`lon`/`lat`, `longitude`/`latitude`, `lng`/`lat`, `x`/`y`, `easting`/`northing`); or from the
address: its commune (else district) centroid, geocoded with `vietnamadminunits` (see
geo/geocode.py) and flagged in `location_precision`.  They are in the CRS the file declares
(a GIS file's .prj, GeoPackage SRS, a GeoJSON `crs` member), else in the one given with
`crs=` (`--crs`), else WGS 84 lon/lat; anything else is converted to WGS 84 with pyproj.

The steps, one concern a module; this module runs them (`read_import`) and keeps every name the
CLI, admin page, scripts, bench and tests use importable from `geo.importer`:
  geo/import_report.py    `Import`, `Problem`, the kinds' fields, files and ids
  geo/import_read.py      formats, sniffing, encodings, the CRS of files
  geo/import_columns.py   the column names offices write -> schema fields; the header row
  geo/import_normalise.py values to the schemas (text, ints, stars, categories, links, dates)
  geo/import_place.py     coordinates, districts, communes, 2025 units, location checks, polygons
  geo/import_plan.py      merge, whole-dataset check, commit (`plan_import`, `import_file`)
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

from .import_columns import ColumnMap, map_headers, missing_columns
from .import_place import COORD_PAIRS, _normalise, _Units
from .import_plan import Outcome, check_with, import_file, plan_import
from .import_read import (EXPECTED, FORMAT_NAMES, FORMATS, _read_csv, _read_geojson,
                          _read_gis, _read_xlsx, decode_text, guess_kind, resolve_crs, sniff)
from .import_report import ID_FIELD, KIND_FIELDS, Import, Problem
# read_import reads the size limit from this module, where callers and tests may lower it.
from .load import MAX_FILE_BYTES
from .region import load_region


def read_import(path: str | Path, data_dir: str | Path, kind: str | None = None,
                crs: str | None = None, repair: bool = False,
                progress: Callable[[Iterable, int], Iterable] | None = None,
                sheet: str | None = None) -> Import:
    """Read and check one file; never raises on bad content (it is all in `problems`).
    `sheet`: the Excel sheet to read (default: those whose header row maps)."""
    path, data_dir = Path(path), Path(data_dir)
    imp = Import(path=path)
    ext = "".join(path.suffixes[-2:]).lower() if path.name.lower().endswith(".shp.zip") \
        else path.suffix.lower()
    fmt = FORMATS.get(".zip" if ext == ".shp.zip" else ext)
    if fmt is None:
        imp.problems.append(Problem(None, None, f"unsupported file type {ext or '(none)'!r}; "
                                    "use .csv, .xlsx, .geojson, .kml, .zip (shapefile), "
                                    ".gpkg or .fgb"))
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
    declared, maps, labels = None, [], {}
    if fmt in ("csv", "geojson"):
        text, bad = decode_text(raw)
        if bad:
            imp.problems.append(bad)
            return imp
        if fmt == "csv":
            table, probs, maps = _read_csv(text)
            rows = [(n, vals, None) for n, vals in table]
        else:
            declared, rows, probs = _read_geojson(text)
    elif fmt == "xlsx":
        try:
            table, probs, maps, labels = _read_xlsx(path, sheet)
        except Exception as e:  # openpyxl raises many kinds on damaged workbooks
            table, probs = [], [Problem(None, None, f"cannot be read as Excel (.xlsx): {e}")]
        rows = [(n, vals, None) for n, vals in table]
    else:
        declared, rows, probs = _read_gis(path, fmt)
    if fmt not in ("csv", "xlsx"):
        rows, maps = _map_properties(rows)
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
    columns |= {k for cmap in maps for k in cmap.keys if k}
    gtypes = {g.get("type") for _, _, g in rows if isinstance(g, dict)}
    imp.kind = kind or guess_kind(columns, gtypes)
    if imp.kind not in KIND_FIELDS:
        imp.problems.append(Problem(None, None, f"unknown kind {imp.kind!r}"))
        return imp
    for cmap in maps:
        if fmt in ("csv", "xlsx") or cmap.ignored or any(h != f for h, f in cmap.mapped):
            imp.problems.append(Problem(None, None, cmap.describe(), "note"))
    if maps and not any(cmap.mapped for cmap in maps):
        imp.problems = [p for p in imp.problems if p.row is None]   # no row can be read
        imp.problems.append(Problem(None, None, "no column name was recognised (the header "
                                    "row is " + ", ".join(f"'{h}'" for h in maps[0].headers
                                                          if h) + "); see the accepted names "
                                    "in README.md, \"Maintaining the data\""))
        return imp
    missing = missing_columns(imp.kind, columns, bool(gtypes))
    if missing:
        imp.problems.extend(Problem(None, None, m) for m in missing)
        return imp
    if not rows:
        imp.problems.append(Problem(None, None, "the file has no rows"))
        return imp
    if imp.kind in ("products", "destinations") and "source" not in columns:
        said = "its decision number, else " if "decision" in columns else ""
        imp.problems.append(Problem(None, "source", f"the file has no source column: each "
                                    f"row's source is {said}the file, {path.name!r}, and its row",
                                    "warning"))
        rows = [(n, {**v, "source": v.get("decision") or _row_source(path.name, n, labels)}, g)
                for n, v, g in rows]
    generated = imp.kind in ("products", "destinations") and "id" not in columns
    if generated:
        imp.problems.append(Problem(None, "id", "the file has no id column: each row's id is "
                                    "made from its name and producer (else its address), the "
                                    "same on every import of the same row", "note"))
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
            if fid in seen and generated:
                imp.problems.append(Problem(num, "id", "the same name and producer as "
                                            f"{_where(seen[fid], labels)} (id {fid!r}); give "
                                            "the rows an id column to keep both"))
            elif fid in seen:
                imp.problems.append(Problem(num, ID_FIELD[imp.kind], f"duplicate "
                                            f"{ID_FIELD[imp.kind]} {fid!r}, also "
                                            f"{_where(seen[fid], labels)}"))
            seen.setdefault(fid, num)
        imp.features.append(feat)
        imp.rows.append(num)
    if fmt not in ("csv", "xlsx"):
        imp.problems = [replace(p, unit="feature") for p in imp.problems]
    elif labels:
        imp.problems = [replace(p, row=labels[p.row][1], unit=f"sheet '{labels[p.row][0]}', row")
                        if p.row in labels else p for p in imp.problems]
    return imp


def _where(num: int, labels: dict) -> str:
    return f"sheet '{labels[num][0]}', row {labels[num][1]}" if num in labels else f"row {num}"


def _row_source(name: str, num: int, labels: dict) -> str:
    return f"{name}, {_where(num, labels)}"


def _map_properties(rows: list) -> tuple[list, list[ColumnMap]]:
    """A GIS file's attribute names through the same table as a spreadsheet's headers."""
    names: dict[str, None] = {}
    for _, values, _ in rows:
        names.update(dict.fromkeys(values))
    cmap = map_headers(list(names))
    rename = dict(zip(cmap.headers, cmap.keys))
    return [(n, {rename[k.strip()]: v for k, v in values.items()
                 if rename.get(k.strip())}, g) for n, values, g in rows], ([cmap] if names else [])


# What callers (the CLI, /admin, the data build, tests) use; the steps live in geo/import_*.py.
__all__ = ["Import", "Outcome", "Problem", "check_with", "decode_text", "import_file",
           "plan_import", "read_import", "resolve_crs", "sniff"]

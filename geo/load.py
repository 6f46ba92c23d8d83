"""Load the data files once, validate every feature, and name the data version.

A file that fails validation stops the app at start-up with one line per problem, naming the
file, the feature and the field: the app never serves data it has not checked.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import shape

from .schema import Checks, validators
from .region import FILE as REGION_FILE, Region, RegionError, load_region

# Relative paths inside the data directory; their bytes define the data version.
FILES = {
    "region": REGION_FILE,
    "districts": "boundaries/districts.geojson",
    "communes": "boundaries/communes_2025.geojson",
    "products": "products.geojson",
    "destinations": "destinations.geojson",
}

# The geojson collections among FILES (region.json is read by geo/region.py).
COLLECTIONS = ("districts", "communes", "products", "destinations")
MAX_FILE_BYTES = 50 * 1024 * 1024         # a file an official imports or uploads
# A data file the app serves: the importer writes it, merging many imports, so it may grow past
# one upload (100,000 products are about 60 MiB); the cap only stops a runaway file.
MAX_DATA_FILE_BYTES = 512 * 1024 * 1024


class DataError(ValueError):
    """Raised with every problem found; str() is a readable report, one problem a line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("data is invalid:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Dataset:
    version: str
    region: Region
    districts: gpd.GeoDataFrame
    communes: gpd.GeoDataFrame
    products: gpd.GeoDataFrame
    destinations: gpd.GeoDataFrame
    data_dir: Path


# The checks of each collection's fields come from the one schema (geo/schema.py).
DISTRICT_FIELDS = validators("districts")
COMMUNE_FIELDS = validators("communes")
PRODUCT_FIELDS = validators("products")
DESTINATION_FIELDS = validators("destinations")


def _read_collection(path: Path, label: str, problems: list[str]) -> list[dict] | None:
    if not path.is_file():
        problems.append(f"{label}: file is missing")
        return None
    raw = path.read_bytes()
    if len(raw) > MAX_DATA_FILE_BYTES:
        problems.append(f"{label}: file is larger than {MAX_DATA_FILE_BYTES // 2**20} MiB")
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        problems.append(f"{label}: not UTF-8 text (byte {e.start})")
        return None
    except json.JSONDecodeError as e:
        problems.append(f"{label}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})")
        return None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" \
            or not isinstance(doc.get("features"), list):
        problems.append(f"{label}: not a GeoJSON FeatureCollection with a features list")
        return None
    if "crs" in doc:
        problems.append(f"{label}: has a 'crs' member; RFC 7946 GeoJSON is WGS 84 lon/lat only")
    return doc["features"]


def _in_extent(geom, extent) -> bool:
    x0, y0, x1, y1 = geom.bounds
    return extent[0] <= x0 and x1 <= extent[2] and extent[1] <= y0 and y1 <= extent[3]


def check_feature(feat: Any, fields: Checks, geom_types: tuple[str, ...], region: Region,
                  ) -> tuple[list[tuple[str | None, str]], Any]:
    """Check one GeoJSON feature against a schema: ([(field or None, reason)], geometry).

    The reason reads after the field name ("field 'stars' is 7; expected one of 3, 4, 5");
    with no field it is a whole sentence about the feature or its geometry.  The geometry is
    None when it is unusable.  The loader and the importer (geo/importer.py) both use this.
    """
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        return [(None, "not a GeoJSON Feature")], None
    props = feat.get("properties")
    if not isinstance(props, dict):
        return [(None, "has no properties object")], None
    found: list[tuple[str | None, str]] = []
    for name, check in fields.items():
        if name not in props:
            if name not in fields.optional:
                found.append((name, "is missing"))
            continue
        reason = check(props[name])
        if reason:
            found.append((name, reason))
    geom, reason = check_geometry(feat.get("geometry"), geom_types, region)
    if reason:
        found.append((None, reason))
    return found, geom


def _check_features(features: list, label: str, fields: dict, geom_types: tuple[str, ...],
                    region: Region, id_field: str, problems: list[str]) -> list[dict]:
    """Check each feature; return the good ones as flat records (properties + geometry)."""
    records, seen = [], {}
    for i, feat in enumerate(features, start=1):
        where = f"{label}: feature {i}"
        found, geom = check_feature(feat, fields, geom_types, region)
        props = feat.get("properties") if isinstance(feat, dict) else None
        fid = props.get(id_field) if isinstance(props, dict) else None
        if isinstance(fid, str):
            where = f"{label}: feature {i} ({id_field} {fid!r})"
        for field_name, reason in found:
            problems.append(f"{where}: field '{field_name}' {reason}" if field_name
                            else f"{where}: {reason}")
        bad = bool(found) or geom is None
        if isinstance(fid, str):
            if fid in seen:
                problems.append(f"{where}: duplicate {id_field}, also feature {seen[fid]}")
                bad = True
            seen.setdefault(fid, i)
        if not bad:
            records.append({**{k: props.get(k) for k in fields}, **_extra(props, fields),
                            "geometry": geom})
    return records


def _extra(props: dict, fields: dict) -> dict:
    return {k: v for k, v in props.items() if k not in fields}


def unclosed_rings(g: Any) -> list[str]:
    """Where a GeoJSON (Multi)Polygon has a ring whose last position is not its first."""
    t, coords = g.get("type"), g.get("coordinates")
    polys = [coords] if t == "Polygon" else (coords if t == "MultiPolygon" else [])
    out = []
    for p, rings in enumerate(polys if isinstance(polys, list) else [], start=1):
        for r, ring in enumerate(rings if isinstance(rings, list) else [], start=1):
            if isinstance(ring, list) and len(ring) >= 2 and ring[0] != ring[-1]:
                where = f"ring {r}" + (f" of polygon {p}" if t == "MultiPolygon" else "")
                out.append(f"{where} is not closed: it starts at {ring[0]} and ends at "
                           f"{ring[-1]}")
    return out


def check_geometry(g, types, region: Region) -> tuple[Any, str | None]:
    """(shapely geometry, None) when usable, else (None, the reason)."""
    extent = region.extent
    if not isinstance(g, dict) or g.get("type") not in types:
        return None, f"geometry must be {' or '.join(types)}"
    open_rings = unclosed_rings(g)
    if open_rings:
        return None, "invalid geometry: " + "; ".join(open_rings)
    try:
        geom = shape(g)
    except Exception as e:  # shapely's messages for malformed coordinates vary by type
        return None, f"geometry cannot be read ({e})"
    if geom.is_empty:
        return None, "geometry is empty"
    x0, y0, x1, y1 = geom.bounds
    in_range = -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
    if not in_range or not _in_extent(geom, extent):
        swapped = _in_extent(shapely.transform(geom, lambda c: c[:, ::-1]), extent)
        hint = "; latitude and longitude are swapped (GeoJSON is [lon, lat])" if swapped else ""
        what = "coordinates out of range" if not in_range else f"lies outside {region.label('vi')} {list(extent)}"
        return None, f"{what}{hint}"
    if not geom.is_valid:
        return None, f"invalid geometry: {shapely.is_valid_reason(geom)}"
    if geom.geom_type != "Point" and not shapely.orient_polygons(geom).equals_exact(geom, 0):
        return None, "rings do not follow the right-hand rule (RFC 7946)"
    return geom, None


def data_version(data_dir: Path) -> str:
    """A short hash of every data file's bytes: caches and ETags key on it."""
    h = hashlib.sha256()
    for rel in sorted(FILES.values()):
        p = data_dir / rel
        h.update(rel.encode())
        h.update(p.read_bytes() if p.is_file() else b"<missing>")
    return h.hexdigest()[:12]


def _frame(records: list[dict], index: str, fields: dict) -> gpd.GeoDataFrame:
    if not records:     # an empty collection still has its columns
        return gpd.GeoDataFrame({k: [] for k in fields}, geometry=gpd.GeoSeries([]),
                                crs="EPSG:4326")
    gdf = gpd.GeoDataFrame(records, geometry="geometry", crs="EPSG:4326")
    return gdf.set_index(index, drop=False).rename_axis(None)


def load_dataset(data_dir: str | Path) -> Dataset:
    """Read and validate all files; raise DataError listing every problem found."""
    data_dir = Path(data_dir)
    version = data_version(data_dir)
    problems: list[str] = []
    try:
        region = load_region(data_dir)
    except RegionError as e:
        raise DataError([str(e)]) from e
    raw = {key: _read_collection(data_dir / FILES[key], f"data/{FILES[key]}", problems)
           for key in COLLECTIONS}

    def check(key, fields, types, id_field):
        if raw[key] is None:
            return []
        return _check_features(raw[key], f"data/{FILES[key]}", fields, types, region,
                               id_field, problems)

    districts = check("districts", DISTRICT_FIELDS, ("Polygon", "MultiPolygon"), "code")
    communes = check("communes", COMMUNE_FIELDS, ("Point",), "code")
    products = check("products", PRODUCT_FIELDS, ("Point",), "id")
    destinations = check("destinations", DESTINATION_FIELDS, ("Point",), "id")

    for key, want in (("districts", region.former_districts),
                      ("communes", region.units_2025)):
        if raw[key] is not None and len(raw[key]) != want:
            problems.append(f"data/{FILES[key]}: has {len(raw[key])} units; "
                            f"data/{REGION_FILE} says {region.label('vi')} has {want}")
    codes = {d["code"] for d in districts}
    codes_2025 = {c["code"] for c in communes}
    for key, recs in (("products", products), ("destinations", destinations)):
        for r in recs:
            if codes and r["district_code"] not in codes:
                problems.append(f"data/{FILES[key]}: id {r['id']!r}: field 'district_code' "
                                f"{r['district_code']!r} is not a known district code")
            c25 = r.get("commune_2025_code")
            if codes_2025 and c25 is not None and c25 not in codes_2025:
                problems.append(f"data/{FILES[key]}: id {r['id']!r}: field "
                                f"'commune_2025_code' {c25!r} is not one of the "
                                f"{region.units_2025} units of 2025")
    if problems:
        raise DataError(problems)
    for r in products:
        r["links"] = r.get("links") or []
    return Dataset(version=version, region=region,
                   districts=_frame(districts, "code", DISTRICT_FIELDS),
                   communes=_frame(communes, "code", COMMUNE_FIELDS),
                   products=_frame(products, "id", PRODUCT_FIELDS),
                   destinations=_frame(destinations, "id", DESTINATION_FIELDS),
                   data_dir=data_dir)

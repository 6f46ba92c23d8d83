"""Build the point layers of the Hải Phòng OCOP / tourism map.

Reads the hand-curated tables

    data/sources/products.csv       OCOP-certified products
    data/sources/destinations.csv   tourist destinations

and writes RFC 7946 GeoJSON FeatureCollections

    data/products.geojson
    data/destinations.geojson

Run from the repository root, with the requirements installed
(``vietnamadminunits``)::

    python scripts/build_points.py

Products are geocoded from their legacy (pre-July-2025) address with
``vietnamadminunits``: the centroid of the commune/ward when the source names
one that is found in the legacy table (``location_precision = "commune"``),
otherwise the centroid of the district (``"district"``).  Destinations carry
their coordinates in the CSV (``lon``/``lat`` + ``location_precision``); an
empty coordinate is filled the same way as for products.

The script exits with a non-zero status and a message naming the row and the
column on: an unknown category or kind, a star rating not in {3, 4, 5}, a
duplicate id, an unknown district, or a coordinate outside
lon 106.3–107.9 / lat 20.0–21.1.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo import geocode  # noqa: E402  (the shared geocoder; needs vietnamadminunits)
from geo.geocode import norm  # noqa: E402

SRC = ROOT / "data" / "sources"
OUT = ROOT / "data"

CATEGORIES = {"food", "beverages", "herbal", "textiles", "souvenirs", "tourism"}
KINDS = {"beach", "island", "nature", "religious", "heritage", "museum",
         "landmark", "craft_village"}
STARS = {3, 4, 5}
PRECISIONS = {"exact", "commune", "district"}
LON_RANGE = (106.3, 107.9)
LAT_RANGE = (20.0, 21.1)

PRODUCT_COLUMNS = ["id", "name", "name_en", "producer", "category", "stars",
                   "commune", "district", "address", "certified_year", "links",
                   "description", "description_en", "source"]
DESTINATION_COLUMNS = ["id", "name", "name_en", "kind", "commune", "district",
                       "address", "lon", "lat", "location_precision",
                       "description", "description_en", "source"]


class BuildError(Exception):
    pass


def fail(table: str, rownum: int, row_id: str, column: str, message: str):
    raise BuildError(f"{table} row {rownum} (id={row_id!r}), column "
                     f"'{column}': {message}")


def load_districts() -> dict[str, dict]:
    return geocode.load_districts()


def load_wards() -> dict[tuple[str, str], dict]:
    return geocode.load_wards()


def read_csv(path: Path, columns: list[str]) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != columns:
            raise BuildError(f"{path.name}: header must be exactly "
                             f"{','.join(columns)} (got {reader.fieldnames})")
        return [{k: (v or "").strip() for k, v in row.items()}
                for row in reader]


def check_coord(table, rownum, row_id, lon, lat):
    if not (LON_RANGE[0] <= lon <= LON_RANGE[1]):
        fail(table, rownum, row_id, "lon",
             f"{lon} outside {LON_RANGE[0]}–{LON_RANGE[1]}")
    if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1]):
        fail(table, rownum, row_id, "lat",
             f"{lat} outside {LAT_RANGE[0]}–{LAT_RANGE[1]}")


def locate(table, rownum, row, districts, wards):
    """Return (district_record, commune_code, lon, lat, precision)."""
    drec = districts.get(norm(row["district"]))
    if drec is None:
        fail(table, rownum, row["id"], "district",
             f"unknown district {row['district']!r} (legacy Hải Phòng)")
    found = geocode.locate(drec, row["commune"], row["address"], wards)
    if found.warning:
        print(f"warning: {table} {row['id']}: {found.warning}", file=sys.stderr)
    return drec, found.commune_code, found.lon, found.lat, found.precision


commune_2025 = geocode.commune_2025


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def build_products(districts, wards) -> list[dict]:
    table = "products.csv"
    rows = read_csv(SRC / table, PRODUCT_COLUMNS)
    seen, feats = set(), []
    for i, row in enumerate(rows, start=2):
        rid = row["id"]
        if not rid:
            fail(table, i, rid, "id", "empty id")
        if rid in seen:
            fail(table, i, rid, "id", "duplicate id")
        seen.add(rid)
        if row["category"] not in CATEGORIES:
            fail(table, i, rid, "category",
                 f"unknown category {row['category']!r}")
        try:
            stars = int(row["stars"])
        except ValueError:
            fail(table, i, rid, "stars", f"not an integer: {row['stars']!r}")
        if stars not in STARS:
            fail(table, i, rid, "stars", f"{stars} not in {{3,4,5}}")
        year = None
        if row["certified_year"]:
            try:
                year = int(row["certified_year"])
            except ValueError:
                fail(table, i, rid, "certified_year",
                     f"not an integer: {row['certified_year']!r}")
        drec, ccode, lon, lat, prec = locate(table, i, row, districts, wards)
        check_coord(table, i, rid, lon, lat)
        c25, c25code = commune_2025(row["address"])
        links = [u.strip() for u in row["links"].split("|") if u.strip()]
        feats.append({
            "type": "Feature",
            "geometry": point(lon, lat),
            "properties": {
                "id": rid,
                "name": row["name"],
                "name_en": row["name_en"],
                "producer": row["producer"] or None,
                "category": row["category"],
                "stars": stars,
                "district_code": drec["districtCode"],
                "district": drec["districtShort"],
                "commune": row["commune"] or None,
                "commune_code": ccode,
                "commune_2025": c25,
                "commune_2025_code": c25code,
                "address": row["address"],
                "certified_year": year,
                "links": links,
                "description": row["description"] or None,
                "description_en": row["description_en"] or None,
                "source": row["source"],
                "location_precision": prec,
            },
        })
    return sorted(feats, key=lambda f: f["properties"]["id"])


def build_destinations(districts, wards) -> list[dict]:
    table = "destinations.csv"
    rows = read_csv(SRC / table, DESTINATION_COLUMNS)
    seen, feats = set(), []
    for i, row in enumerate(rows, start=2):
        rid = row["id"]
        if not rid:
            fail(table, i, rid, "id", "empty id")
        if rid in seen:
            fail(table, i, rid, "id", "duplicate id")
        seen.add(rid)
        if row["kind"] not in KINDS:
            fail(table, i, rid, "kind", f"unknown kind {row['kind']!r}")
        dkey = norm(row["district"])
        if dkey not in districts:
            fail(table, i, rid, "district",
                 f"unknown district {row['district']!r} (legacy Hải Phòng)")
        drec = districts[dkey]
        if row["lon"] and row["lat"]:
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except ValueError:
                fail(table, i, rid, "lon", "lon/lat must be decimal degrees")
            prec = row["location_precision"]
            if prec not in PRECISIONS:
                fail(table, i, rid, "location_precision",
                     f"unknown precision {prec!r}")
        else:
            _, _, lon, lat, prec = locate(table, i, row, districts, wards)
        check_coord(table, i, rid, lon, lat)
        feats.append({
            "type": "Feature",
            "geometry": point(lon, lat),
            "properties": {
                "id": rid,
                "name": row["name"],
                "name_en": row["name_en"],
                "kind": row["kind"],
                "district_code": drec["districtCode"],
                "district": drec["districtShort"],
                "commune": row["commune"],
                "address": row["address"],
                "description": row["description"],
                "description_en": row["description_en"],
                "source": row["source"],
                "location_precision": prec,
            },
        })
    return sorted(feats, key=lambda f: f["properties"]["id"])


def write(path: Path, feats: list[dict]):
    fc = {"type": "FeatureCollection", "features": feats}
    with path.open("w", encoding="utf-8") as fh:
        json.dump(fc, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(feats)} features)")


def main() -> int:
    try:
        districts = load_districts()
        wards = load_wards()
        products = build_products(districts, wards)
        destinations = build_destinations(districts, wards)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write(OUT / "products.geojson", products)
    write(OUT / "destinations.geojson", destinations)
    return 0


if __name__ == "__main__":
    sys.exit(main())

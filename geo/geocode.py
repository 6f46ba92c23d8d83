"""Geocode an address of the region to its commune (or district) centroid with
`vietnamadminunits`.

Pure code used by the importer (geo/importer.py), through which every data build goes: the
same address always gives the same point and the same `location_precision`.  The provinces
searched are the region's provinces before July 2025 (data/region.json), passed in as a tuple
of short names such as ("Hải Phòng", "Hải Dương").

* `commune`: the centroid of the commune/ward the source names, when it is found in the
  legacy (pre-July-2025) table; a commune that was only re-typed ("Xã Nam Sơn" -> "Phường
  Nam Sơn") still matches.
* `district`: the centroid of the district otherwise.

The library is imported lazily, so the app pays for it only when something is geocoded.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache

UNIT_TYPES = ("thị trấn ", "phường ", "xã ")


def norm(text: str | None) -> str:
    """Lower-case, NFC, collapse spaces – for name comparison."""
    if not text:
        return ""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


def short_unit(text: str | None) -> str:
    """Name without its unit type, so that a commune that was only re-typed
    (e.g. "Xã Nam Sơn" -> "Phường Nam Sơn" when An Dương became an urban
    district) still matches."""
    name = norm(text)
    for prefix in UNIT_TYPES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


DISTRICT_TYPES = ("quận ", "huyện ", "thành phố ", "thị xã ")


def short_district(text: str | None) -> str:
    name = norm(text)
    for prefix in DISTRICT_TYPES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _in(provinces: tuple[str, ...]) -> str:
    """An SQL list of the names (the library's query() takes no parameters: quote them)."""
    return ",".join("'" + p.replace("'", "''") + "'" for p in provinces)


@lru_cache(maxsize=8)
def load_districts(provinces: tuple[str, ...]) -> dict[str, dict]:
    """Legacy (pre-July-2025) districts of the provinces, keyed by normalised short name."""
    from vietnamadminunits.database.main import query

    rows = query(
        "select distinct provinceShort, district, districtShort, districtCode, districtLat, "
        f"districtLon from admin_units_legacy where provinceShort in ({_in(provinces)})")
    return {norm(r["districtShort"]): r for r in rows}


@lru_cache(maxsize=8)
def load_wards(provinces: tuple[str, ...]) -> dict[tuple[str, str], dict]:
    """Legacy communes keyed by (district short name, commune short name)."""
    from vietnamadminunits.database.main import query

    rows = query(
        "select districtShort, ward, wardCode, wardLat, wardLon from admin_units_legacy "
        f"where provinceShort in ({_in(provinces)}) and ward is not null")
    return {(norm(r["districtShort"]), short_unit(r["ward"])): r for r in rows}


def has_communes(provinces: tuple[str, ...], district_short: str) -> bool:
    """Whether the legacy table lists communes in the district (Bạch Long Vĩ has none: the
    island district was one unit, now the special zone of the same name)."""
    return any(d == norm(district_short) for d, _ in load_wards(provinces))


def find_district(name: str | None, provinces: tuple[str, ...]) -> dict | None:
    """The legacy district record for a name such as "Kiến Thụy" or "Huyện Kiến Thụy"."""
    districts = load_districts(provinces)
    return districts.get(norm(name)) or districts.get(short_district(name))


@dataclass(frozen=True)
class Located:
    district: dict              # legacy district record (districtCode, districtShort, ...)
    commune_code: str | None
    lon: float
    lat: float
    precision: str              # "commune" | "district"
    warning: str | None = None  # why a named commune was not used
    commune_name: str | None = None   # the legacy commune the point is the centroid of


MOVED_MAX_M = 5000


def load_merged(path) -> dict[tuple[str, str], str]:
    """Communes merged between 2019 and early 2025, from a curated CSV (commune, district,
    successor, ..., source): (district short name, commune short name) -> successor."""
    import csv
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        return {(norm(r["district"]), short_unit(r["commune"])): r["successor"]
                for r in csv.DictReader(f) if r.get("successor")}


def locate(district: dict, commune: str | None, provinces: tuple[str, ...],
           metres_from_district=None, merged: dict | None = None) -> Located:
    """The point for a record in `district` naming `commune` (may be empty).

    The commune's centroid when the legacy table has it in that district.  When the table
    files it under another district of the region only (a border moved between 2019 and
    2025: Gia Xuyên went from Gia Lộc to the city of Hải Dương), that one with a warning,
    provided its centroid is within MOVED_MAX_M of the named district
    (`metres_from_district(lon, lat)`): a namesake far away is another commune.  Else the
    district's centroid, with a warning.
    """
    wards = load_wards(provinces)
    centre = Located(district, None, district["districtLon"], district["districtLat"],
                     "district")
    if not commune:
        return centre
    key = short_unit(commune)
    wrec = wards.get((norm(district["districtShort"]), key))
    if wrec is not None and wrec["wardLon"] is not None:
        return Located(district, wrec["wardCode"], wrec["wardLon"], wrec["wardLat"], "commune",
                       commune_name=wrec["ward"])
    successor = (merged or {}).get((norm(district["districtShort"]), key))
    srec = wards.get((norm(district["districtShort"]), short_unit(successor))) if successor \
        else None
    if srec is not None and srec["wardLon"] is not None:
        # Merged before 2025 into a commune the table knows: its centroid (the old commune
        # lies inside it), said in a warning.
        return Located(district, srec["wardCode"], srec["wardLon"], srec["wardLat"], "commune",
                       f"commune {commune!r} was merged into {successor}; placed at its "
                       "centroid", commune_name=srec["ward"])
    elsewhere = [(d, r) for (d, k), r in wards.items() if k == key and r["wardLon"] is not None
                 and metres_from_district is not None
                 and metres_from_district(r["wardLon"], r["wardLat"]) <= MOVED_MAX_M]
    if len(elsewhere) == 1:
        d, r = elsewhere[0]
        return Located(district, r["wardCode"], r["wardLon"], r["wardLat"], "commune",
                       f"commune {commune!r} is filed under {d.title()} "
                       f"in the legacy table, not {district['districtShort']}; placed there",
                       commune_name=r["ward"])
    return replace(centre, warning=f"commune {commune!r} not found in "
                   f"{district['districtShort']} in the legacy table; using the district's "
                   "centroid")


@lru_cache(maxsize=8)
def load_units_2025(province: str) -> dict[str, dict]:
    """The province's units from 1 July 2025, keyed by short name."""
    from vietnamadminunits.database.main import query

    rows = query("select ward, wardShort, wardCode, wardLat, wardLon from admin_units "
                 f"where provinceShort in ({_in((province,))})")
    return {norm(r["wardShort"]): r for r in rows}


def find_2025(name: str | None, province: str) -> dict | None:
    """A 2025 unit by name ("Xã Kiến Hải", "Kiến Hải", "Đặc khu Cát Hải")."""
    if not name:
        return None
    n = norm(name)
    for prefix in ("đặc khu ",) + UNIT_TYPES:
        n = n.removeprefix(prefix)
    return load_units_2025(province).get(n)


def commune_2025(address: str | None, province: str | None = None
                 ) -> tuple[str | None, str | None]:
    """(name, code) of the post-July-2025 commune an old address now belongs to; None when
    it falls in another province than `province` (the region's, when given)."""
    if not address:
        return None, None
    from vietnamadminunits import convert_address

    try:
        new = convert_address(address)
    except Exception:
        return None, None
    if province and getattr(new, "short_province", None) != province:
        return None, None
    return (getattr(new, "ward", None) or None,
            getattr(new, "ward_code", None) or None)


@lru_cache(maxsize=64)
def ward_frame(provinces: tuple[str, ...], district_short: str):
    """The legacy communes of one district as a GeoDataFrame of centroids (for
    geo/spatial.nearest_points), indexed by their short name.  Built once per district (an
    import asks for each row with coordinates and a commune); callers only read it."""
    import geopandas as gpd

    recs = [r for (dkey, _), r in load_wards(provinces).items()
            if dkey == norm(district_short) and r["wardLon"] is not None]
    return gpd.GeoDataFrame(
        {"ward": [r["ward"] for r in recs]},
        geometry=gpd.points_from_xy([r["wardLon"] for r in recs],
                                    [r["wardLat"] for r in recs]),
        crs="EPSG:4326", index=[short_unit(r["ward"]) for r in recs])


def _parse(address: str, mode_name: str, level: int):
    from vietnamadminunits import ParseMode, parse_address

    try:
        return parse_address(address, mode=getattr(ParseMode, mode_name), level=level)
    except Exception:       # the parser raises on text it cannot read: nothing found
        return None


@lru_cache(maxsize=4096)
def parse_legacy(address: str | None, provinces: tuple[str, ...]) -> dict | None:
    """The legacy (pre-July-2025) district and commune an address names, in the region:
    {"district", "district_code", "ward", "ward_code"} ("ward" None when only the district is
    found); None when nothing of the region is found.  An address without its province is
    read as in each of the region's provinces in turn."""
    if not address:
        return None
    best = None
    for text in (address, *(f"{address}, {p}" for p in provinces)):
        unit = _parse(text, "LEGACY", 3)
        if unit is None or getattr(unit, "short_province", None) not in provinces \
                or not getattr(unit, "district_code", None):
            continue
        found = {"district": unit.district, "district_code": unit.district_code,
                 "ward": getattr(unit, "ward", None) or None,
                 "ward_code": getattr(unit, "ward_code", None) or None}
        if found["ward"] and _named(found["ward"], address):
            return found
        best = best or {**found, "ward": None, "ward_code": None}
    return best


def _named(unit_name: str, address: str, typed: bool = False) -> bool:
    """Whether the address names the unit itself (its short name as words of the text; with
    `typed`, after a commune's type: "xã", "phường", "thị trấn", "đặc khu"), not something the
    parser guessed from a namesake ("Huyện Kiến Thụy" does not name "Xã Kiến Thụy")."""
    from .text import fold

    short = fold(short_unit(unit_name).removeprefix("đặc khu "))
    text = " " + " ".join(fold(address).replace(",", " , ").split()) + " "
    if not typed:
        return f" {short} " in text
    return any(f" {fold(t.strip())} {short} " in text
               for t in UNIT_TYPES + ("đặc khu ", "tt ", "p ", "x "))


def find_2025_in(address: str | None, province: str) -> dict | None:
    """The 2025 unit an address written in the 2025 units names ("Xã Thanh Hà", "Phường
    Thủy Nguyên, Hải Phòng"), only when the address names it itself; else None."""
    if not address:
        return None
    unit = find_2025(address.split(",")[0], province)
    if unit is not None and (_named(unit["ward"], address, True)
                             or norm(address.split(",")[0]) == norm(unit["wardShort"])):
        return unit
    parsed = _parse(f"{address}, {province}", "FROM_2025", 2)
    if parsed is None or getattr(parsed, "short_province", None) != province \
            or not getattr(parsed, "ward", None) or not _named(parsed.ward, address, True):
        return None
    return find_2025(parsed.ward, province)

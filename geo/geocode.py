"""Geocode a Hải Phòng address to its commune (or district) centroid with `vietnamadminunits`.

Pure code shared by scripts/build_points.py and the importer (geo/importer.py): the same
address always gives the same point and the same `location_precision`.

* `commune`: the centroid of the commune/ward the source names, when it is found in the
  legacy (pre-July-2025) table; a commune that was only re-typed ("Xã Nam Sơn" -> "Phường
  Nam Sơn") still matches.
* `district`: the centroid of the district otherwise.

The library is imported lazily, so the app pays for it only when something is geocoded.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
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


@lru_cache(maxsize=1)
def load_districts() -> dict[str, dict]:
    """Legacy Hải Phòng districts keyed by normalised short name."""
    from vietnamadminunits.database.main import query

    rows = query(
        "select distinct districtShort, districtCode, districtLat, districtLon "
        "from admin_units_legacy where provinceShort='Hải Phòng'")
    return {norm(r["districtShort"]): r for r in rows}


@lru_cache(maxsize=1)
def load_wards() -> dict[tuple[str, str], dict]:
    """Legacy Hải Phòng communes keyed by (district short name, commune short name)."""
    from vietnamadminunits.database.main import query

    rows = query(
        "select districtShort, ward, wardCode, wardLat, wardLon "
        "from admin_units_legacy where provinceShort='Hải Phòng' "
        "and ward is not null")
    return {(norm(r["districtShort"]), short_unit(r["ward"])): r for r in rows}


def find_district(name: str | None, districts: dict[str, dict] | None = None) -> dict | None:
    """The legacy district record for a name such as "Kiến Thụy" or "Huyện Kiến Thụy"."""
    districts = load_districts() if districts is None else districts
    return districts.get(norm(name)) or districts.get(short_district(name))


@dataclass(frozen=True)
class Located:
    district: dict              # legacy district record (districtCode, districtShort, ...)
    commune_code: str | None
    lon: float
    lat: float
    precision: str              # "commune" | "district"
    warning: str | None = None  # why a named commune was not used


def locate(district: dict, commune: str | None, address: str | None,
           wards: dict | None = None) -> Located:
    """The point for a record in `district` naming `commune` (may be empty) at `address`."""
    from vietnamadminunits import ParseMode, parse_address

    wards = load_wards() if wards is None else wards
    dkey = norm(district["districtShort"])
    if commune:
        address = address or f"{commune}, {district['districtShort']}, Hải Phòng"
        warning = None
        try:
            unit = parse_address(address, mode=ParseMode.LEGACY, level=3)
        except Exception as exc:  # the library raises on unparsable input
            unit = None
            warning = f"parse_address failed ({exc}); using district centroid"
        wrec = wards.get((dkey, short_unit(commune)))
        if (unit is not None and unit.ward and wrec is not None
                and short_unit(unit.ward) == short_unit(commune)
                and unit.district_code == district["districtCode"]):
            return Located(district, unit.ward_code, unit.longitude, unit.latitude, "commune")
        if warning is None:
            warning = (f"commune {commune!r} not found as such in the legacy table (parsed: "
                       f"{getattr(unit, 'ward', None)!r}); using district centroid")
        return Located(district, None, district["districtLon"], district["districtLat"],
                       "district", warning)
    return Located(district, None, district["districtLon"], district["districtLat"], "district")


def commune_2025(address: str | None) -> tuple[str | None, str | None]:
    """(name, code) of the post-July-2025 commune an old address now belongs to."""
    if not address:
        return None, None
    from vietnamadminunits import convert_address

    try:
        new = convert_address(address)
    except Exception:
        return None, None
    return (getattr(new, "ward", None) or None,
            getattr(new, "ward_code", None) or None)


def nearest_ward(lon: float, lat: float, district_short: str | None = None) -> dict | None:
    """The legacy commune whose centroid is nearest to a point (optionally within a district)."""
    best, best_d = None, None
    for (dkey, _), rec in load_wards().items():
        if district_short and dkey != norm(district_short):
            continue
        if rec["wardLon"] is None or rec["wardLat"] is None:
            continue
        d = (rec["wardLon"] - lon) ** 2 + (rec["wardLat"] - lat) ** 2
        if best_d is None or d < best_d:
            best, best_d = rec, d
    return best

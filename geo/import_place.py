"""Placing a row: its point (a GIS geometry, a pair of coordinate columns, or the address
geocoded to its commune or district centroid and spread so producers never share a point), its
former district and commune, its 2025 unit, checks that the point lies where the row says, and
the repair of district polygons.

Every spatial question goes through `_Units` (geo/spatial.Places, metric): the engine the loader
uses, so an import and the load that follows agree on where a point is.
"""
from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape

from . import geocode
from .import_normalise import _finish, _props, _text, make_id
from .import_read import _listify, transform_geometry
from .import_report import Import, Problem
from .load import FILES, unclosed_rings
from .placement import spread
from .region import Region, load_region
from .spatial import NEAREST_MAX_M, Places, nearest_points
from .text import fold


COORD_PAIRS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("x", "y"),
               ("easting", "northing"))


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


def _normalise(imp: Import, num: int, values: dict, geom: Any, pair, transformer,
               units: _Units, repair: bool, fmt: str):
    kind, probs = imp.kind, []
    props = _props(kind, values)
    if kind != "districts" and not props.get("id"):
        # No id column (an office's own list): a stable id from the row's name and producer.
        props["id"] = make_id({**props, "district": _text(values.get("district"))})
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
    address = props.get("address")
    # The legacy district and commune the address names (read in the region's provinces).
    parsed = geocode.parse_legacy(address, units.provinces) if address and geom is None \
        else None
    from_address = False
    if drow is None and address:
        drow = (units.find(parsed["district_code"], parsed["district"]) if parsed
                else _district_from_address(address, units))
        from_address = drow is not None
    unit25 = legacy_commune = from25 = None
    named = props.get("commune")
    if geom is None and not named and parsed and parsed["ward"] and drow is not None \
            and parsed["district_code"] == drow[0]:
        named = parsed["ward"]          # the commune the address names
    if geom is None and drow is None:
        # Nothing of the units before 2025: a commune or an address in the 2025 units.
        unit25, from25 = _unit_2025(props.get("commune"), address, region)
        if unit25 is None:
            said = "; ".join(f"{k} {v!r}" for k, v in (("commune", props.get("commune")),
                                                       ("address", address)) if v)
            probs.append(Problem(num, "district", (
                f"no coordinates, and the {said} names no commune or district of "
                f"{region.label('vi')} (before or after 1 July 2025) to place the row by"
                if said else "no coordinates and no district or address to place the row by")))
            return _finish(num, kind, props, None, probs, units, keep=False)
        lon, lat = spread(unit25["wardLon"], unit25["wardLat"],
                          props.get("producer") or props.get("name") or "")
        geom = {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
        props["location_precision"] = "commune"
        if not address:
            props["address"] = f"{unit25['ward']}, {region.province.full_name}"
    elif geom is None:
        legacy = geocode.find_district(drow[1], units.provinces)
        if legacy is None:
            probs.append(Problem(num, "district", f"{drow[1]!r} is not in the address table"))
            return _finish(num, kind, props, None, probs, units, keep=False)
        if not props.get("address"):
            # The sheet gave a commune and a district, not an address: write it out.
            props["address"] = ", ".join(p for p in (
                props.get("commune"), legacy["district"], _province_full(legacy, region)) if p)
        found = geocode.locate(legacy, named, units.provinces,
                               partial(units.metres_from, drow[0]), units.merged)
        if found.precision == "district":
            # A commune named in the units of 2025 (sources after 1 July 2025 use them).
            unit25, from25 = _unit_2025(props.get("commune"), address, region)
        if unit25 is None and found.precision == "district" and not named and \
                not geocode.has_communes(units.provinces, legacy["districtShort"]):
            # A district without communes (an island): the 2025 unit of its name is the same
            # ground, a commune-level unit.
            unit25 = geocode.find_2025(legacy["districtShort"], region.province.name)
            from25 = "address" if unit25 is not None else None
        if unit25 is not None:
            found = replace(found, lon=unit25["wardLon"], lat=unit25["wardLat"],
                            precision="commune", warning=None)
            if from_address and not _text(values.get("district")):
                drow = None     # the district read from a 2025 address: where the unit lies
        if found.precision == "district" and not found.warning:
            found = replace(found, warning=(
                f"the address {address!r} names no commune found in {legacy['district']}"
                if address and values.get("address") else "no commune given")
                + "; placed at the district's centroid")
        if found.warning:
            probs.append(Problem(num, "commune", found.warning, "warning"))
        if found.commune_name and not props.get("commune"):
            props["commune"] = found.commune_name      # the former commune, from the address
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
        legacy = geocode.find_district(drow[1], units.provinces)
        if not props.get("address") and legacy is not None:
            # Coordinates with a district (and commune) but no address: write it out.
            props["address"] = ", ".join(p for p in (
                props.get("commune"), legacy["district"], _province_full(legacy, region)) if p)
    if given_xy and region.contains(*given_xy):
        probs.extend(_location_checks(num, props, drow, given_xy, units))
    # The 2025 unit: named by the row, else from the old address, else by location.
    if unit25 is not None:
        props.update(commune_2025=unit25["ward"], commune_2025_code=unit25["wardCode"],
                     commune_2025_from=from25)
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


def _unit_2025(commune: str | None, address: str | None, region: Region):
    """(2025 unit, "commune" | "address"): a commune or an address written in the units from
    1 July 2025; (None, None) when neither names one."""
    unit = geocode.find_2025(commune, region.province.name)
    if unit is not None:
        return unit, "commune"
    unit = geocode.find_2025_in(address, region.province.name)
    return (unit, "address") if unit is not None else (None, None)


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

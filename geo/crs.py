"""Coordinate reference systems the OGC API speaks (Features Part 2), via pyproj.

The data is stored in CRS84 (WGS 84 longitude/latitude).  A client may ask for features in
another CRS (`crs`), give its `bbox` (`bbox-crs`) or a filter's geometries (`filter-crs`) in
one.  Coordinates follow each CRS's own axis order, as Part 2 requires: EPSG:4326 is
latitude/longitude, CRS84 and the projected ones are easting/northing.  Pure code, no Flask.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.database import query_crs_info

from .errors import FilterError

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
# WGS 84 (lat/lon), Web Mercator, UTM 48N on WGS 84, then VN-2000 / UTM zone 48N.
FIXED_EPSG = (4326, 3857, 32648, 3405)


def epsg_uri(code: int) -> str:
    return f"{EPSG_URI}{code}"


@lru_cache(maxsize=None)
def local_vn2000_epsg(lon0: float) -> int | None:
    """The EPSG code of the VN-2000 3-degree zone on `lon0` (105.75 -> 9210, "VN-2000 /
    TM-3 105-45"), the provincial zone of Circular 973/2001/TT-TCĐC; None if EPSG has none."""
    degrees = int(lon0)
    minutes = round((lon0 - degrees) * 60)
    name = f"VN-2000 / TM-3 {degrees:03d}-{minutes:02d}"
    found = [i.code for i in query_crs_info(auth_name="EPSG") if i.name == name]
    return int(found[0]) if found else None


def supported(vn2000_lon0: float | None = None) -> tuple[str, ...]:
    """The CRS URIs offered, storage CRS first."""
    codes = list(FIXED_EPSG)
    local = local_vn2000_epsg(vn2000_lon0) if vn2000_lon0 is not None else None
    if local is not None and local not in codes:
        codes.append(local)
    return (CRS84, *(epsg_uri(c) for c in codes))


def parse_crs(parameter: str, raw: str | None, choices) -> str:
    """`raw` as one of `choices` (CRS84 when absent); FilterError naming `parameter`."""
    if raw is None:
        return CRS84
    if raw not in choices:
        raise FilterError(parameter, f"unsupported CRS {raw[:80]!r}; expected one of "
                                     + ", ".join(choices))
    return raw


@lru_cache(maxsize=None)
def _crs(uri: str) -> CRS:
    if uri == CRS84:
        return CRS("OGC:CRS84")
    return CRS.from_epsg(int(uri.removeprefix(EPSG_URI)))


@lru_cache(maxsize=None)
def northing_first(uri: str) -> bool:
    """True when the CRS's first axis points north (EPSG:4326: latitude, longitude)."""
    return _crs(uri).axis_info[0].direction in ("north", "south")


@lru_cache(maxsize=None)
def _transformer(source: str, target: str) -> Transformer:
    # always_xy: x is easting/longitude on both sides; the axis order is handled by `_swap`.
    return Transformer.from_crs(_crs(source), _crs(target), always_xy=True)


def _swap(geoms):
    return shapely.transform(geoms, lambda xy: xy[:, ::-1])


def from_crs84(geoms, target: str):
    """CRS84 geometries (an array or list) in `target`, in its axis order."""
    geoms = np.asarray(geoms, dtype=object)
    if target == CRS84:
        return geoms
    t = _transformer(CRS84, target)
    out = shapely.transform(geoms, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    return _swap(out) if northing_first(target) else out


def to_crs84(geom, source: str):
    """One geometry given in `source` (in its axis order) as CRS84."""
    if source == CRS84:
        return geom
    if northing_first(source):
        geom = _swap(geom)
    t = _transformer(source, CRS84)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def bbox_to_crs84(box: tuple[float, float, float, float], source: str):
    """A bbox given in `source` (its axis order) as minlon, minlat, maxlon, maxlat: the
    bounds of the transformed box, densified so a curved edge is not cut off."""
    if source == CRS84:
        return box
    x0, y0, x1, y1 = box
    if northing_first(source):
        x0, y0, x1, y1 = y0, x0, y1, x1
    return tuple(_transformer(source, CRS84).transform_bounds(x0, y0, x1, y1, densify_pts=21))


def header(uri: str) -> str:
    """The `Content-Crs` header's value."""
    return f"<{uri}>"

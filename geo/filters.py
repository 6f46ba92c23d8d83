"""The one filter every view of the data uses: the map, the downloads and the OGC API.

`parse_filter(args, collection)` turns query parameters into a `Filter` or raises
`FilterError` naming the parameter; `apply_filter(frame, f)` returns the matching rows.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from . import cql2, crs
from .categories import CATEGORIES, STARS
from .certificates import STATUSES
from .errors import FilterError
from .spatial import METRIC_CRS
from .text import fold

MAX_RADIUS_KM = 500.0
DEFAULT_RADIUS_KM = 10.0
MAX_Q_LENGTH = 200


# FilterError lives in geo/errors.py (geo/crs.py and geo/cql2.py raise it too); it is
# imported from here everywhere else.


@dataclass(frozen=True)
class Filter:
    districts: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()          # 2025 unit codes
    certificates: tuple[str, ...] = ()      # valid | expired | unknown
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    stars: tuple[int, ...] = ()
    q: str = ""
    bbox: tuple[float, float, float, float] | None = None
    near: tuple[float, float] | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    cql: cql2.Cql | None = None             # `filter` (CQL2, OGC API Part 3)
    applied: tuple[str, ...] = field(default=(), compare=False)

    def is_empty(self) -> bool:
        return not (self.districts or self.communes or self.certificates or self.categories
                    or self.kinds or self.stars or self.q or self.bbox or self.near or self.cql)


# Which filters make sense for which collection.  A filter that cannot apply is an error
# rather than silently ignored, so a wrong link never looks like an empty result.
# `filter` (CQL2 on any published property, see geo/cql2.py) applies everywhere.
_CQL = {"filter", "filter-lang", "filter-crs"}
APPLIES = {
    "products": {"district", "commune", "certificate", "category", "stars", "q", "bbox",
                 "near", "radius_km", *_CQL},
    "destinations": {"district", "commune", "kind", "q", "bbox", "near", "radius_km", *_CQL},
    "districts": {"district", "q", "bbox", "near", "radius_km", *_CQL},
    "communes": {"district", "commune", "q", "bbox", "near", "radius_km", *_CQL},
}
FILTER_PARAMS = frozenset().union(*APPLIES.values())


def _floats(param: str, raw: str, n: int) -> list[float]:
    parts = raw.split(",")
    if len(parts) != n:
        raise FilterError(param, f"expected {n} comma-separated numbers, got {raw[:60]!r}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise FilterError(param, f"not a list of numbers: {raw[:60]!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise FilterError(param, "numbers must be finite")
    return values


def _lon_lat(param: str, lon: float, lat: float) -> None:
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise FilterError(param, "longitude must be in [-180, 180] and latitude in [-90, 90]")


def bbox_numbers(raw: str) -> list[float]:
    """4 numbers, or 6 with heights (minx,miny,minz,maxx,maxy,maxz): the heights are
    dropped (OGC API - Features Part 1 allows both; the data is 2D)."""
    n = 6 if raw.count(",") == 5 else 4
    values = _floats("bbox", raw, n)
    if n == 6:
        if values[2] > values[5]:
            raise FilterError("bbox", "expected minz <= maxz")
        values = [values[0], values[1], values[3], values[4]]
    return values


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = bbox_numbers(raw)
    _lon_lat("bbox", x0, y0)
    _lon_lat("bbox", x1, y1)
    if x0 > x1 or y0 > y1:
        raise FilterError("bbox", "expected minlon,minlat,maxlon,maxlat with min <= max")
    return x0, y0, x1, y1


def parse_filter(args, collection: str, known_districts=None, kinds=None,
                 known_communes=None, crs_choices=None) -> Filter:
    """Build a Filter from a MultiDict-like `args` (getlist/get).  Raises FilterError.

    `crs_choices`: the CRS URIs `filter-crs` may name (geo/crs.py)."""
    allowed = APPLIES[collection]
    present = [k for k in FILTER_PARAMS if args.get(k) not in (None, "")]
    for name in present:
        if name not in allowed:
            raise FilterError(name, f"does not apply to the {collection} collection")

    districts = tuple(dict.fromkeys(v for v in args.getlist("district") if v))
    if known_districts is not None:
        for d in districts:
            if d not in known_districts:
                raise FilterError("district", f"unknown district code {d[:20]!r}")

    communes = tuple(dict.fromkeys(v for v in args.getlist("commune") if v))
    if known_communes is not None:
        for c in communes:
            if c not in known_communes:
                raise FilterError("commune", f"unknown 2025 commune code {c[:20]!r}")
    certs = tuple(dict.fromkeys(v for v in args.getlist("certificate") if v))
    for c in certs:
        if c not in STATUSES:
            raise FilterError("certificate", f"unknown certificate status {c[:20]!r}; "
                                             "expected one of " + ", ".join(STATUSES))

    cats = tuple(dict.fromkeys(v for v in args.getlist("category") if v))
    for c in cats:
        if c not in CATEGORIES:
            raise FilterError("category", f"unknown category {c[:40]!r}; expected one of "
                                          + ", ".join(CATEGORIES))
    kind_list = tuple(dict.fromkeys(v for v in args.getlist("kind") if v))
    if kinds is not None:
        for k in kind_list:
            if k not in kinds:
                raise FilterError("kind", f"unknown kind {k[:40]!r}")

    stars = []
    for s in (v for v in args.getlist("stars") if v):
        if s not in {str(x) for x in STARS}:
            raise FilterError("stars", f"{s[:10]!r} is not a star rating; expected 3, 4 or 5")
        stars.append(int(s))

    q = args.get("q") or ""
    if len(q) > MAX_Q_LENGTH:
        raise FilterError("q", f"longer than {MAX_Q_LENGTH} characters")

    bbox = parse_bbox(args["bbox"]) if args.get("bbox") else None
    near = None
    if args.get("near"):
        lon, lat = _floats("near", args["near"], 2)
        _lon_lat("near", lon, lat)
        near = (lon, lat)
    radius = DEFAULT_RADIUS_KM
    if args.get("radius_km"):
        (radius,) = _floats("radius_km", args["radius_km"], 1)
        if not 0 <= radius <= MAX_RADIUS_KM:
            raise FilterError("radius_km", f"must be between 0 and {MAX_RADIUS_KM:g}")
        if near is None:
            raise FilterError("radius_km", "needs near=lon,lat")
    cql = None
    if args.get("filter"):
        cql = cql2.parse(args["filter"], args.get("filter-lang"), collection,
                         args.get("filter-crs"), crs_choices or crs.supported())
    elif args.get("filter-lang") or args.get("filter-crs"):
        name = "filter-lang" if args.get("filter-lang") else "filter-crs"
        raise FilterError(name, "needs filter")
    return Filter(districts=districts, communes=communes, certificates=certs, categories=cats, kinds=kind_list,
                  stars=tuple(dict.fromkeys(stars)), q=fold(q), bbox=bbox, near=near,
                  radius_km=radius, cql=cql, applied=tuple(sorted(present)))


def apply_filter(frame: gpd.GeoDataFrame, f: Filter, text_columns) -> gpd.GeoDataFrame:
    """Rows of `frame` that match every part of `f`.

    `frame` needs `district_code`; `category`, `kind` and `stars` where those filters apply;
    a precomputed `_folded` column (see `search_text`) makes `q` fast.
    """
    mask = np.ones(len(frame), dtype=bool)
    if f.districts:
        mask &= frame["district_code"].isin(f.districts).to_numpy()
    if f.communes:
        col = "code" if "commune_2025_code" not in frame else "commune_2025_code"
        mask &= frame[col].isin(f.communes).to_numpy()
    if f.certificates:
        mask &= frame["certificate_status"].isin(f.certificates).to_numpy()
    if f.categories:
        mask &= frame["category"].isin(f.categories).to_numpy()
    if f.kinds:
        mask &= frame["kind"].isin(f.kinds).to_numpy()
    if f.stars:
        mask &= frame["stars"].isin(f.stars).to_numpy()
    if f.q:
        hay = frame["_folded"] if "_folded" in frame else search_text(frame, text_columns)
        mask &= hay.str.contains(phrase_pattern(f.q), regex=True).to_numpy()
    if f.bbox:
        mask &= frame.geometry.intersects(shapely.box(*f.bbox)).to_numpy()
    if f.near:
        origin = gpd.GeoSeries([shapely.Point(f.near)], crs="EPSG:4326").to_crs(METRIC_CRS)[0]
        metric = frame.geometry.to_crs(METRIC_CRS)
        mask &= (metric.distance(origin) <= f.radius_km * 1000).to_numpy()
    if f.cql is not None:
        mask &= cql2.mask(frame, f.cql)
    return frame[mask]


def phrase_pattern(folded_query: str) -> str:
    """The folded query as a phrase starting at a word: "do son" finds "Đồ Sơn" but not
    "Đông Sơn"; the last word may be unfinished ("nuoc ma" finds "nước mắm")."""
    return r"(?<!\w)" + re.escape(folded_query)


def search_text(frame, columns):
    """The folded text `q` searches, one string per row."""
    parts = [frame[c].fillna("").astype(str) for c in columns if c in frame]
    joined = parts[0]
    for p in parts[1:]:
        joined = joined + " " + p
    return joined.map(fold)

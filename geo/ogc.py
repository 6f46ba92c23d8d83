"""OGC API - Features Parts 1 (Core), 2 (CRS) and 3 (Filtering), as plain functions:
parameters in, Python dicts out.

No Flask here (in the spirit of pygeoapi's `(request) -> (headers, status, content)`): the
web layer passes the query string as (name, value) pairs, the chosen format and the base URL
(`http://host/ogc`), and serialises what comes back.  Filtering is `geo.filters`, the same
code the map and the downloads use, so `?district=303&stars=4` means the same everywhere;
features are `geo.export.feature`, the same GeoJSON the downloads write.  CRSs are
`geo.crs`, `datetime` is `geo.temporal`, CQL2 `filter` is `geo.cql2` (through the shared
filter) and queryables come from the one schema (geo/schema.py).

Errors are `FilterError(parameter, message)`: the web layer answers 400 naming the parameter.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from urllib.parse import quote, urlencode

import pandas as pd

from .collections import Collection
from .export import feature, records
from . import crs as crs_mod, cql2, schema, temporal
from .crs import CRS84
from .filters import APPLIES, MAX_Q_LENGTH, MAX_RADIUS_KM, DEFAULT_RADIUS_KM
from .filters import Filter, FilterError, apply_filter, bbox_numbers, parse_filter

# Exactly the classes implemented (each URI as its standard writes it).
_F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
_F2 = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/"
_F3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
CONFORMANCE = (
    *(_F1 + c for c in ("core", "oas30", "html", "geojson")),
    _F2 + "crs",
    *(_F3 + c for c in ("queryables", "filter", "features-filter")),
    # S_INTERSECTS takes any geometry: basic-spatial-functions(-plus); no temporal,
    # arithmetic, functions, property-property or case-insensitive comparisons.
    *(_CQL2 + c for c in ("cql2-text", "cql2-json", "basic-cql2",
                          "advanced-comparison-operators", "basic-spatial-functions",
                          "basic-spatial-functions-plus")),
)

JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
FORMATS = ("json", "html")
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

# Newer GDAL reads `default` and `maximum` of each items path's `limit` in the API
# definition and pages in min(maximum, 1000); 3.6 always asks for 10 (open option PAGE_SIZE).
DEFAULT_LIMIT = 10
MAX_LIMIT = 10000
DEFAULT_CRS = crs_mod.supported()


def _description(region) -> str:
    return (f"OCOP products, tourist destinations, former districts and 2025 communes of "
            f"{region.label('en')} as OGC API - Features (GeoJSON, WGS 84 longitude/latitude "
            "unless `crs` asks for another CRS).")

# Parameters every endpoint takes; the items endpoint adds paging, the shared filter, and
# the standard's own: datetime, crs, bbox-crs, sortby, properties.
DOCUMENT_PARAMS = frozenset({"f"})
ITEM_PARAMS = frozenset({"f", "crs"})
PAGING_PARAMS = frozenset({"f", "limit", "offset", "datetime", "crs", "bbox-crs", "sortby",
                           "properties"})


# -- query parameters -----------------------------------------------------------------------

class QueryArgs:
    """The query string as ordered (name, value) pairs, read like a MultiDict.

    `parse_filter` wants `get`/`getlist`; links want the pairs back in their order, so
    `next` keeps every other parameter exactly as the client sent it."""

    def __init__(self, pairs):
        self.pairs = tuple((str(k), str(v)) for k, v in pairs)

    def get(self, name, default=None):
        return next((v for k, v in self.pairs if k == name), default)

    def getlist(self, name):
        return [v for k, v in self.pairs if k == name]

    def __getitem__(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name):
        return any(k == name for k, _ in self.pairs)

    def __iter__(self):
        return iter(dict.fromkeys(k for k, _ in self.pairs))

    def without(self, *names) -> tuple[tuple[str, str], ...]:
        return tuple((k, v) for k, v in self.pairs if k not in names)


def check_known(args: QueryArgs, allowed) -> None:
    """The standard asks for a 400 on a parameter the server does not know, rather than
    silently ignoring it (a misspelt filter must not look like an empty result)."""
    unknown = [k for k in args if k not in allowed]
    if unknown:
        raise FilterError(unknown[0][:40], "unknown parameter; expected one of "
                          + ", ".join(sorted(allowed)))


def check_not_empty(args: QueryArgs) -> None:
    """`category=` is a client mistake here: an API answers it with a 400, not with
    everything (the map's own links never send empty values, so matching is unchanged)."""
    empty = next((k for k, v in args.pairs if v == ""), None)
    if empty is not None:
        raise FilterError(empty[:40], "empty value")


def output_format(args: QueryArgs, negotiated: str) -> str:
    """`f=json|html` wins over the Accept header (already reduced to `negotiated`)."""
    f = args.get("f")
    if f is None:
        return negotiated
    if f not in FORMATS:
        raise FilterError("f", f"unknown format {f[:20]!r}; expected json or html")
    return f


def _count(args: QueryArgs, name: str, default: int, minimum: int) -> int:
    """A non-negative decimal integer; Python's int() would also take ' 5', '+5' and '1_0'."""
    raw = args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]+", raw):
        raise FilterError(name, _count_error(name, raw))
    value = int(raw) if len(raw) <= 18 else 10 ** 18
    if value < minimum:
        raise FilterError(name, f"must be at least {minimum}, got {value}")
    return value


def _count_error(name: str, raw: str) -> str:
    if raw.startswith("-") and re.fullmatch(r"-[0-9]+", raw):
        return f"must not be negative, got {raw[:20]}"
    return f"not a whole number: {raw[:20]!r}"


def sortable(c: Collection) -> list[str]:
    """Properties `sortby` takes: every published one but the lists."""
    kinds = cql2.kinds(c.name)
    return [f for f in c.fields if kinds.get(f) not in (None, "list")]


def parse_sortby(raw: str | None, c: Collection) -> tuple[tuple[str, bool], ...]:
    """`+name,-stars` as ((name, ascending), ...); FilterError naming `sortby`."""
    if raw is None:
        return ()
    keys = []
    for part in raw.split(","):
        name, ascending = part.strip(), True
        if name[:1] in "+-" and name:
            name, ascending = name[1:], name[0] == "+"
        if name not in sortable(c):
            raise FilterError("sortby", f"cannot sort by {name[:40]!r}; expected one of "
                                        + ", ".join(sortable(c)))
        keys.append((name, ascending))
    return tuple(dict((k, a) for k, a in keys).items())


def parse_properties(raw: str | None, c: Collection) -> tuple[str, ...]:
    """`properties=name,stars`: only these in each feature (in the collection's order)."""
    if raw is None:
        return c.fields
    wanted = [p.strip() for p in raw.split(",")]
    for p in wanted:
        if p not in c.fields:
            raise FilterError("properties", f"unknown property {p[:40]!r}; expected one of "
                                            + ", ".join(c.fields))
    return tuple(f for f in c.fields if f in wanted)


def _bbox_in(raw_bbox: str, uri: str) -> tuple[float, float, float, float]:
    """A bbox given in `bbox-crs` (its axis order) as CRS84."""
    x0, y0, x1, y1 = bbox_numbers(raw_bbox)
    if x0 > x1 or y0 > y1:
        raise FilterError("bbox", "expected the lower corner before the upper one")
    try:
        box = crs_mod.bbox_to_crs84((x0, y0, x1, y1), uri)
    except Exception:
        box = (math.inf,)
    if not all(math.isfinite(v) for v in box):
        raise FilterError("bbox", "outside the area where bbox-crs is defined")
    return box


@dataclass(frozen=True)
class ItemsQuery:
    filter: Filter
    limit: int                        # after clamping to MAX_LIMIT
    offset: int
    params: tuple[tuple[str, str], ...]  # the request's parameters except offset and f
    crs: str = CRS84                  # of the features' coordinates
    datetime: tuple | None = None     # (start, end) from geo.temporal, or None
    sortby: tuple[tuple[str, bool], ...] = ()
    properties: tuple[str, ...] | None = None   # None: every published property

    def key(self) -> tuple:
        """What the page depends on (the raw params: links repeat them as sent)."""
        return self.params, self.limit, self.offset


def parse_items_query(pairs, collection: str, known_districts=None, kinds=None,
                      known_communes=None, crs_list=DEFAULT_CRS,
                      c: Collection | None = None) -> ItemsQuery:
    """Check and parse an items request's query string.  Raises FilterError.

    `limit` above MAX_LIMIT is clamped, as the standard allows, not refused.  `crs_list`:
    the CRSs offered (geo.crs.supported); `c`, when given, checks sortby and properties."""
    args = QueryArgs(pairs)
    check_known(args, PAGING_PARAMS | APPLIES[collection])
    check_not_empty(args)
    output_format(args, "json")
    limit = min(_count(args, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    offset = _count(args, "offset", 0, 0)
    out_crs = crs_mod.parse_crs("crs", args.get("crs"), crs_list)
    bbox_crs = crs_mod.parse_crs("bbox-crs", args.get("bbox-crs"), crs_list)
    if "bbox-crs" in args and "bbox" not in args:
        raise FilterError("bbox-crs", "needs bbox")
    when = temporal.parse_datetime(args["datetime"]) if "datetime" in args else None
    shared = args if bbox_crs == CRS84 else QueryArgs(args.without("bbox"))
    f = parse_filter(shared, collection, known_districts=known_districts, kinds=kinds,
                     known_communes=known_communes, crs_choices=crs_list)
    if bbox_crs != CRS84:
        f = replace(f, bbox=_bbox_in(args["bbox"], bbox_crs))
    sortby = parse_sortby(args.get("sortby"), c) if c is not None else ()
    props = parse_properties(args.get("properties"), c) if c is not None else None
    return ItemsQuery(f, limit, offset, args.without("offset", "f"), out_crs, when, sortby,
                      props)


def parse_item_query(pairs, negotiated: str, crs_list=DEFAULT_CRS) -> tuple[str, str]:
    """(format, crs) for one feature.  Raises FilterError."""
    args = QueryArgs(pairs)
    check_known(args, ITEM_PARAMS)
    check_not_empty(args)
    return output_format(args, negotiated), crs_mod.parse_crs("crs", args.get("crs"), crs_list)


# -- links ----------------------------------------------------------------------------------

def url(base: str, path: str = "", params=()) -> str:
    query = urlencode(list(params))
    return f"{base}{path}" + (f"?{query}" if query else "")


def link(href: str, rel: str, type_: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def self_links(base: str, path: str, fmt: str, json_type: str = JSON, params=()) -> list[dict]:
    """`self` in the format served and `alternate` in the other one."""
    as_json = link(url(base, path, [*params, ("f", "json")]), "self", json_type,
                   "This document as JSON")
    as_html = link(url(base, path, [*params, ("f", "html")]), "self", HTML,
                   "This document as HTML")
    if fmt == "html":
        as_json["rel"] = "alternate"
        return [as_html, as_json]
    as_html["rel"] = "alternate"
    return [as_json, as_html]


def feature_path(collection: str, feature_id) -> str:
    return f"/collections/{collection}/items/{quote(str(feature_id), safe='')}"


# -- documents ------------------------------------------------------------------------------

def landing(region, base: str, fmt: str) -> dict:
    return {"title": region.bilingual_title, "description": _description(region), "links": [
        *self_links(base, "", fmt),
        link(url(base, "/api", [("f", "json")]), "service-desc", OPENAPI,
             "The API definition (OpenAPI 3.0)"),
        link(url(base, "/api", [("f", "html")]), "service-doc", HTML,
             "The API documentation"),
        link(url(base, "/conformance"), "conformance", JSON, "Conformance classes"),
        link(url(base, "/collections"), "data", JSON, "The collections"),
    ]}


def conformance(base: str, fmt: str) -> dict:
    return {"links": self_links(base, "/conformance", fmt), "conformsTo": list(CONFORMANCE)}


def title(c: Collection) -> str:
    return f"{c.title_vi} / {c.title_en}"


def bbox(c: Collection) -> list[float]:
    """The data's bounds, rounded outwards to 1e-5 degree so every feature stays inside."""
    x0, y0, x1, y1 = (float(v) for v in c.frame.total_bounds)
    down = [math.floor(v * 1e5) / 1e5 for v in (x0, y0)]
    up = [math.ceil(v * 1e5) / 1e5 for v in (x1, y1)]
    return [*down, *up]


def temporal_extent(c: Collection) -> list | None:
    """[[first, last]] certification instants (RFC 3339, UTC), or None without a temporal
    property."""
    if c.name not in temporal.TEMPORAL:
        return None
    start, end = temporal.periods(c.frame, c.name)
    if start.notna().sum() == 0:
        return [[None, None]]
    return [[start.min().strftime("%Y-%m-%dT%H:%M:%SZ"),
             (end.max() - pd.Timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")]]


def collection(c: Collection, base: str, fmt: str, crs_list=DEFAULT_CRS) -> dict:
    path = f"/collections/{c.name}"
    extent = {"spatial": {"bbox": [bbox(c)], "crs": CRS84}}
    interval = temporal_extent(c)
    if interval is not None:
        extent["temporal"] = {"interval": interval,
                              "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return {
        "id": c.name, "title": title(c), "description": c.description,
        "itemType": "feature", "crs": list(crs_list), "storageCrs": CRS84,
        "extent": extent,
        "links": [
            *self_links(base, path, fmt),
            link(url(base, f"{path}/items", [("f", "json")]), "items", GEOJSON,
                 "The features as GeoJSON"),
            link(url(base, f"{path}/items", [("f", "html")]), "items", HTML,
                 "The features as HTML"),
            link(url(base, f"{path}/queryables", [("f", "json")]), QUERYABLES_REL,
                 SCHEMA_JSON, "The properties a filter may name (JSON Schema)"),
        ],
    }


def collections(colls: dict[str, Collection], base: str, fmt: str,
                crs_list=DEFAULT_CRS) -> dict:
    return {"links": self_links(base, "/collections", fmt), "crs": list(crs_list),
            "collections": [collection(c, base, fmt, crs_list) for c in colls.values()]}


def _queryable_schema(f: schema.Field) -> dict:
    """A field as JSON Schema 2020-12 (`nullable` is OpenAPI 3.0's; here a type list)."""
    out = dict(f.json_schema)
    nullable = out.pop("nullable", False)
    if nullable and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


_GEOMETRY_FORMATS = {"Point": "geometry-point", "Polygon": "geometry-polygon",
                     "MultiPolygon": "geometry-multipolygon"}


def queryables(c: Collection, base: str, fmt: str) -> dict:
    """Part 3 queryables: what `filter` and `sortby` may name, from the one schema."""
    path = f"/collections/{c.name}/queryables"
    types = sorted(set(c.frame.geometry.geom_type.dropna())) or [c.geometry_type]
    fmt_name = (_GEOMETRY_FORMATS.get(types[0], "geometry-any") if len(types) == 1
                else "geometry-polygon-or-multipolygon"
                if set(types) <= {"Polygon", "MultiPolygon"} else "geometry-any")
    props = {"geometry": {"title": "Geometry", "format": fmt_name,
                          "x-ogc-role": "primary-geometry"}}
    for name in c.fields:       # lists too: IS NULL applies to them
        props[name] = _queryable_schema(schema.field(c.name, name))
    props[c.id_field]["x-ogc-role"] = "id"
    if c.name in temporal.TEMPORAL:
        props[temporal.TEMPORAL[c.name][0]]["x-ogc-role"] = "primary-instant"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url(base, path),
        "type": "object", "title": title(c),
        "description": "Properties for filter (CQL2) and sortby. The temporal property "
                       "datetime is matched against is marked x-ogc-role primary-instant."
                       if c.name in temporal.TEMPORAL else
                       "Properties for filter (CQL2) and sortby.",
        "properties": props, "additionalProperties": False,
        "links": self_links(base, path, fmt, SCHEMA_JSON),
    }


def _page_links(c: Collection, q: ItemsQuery, base: str, fmt: str, matched: int) -> list[dict]:
    """self/alternate, then next and prev that keep every other parameter as sent."""
    path = f"/collections/{c.name}/items"
    here = [*q.params, ("offset", str(q.offset))] if q.offset else list(q.params)
    type_ = GEOJSON if fmt == "json" else HTML
    links = self_links(base, path, fmt, GEOJSON, here)
    if q.offset + q.limit < matched:
        links.append(link(url(base, path, [*q.params, ("offset", str(q.offset + q.limit)),
                                           ("f", fmt)]), "next", type_, "Next page"))
    if q.offset > 0:
        prev = max(0, min(q.offset, matched) - q.limit) if matched else 0
        links.append(link(url(base, path, [*q.params, ("offset", str(prev)), ("f", fmt)]),
                          "prev", type_, "Previous page"))
    links.append(link(url(base, f"/collections/{c.name}", [("f", "json")]), "collection", JSON,
                      "The collection"))
    return links


def _features(frame, c: Collection, fields, out_crs: str) -> list[dict]:
    recs = records(frame, fields if c.id_field in fields else (c.id_field, *fields))
    geoms = crs_mod.from_crs84([g for _, g in recs], out_crs)
    return [feature(r, g, fields, c.id_field) for (r, _), g in zip(recs, geoms)]


def _sorted(frame, sortby):
    """Stable sort on the keys; missing values last whatever the direction."""
    if not sortby:
        return frame
    return frame.sort_values([n for n, _ in sortby], ascending=[a for _, a in sortby],
                             kind="stable", na_position="last")


def items(c: Collection, q: ItemsQuery, base: str, fmt: str, timestamp: str) -> dict:
    """One page of the filtered collection, with the counts the standard recommends."""
    matched = apply_filter(c.frame, q.filter, c.text_columns)
    matched = _sorted(matched[temporal.matches(matched, c.name, q.datetime)], q.sortby)
    start = min(q.offset, len(matched))
    page = matched.iloc[start:start + q.limit]
    features = _features(page, c, q.properties or c.fields, q.crs)
    return {"type": "FeatureCollection", "features": features,
            "links": _page_links(c, q, base, fmt, len(matched)), "timeStamp": timestamp,
            "numberMatched": len(matched), "numberReturned": len(features)}


def item(c: Collection, feature_id: str, base: str, fmt: str,
         out_crs: str = CRS84) -> dict | None:
    """The feature whose id field equals `feature_id`, or None."""
    rows = c.frame[c.frame[c.id_field].astype(str) == feature_id]
    if rows.empty:
        return None
    doc = _features(rows.iloc[:1], c, c.fields, out_crs)[0]
    here = [("crs", out_crs)] if out_crs != CRS84 else []
    doc["links"] = [
        *self_links(base, feature_path(c.name, feature_id), fmt, GEOJSON, here),
        link(url(base, f"/collections/{c.name}", [("f", "json")]), "collection", JSON,
             "The collection"),
    ]
    return doc


# -- OpenAPI 3.0 ----------------------------------------------------------------------------

def _value_schema(dtype) -> dict:
    """A property's JSON type from its column; anything else (lists, mixed) is left open."""
    if pd.api.types.is_bool_dtype(dtype):
        return {"type": "boolean"}
    if pd.api.types.is_integer_dtype(dtype):
        return {"type": "integer"}
    if pd.api.types.is_float_dtype(dtype):
        return {"type": "number", "nullable": True}
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return {"type": "string", "nullable": True}
    return {}


_GEOMETRY_SCHEMAS = {
    "Point": {"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["Point"]},
        "coordinates": {"type": "array", "minItems": 2, "maxItems": 3,
                        "items": {"type": "number"}}}},
    "Polygon": {"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["Polygon"]},
        "coordinates": {"type": "array", "items": {"type": "array", "minItems": 4, "items": {
            "type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}}}}},
    "MultiPolygon": {"type": "object", "required": ["type", "coordinates"], "properties": {
        "type": {"type": "string", "enum": ["MultiPolygon"]},
        "coordinates": {"type": "array", "items": {"type": "array", "items": {
            "type": "array", "minItems": 4, "items": {
                "type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "number"}}}}}}},
}


def _feature_schema(c: Collection) -> dict:
    types = sorted(set(c.frame.geometry.geom_type.dropna())) or [c.geometry_type]
    geoms = [{"$ref": f"#/components/schemas/{t}"} for t in types if t in _GEOMETRY_SCHEMAS]
    geometry = geoms[0] if len(geoms) == 1 else {"oneOf": geoms} if geoms else {"type": "object"}
    id_schema = _value_schema(c.frame[c.id_field].dtype)
    id_schema.pop("nullable", None)
    return {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": id_schema or {"type": "string"},
        "geometry": geometry,
        # Not `required`: `properties=` asks for a subset.
        "properties": {"type": "object", "properties": {
            f: schema.field(c.name, f).json_schema for f in c.fields}},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
    }}


def _feature_collection_schema(name: str) -> dict:
    return {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}Feature"}},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
        "timeStamp": {"type": "string", "format": "date-time"},
        "numberMatched": {"type": "integer", "minimum": 0},
        "numberReturned": {"type": "integer", "minimum": 0},
    }}


def _links_schema() -> dict:
    return {"type": "array", "items": {"$ref": "#/components/schemas/link"}}


def _base_schemas() -> dict:
    collection_schema = {"type": "object", "required": ["id", "links"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"},
        "description": {"type": "string"}, "links": _links_schema(),
        "itemType": {"type": "string", "enum": ["feature"]},
        "crs": {"type": "array", "items": {"type": "string"}},
        "storageCrs": {"type": "string"},
        "extent": {"type": "object", "properties": {"spatial": {"type": "object", "properties": {
            "bbox": {"type": "array", "minItems": 1, "items": {
                "type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}},
            "crs": {"type": "string", "enum": [CRS84]}}},
            "temporal": {"type": "object", "properties": {
                "interval": {"type": "array", "items": {
                    "type": "array", "minItems": 2, "maxItems": 2,
                    "items": {"type": "string", "format": "date-time", "nullable": True}}},
                "trs": {"type": "string"}}}}},
    }}
    return {
        "link": {"type": "object", "required": ["href", "rel"], "properties": {
            "href": {"type": "string"}, "rel": {"type": "string"},
            "type": {"type": "string"}, "title": {"type": "string"}}},
        "exception": {"type": "object", "required": ["code"], "properties": {
            "code": {"type": "string"}, "description": {"type": "string"},
            "parameter": {"type": "string"}}},
        "landingPage": {"type": "object", "required": ["links"], "properties": {
            "title": {"type": "string"}, "description": {"type": "string"},
            "links": _links_schema()}},
        "confClasses": {"type": "object", "required": ["conformsTo"], "properties": {
            "conformsTo": {"type": "array", "items": {"type": "string"}},
            "links": _links_schema()}},
        "collection": collection_schema,
        "collections": {"type": "object", "required": ["links", "collections"], "properties": {
            "links": _links_schema(), "crs": {"type": "array", "items": {"type": "string"}},
            "collections": {"type": "array", "items": _ref("collection")}}},
        "queryables": {"type": "object", "required": ["type", "properties"], "properties": {
            "$schema": {"type": "string"}, "$id": {"type": "string"},
            "type": {"type": "string", "enum": ["object"]},
            "properties": {"type": "object", "additionalProperties": {"type": "object"}}}},
        **_GEOMETRY_SCHEMAS,
    }


def _array_param(name: str, description: str, items: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": True,
            "description": description, "schema": {"type": "array", "items": items}}


def _standard_parameters(crs_list) -> dict:
    """Parts 1-3's own parameters (datetime, crs, bbox-crs, filter, sortby, properties)."""
    crs_enum = {"type": "string", "format": "uri", "enum": list(crs_list),
                "default": CRS84}
    return {
        "datetime": {"name": "datetime", "in": "query", "required": False,
                     "description": "An RFC 3339 date or date-time, or an interval start/end "
                                    "with `..` for an open end. Products match on their "
                                    "certification (certified_date as the whole day in "
                                    "Vietnam time, else certified_year as the whole year); "
                                    "other collections have no temporal property and "
                                    "ignore it.",
                     "schema": {"type": "string", "minLength": 1}},
        "crs": {"name": "crs", "in": "query", "required": False,
                "description": "The CRS of the response's coordinates, in its axis order "
                               "(EPSG:4326 is latitude, longitude). The Content-Crs header "
                               "names it.", "schema": crs_enum},
        "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False,
                     "description": "The CRS `bbox` is given in, in its axis order.",
                     "schema": crs_enum},
        "filter": {"name": "filter", "in": "query", "required": False,
                   "description": "A CQL2 filter on the collection's queryables: comparisons, "
                                  "LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, S_INTERSECTS.",
                   "schema": {"type": "string", "minLength": 1,
                              "maxLength": cql2.MAX_LENGTH}},
        "filter-lang": {"name": "filter-lang", "in": "query", "required": False,
                        "description": "The language of `filter` (`cql-text`, the drafts' "
                                       "name that GDAL sends, is read as cql2-text).",
                        "schema": {"type": "string", "enum": list(cql2.ACCEPTED),
                                   "default": "cql2-text"}},
        "filter-crs": {"name": "filter-crs", "in": "query", "required": False,
                       "description": "The CRS of the geometries in `filter`.",
                       "schema": crs_enum},
    }


def _collection_parameters(name: str, c: Collection) -> dict:
    """sortby and properties name this collection's own properties."""
    keys = [k for f in sortable(c) for k in (f, f"+{f}", f"-{f}")]
    return {
        f"sortby_{name}": {"name": "sortby", "in": "query", "required": False,
                           "style": "form", "explode": False,
                           "description": "Sort keys: a property, `+` ascending (the "
                                          "default) or `-` descending, comma-separated.",
                           "schema": {"type": "array", "minItems": 1,
                                      "items": {"type": "string", "enum": keys}}},
        f"properties_{name}": {"name": "properties", "in": "query", "required": False,
                               "style": "form", "explode": False,
                               "description": "Only these properties in each feature.",
                               "schema": {"type": "array", "minItems": 1, "items": {
                                   "type": "string", "enum": list(c.fields)}}},
    }


def _parameters(known_districts, kinds, categories, stars) -> dict:
    """Every query parameter, as the shared filter reads it (see geo/filters.py)."""
    coords = {"type": "number"}
    return {
        "f": {"name": "f", "in": "query", "required": False,
              "description": "Response format; without it the Accept header decides "
                             "(text/html gives HTML, anything else JSON).",
              "schema": {"type": "string", "enum": list(FORMATS)}},
        "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
                  "explode": False,
                  "description": f"Features per page (default {DEFAULT_LIMIT}). Values "
                                 f"above {MAX_LIMIT} are served as {MAX_LIMIT}.",
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                             "default": DEFAULT_LIMIT}},
        "offset": {"name": "offset", "in": "query", "required": False,
                   "description": "Number of matching features to skip (the `next` and "
                                  "`prev` links set it).",
                   "schema": {"type": "integer", "minimum": 0, "default": 0}},
        "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
                 "explode": False,
                 "description": "Only features intersecting minlon,minlat,maxlon,maxlat "
                                "(WGS 84, min <= max; or in `bbox-crs`). Six numbers add "
                                "heights (minz after miny, maxz after maxy), ignored.",
                 "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": coords}},
        "q": {"name": "q", "in": "query", "required": False,
              "description": "Words that must all appear in the feature's text; case and "
                             "Vietnamese diacritics are ignored.",
              "schema": {"type": "string", "minLength": 1, "maxLength": MAX_Q_LENGTH}},
        "near": {"name": "near", "in": "query", "required": False, "style": "form",
                 "explode": False, "description": "lon,lat: only features within radius_km.",
                 "schema": {"type": "array", "minItems": 2, "maxItems": 2, "items": coords}},
        "radius_km": {"name": "radius_km", "in": "query", "required": False,
                      "description": "Distance from `near` in kilometres (needs `near`).",
                      "schema": {"type": "number", "minimum": 0, "maximum": MAX_RADIUS_KM,
                                 "default": DEFAULT_RADIUS_KM}},
        "district": _array_param("district", "District code(s), before July 2025 "
                                 "(property district_code).",
                                 {"type": "string", "enum": sorted(known_districts)}),
        "commune": _array_param("commune", "Commune, ward or special zone code(s) from "
                                "1 July 2025 (property commune_2025_code; for the communes "
                                "collection, code).", {"type": "string"}),
        "certificate": _array_param("certificate", "Certificate status(es) as of today: a "
                                    "certificate is valid 36 months; a year alone counts "
                                    "from 1 January.",
                                    {"type": "string", "enum": ["valid", "expired",
                                                                "unknown"]}),
        "category": _array_param("category", "OCOP product group(s).",
                                 {"type": "string", "enum": list(categories)}),
        "stars": _array_param("stars", "OCOP star rating(s).",
                              {"type": "integer", "enum": list(stars)}),
        "kind": _array_param("kind", "Destination kind(s).",
                             {"type": "string", "enum": list(kinds)}),
    }


_CONTENT_CRS = {"Content-Crs": {"description": "The CRS of the coordinates, as <URI> (Part 2).",
                                 "schema": {"type": "string"}}}


def _responses(ok: str, schema: dict, json_type: str = JSON, not_found: bool = False) -> dict:
    error = {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}
    out = {
        "200": {"description": ok, "content": {
            json_type: {"schema": schema}, HTML: {"schema": {"type": "string"}}},
            **({"headers": _CONTENT_CRS} if json_type == GEOJSON else {})},
        "400": {"description": "A parameter is unknown or has a wrong value; `parameter` "
                               "names it.", "content": error},
    }
    if not_found:
        out["404"] = {"description": "No such feature.", "content": {
            **error, HTML: {"schema": {"type": "string"}}}}
    return out


def _op(op_id: str, summary: str, params: list[str], responses: dict, tag: str) -> dict:
    return {"get": {"operationId": op_id, "summary": summary, "tags": [tag],
                    "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params],
                    "responses": responses}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _collection_paths(name: str, c: Collection) -> dict:
    """Metadata, queryables, items with exactly this collection's filters, one feature."""
    item_op = _op(f"get_{name}_item", f"{c.title_en}: one feature", ["f", "crs"],
                  _responses("The feature.", _ref(f"{name}Feature"), GEOJSON, True), name)
    item_op["get"]["parameters"].insert(0, {
        "name": "featureId", "in": "path", "required": True,
        "description": f"The feature's `{c.id_field}`.",
        "schema": {"type": "string", "minLength": 1}})
    return {
        f"/collections/{name}": _op(f"describe_{name}", f"{c.title_en}: metadata", ["f"],
                                    _responses("The collection.", _ref("collection")), name),
        f"/collections/{name}/queryables": _op(
            f"get_{name}_queryables", f"{c.title_en}: queryables", ["f"],
            _responses("The queryables (JSON Schema).", _ref("queryables"), SCHEMA_JSON), name),
        f"/collections/{name}/items": _op(
            f"get_{name}_items", f"{c.title_en}: features",
            ["f", "limit", "offset", "datetime", "crs", "bbox-crs", f"sortby_{name}",
             f"properties_{name}", *sorted(APPLIES[name])],
            _responses("A page of features.", _ref(f"{name}FeatureCollection"), GEOJSON), name),
        f"/collections/{name}/items/{{featureId}}": item_op,
    }


def openapi(region, colls: dict[str, Collection], base: str, known_districts, kinds, categories,
            stars, crs_list=DEFAULT_CRS) -> dict:
    """The API definition: one path per collection, so each lists exactly its filters."""
    paths = {
        "/": _op("getLandingPage", "Landing page", ["f"],
                 _responses("The landing page.", _ref("landingPage")), "Capabilities"),
        "/conformance": _op("getConformance", "Conformance classes", ["f"],
                            _responses("The conformance classes.", _ref("confClasses")),
                            "Capabilities"),
        "/api": _op("getAPI", "This API definition", ["f"],
                    _responses("The API definition (OpenAPI 3.0).", {"type": "object"},
                               OPENAPI), "Capabilities"),
        "/collections": _op("getCollections", "The collections", ["f"],
                            _responses("The collections.", _ref("collections")),
                            "Capabilities"),
    }
    schemas = _base_schemas()
    parameters = {**_parameters(known_districts, kinds, categories, stars),
                  **_standard_parameters(crs_list)}
    for name, c in colls.items():
        schemas[f"{name}Feature"] = _feature_schema(c)
        schemas[f"{name}FeatureCollection"] = _feature_collection_schema(name)
        paths.update(_collection_paths(name, c))
        parameters.update(_collection_parameters(name, c))
    return {
        "openapi": "3.0.3",
        "info": {"title": region.bilingual_title, "version": "1.0.0",
                 "description": _description(region)},
        "servers": [{"url": base}],
        "tags": [{"name": "Capabilities"}] + [{"name": n, "description": title(c)}
                                             for n, c in colls.items()],
        "paths": paths,
        "components": {"schemas": schemas, "parameters": parameters},
    }

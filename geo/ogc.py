"""OGC API - Features, Part 1: Core, as plain functions: parameters in, Python dicts out.

No Flask here (in the spirit of pygeoapi's `(request) -> (headers, status, content)`): the
web layer passes the query string as (name, value) pairs, the chosen format and the base URL
(`http://host/ogc`), and serialises what comes back.  Filtering is `geo.filters`, the same
code the map and the downloads use, so `?district=303&stars=4` means the same everywhere;
features are `geo.export.feature`, the same GeoJSON the downloads write.

Errors are `FilterError(parameter, message)`: the web layer answers 400 naming the parameter.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pandas as pd

from .collections import Collection
from .export import feature, to_features
from . import schema
from .filters import APPLIES, MAX_Q_LENGTH, MAX_RADIUS_KM, DEFAULT_RADIUS_KM
from .filters import Filter, FilterError, apply_filter, parse_filter

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
CONFORMANCE = tuple(_CONF + c for c in ("core", "oas30", "html", "geojson"))

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
FORMATS = ("json", "html")

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


def _description(region) -> str:
    return (f"OCOP products, tourist destinations, former districts and 2025 communes of "
            f"{region.label('en')} as OGC API - Features (GeoJSON, WGS 84 longitude/latitude).")

# Parameters every endpoint takes; the items endpoint adds paging and the shared filter.
DOCUMENT_PARAMS = frozenset({"f"})
PAGING_PARAMS = frozenset({"f", "limit", "offset"})


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
        raise FilterError(name, f"not a whole number: {raw[:20]!r}")
    value = int(raw) if len(raw) <= 18 else 10 ** 18
    if value < minimum:
        raise FilterError(name, f"must be at least {minimum}")
    return value


@dataclass(frozen=True)
class ItemsQuery:
    filter: Filter
    limit: int                        # after clamping to MAX_LIMIT
    offset: int
    params: tuple[tuple[str, str], ...]  # the request's parameters except offset and f

    def key(self) -> tuple:
        """What the page depends on (the raw params: links repeat them as sent)."""
        return self.params, self.limit, self.offset


def parse_items_query(pairs, collection: str, known_districts=None, kinds=None,
                      known_communes=None) -> ItemsQuery:
    """Check and parse an items request's query string.  Raises FilterError.

    `limit` above MAX_LIMIT is clamped, as the standard allows, not refused."""
    args = QueryArgs(pairs)
    check_known(args, PAGING_PARAMS | APPLIES[collection])
    check_not_empty(args)
    output_format(args, "json")
    limit = min(_count(args, "limit", DEFAULT_LIMIT, 1), MAX_LIMIT)
    offset = _count(args, "offset", 0, 0)
    f = parse_filter(args, collection, known_districts=known_districts, kinds=kinds,
                     known_communes=known_communes)
    return ItemsQuery(f, limit, offset, args.without("offset", "f"))


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


def collection(c: Collection, base: str, fmt: str) -> dict:
    path = f"/collections/{c.name}"
    return {
        "id": c.name, "title": title(c), "description": c.description,
        "itemType": "feature", "crs": [CRS84],
        "extent": {"spatial": {"bbox": [bbox(c)], "crs": CRS84}},
        "links": [
            *self_links(base, path, fmt),
            link(url(base, f"{path}/items", [("f", "json")]), "items", GEOJSON,
                 "The features as GeoJSON"),
            link(url(base, f"{path}/items", [("f", "html")]), "items", HTML,
                 "The features as HTML"),
        ],
    }


def collections(colls: dict[str, Collection], base: str, fmt: str) -> dict:
    return {"links": self_links(base, "/collections", fmt),
            "collections": [collection(c, base, fmt) for c in colls.values()]}


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


def items(c: Collection, q: ItemsQuery, base: str, fmt: str, timestamp: str) -> dict:
    """One page of the filtered collection, with the counts the standard recommends."""
    matched = apply_filter(c.frame, q.filter, c.text_columns)
    start = min(q.offset, len(matched))
    page = matched.iloc[start:start + q.limit]
    features = to_features(page, c.fields, c.id_field)
    return {"type": "FeatureCollection", "features": features,
            "links": _page_links(c, q, base, fmt, len(matched)), "timeStamp": timestamp,
            "numberMatched": len(matched), "numberReturned": len(features)}


def item(c: Collection, feature_id: str, base: str, fmt: str) -> dict | None:
    """The feature whose id field equals `feature_id`, or None."""
    rows = c.frame[c.frame[c.id_field].astype(str) == feature_id]
    if rows.empty:
        return None
    row = rows.iloc[0]
    doc = feature(row.to_dict(), row.geometry, c.fields, c.id_field)
    doc["links"] = [
        *self_links(base, feature_path(c.name, feature_id), fmt, GEOJSON),
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
        "properties": {"type": "object", "required": list(c.fields), "properties": {
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
        "extent": {"type": "object", "properties": {"spatial": {"type": "object", "properties": {
            "bbox": {"type": "array", "minItems": 1, "items": {
                "type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}},
            "crs": {"type": "string", "enum": [CRS84]}}}}},
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
            "links": _links_schema(),
            "collections": {"type": "array", "items": _ref("collection")}}},
        **_GEOMETRY_SCHEMAS,
    }


def _array_param(name: str, description: str, items: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": True,
            "description": description, "schema": {"type": "array", "items": items}}


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
                  "description": f"Features per page. Values above {MAX_LIMIT} are served "
                                 f"as {MAX_LIMIT}.",
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                             "default": DEFAULT_LIMIT}},
        "offset": {"name": "offset", "in": "query", "required": False,
                   "description": "Number of matching features to skip (the `next` and "
                                  "`prev` links set it).",
                   "schema": {"type": "integer", "minimum": 0, "default": 0}},
        "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form",
                 "explode": False,
                 "description": "Only features intersecting minlon,minlat,maxlon,maxlat "
                                "(WGS 84, min <= max).",
                 "schema": {"type": "array", "minItems": 4, "maxItems": 4, "items": coords}},
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


def _responses(ok: str, schema: dict, json_type: str = JSON, not_found: bool = False) -> dict:
    error = {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}
    out = {
        "200": {"description": ok, "content": {
            json_type: {"schema": schema}, HTML: {"schema": {"type": "string"}}}},
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
    """Metadata, items with exactly this collection's filters, and one feature."""
    item_op = _op(f"get_{name}_item", f"{c.title_en}: one feature", ["f"],
                  _responses("The feature.", _ref(f"{name}Feature"), GEOJSON, True), name)
    item_op["get"]["parameters"].insert(0, {
        "name": "featureId", "in": "path", "required": True,
        "description": f"The feature's `{c.id_field}`.",
        "schema": {"type": "string", "minLength": 1}})
    return {
        f"/collections/{name}": _op(f"describe_{name}", f"{c.title_en}: metadata", ["f"],
                                    _responses("The collection.", _ref("collection")), name),
        f"/collections/{name}/items": _op(
            f"get_{name}_items", f"{c.title_en}: features",
            ["f", "limit", "offset", *sorted(APPLIES[name])],
            _responses("A page of features.", _ref(f"{name}FeatureCollection"), GEOJSON), name),
        f"/collections/{name}/items/{{featureId}}": item_op,
    }


def openapi(region, colls: dict[str, Collection], base: str, known_districts, kinds, categories,
            stars) -> dict:
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
    for name, c in colls.items():
        schemas[f"{name}Feature"] = _feature_schema(c)
        schemas[f"{name}FeatureCollection"] = _feature_collection_schema(name)
        paths.update(_collection_paths(name, c))
    return {
        "openapi": "3.0.3",
        "info": {"title": region.bilingual_title, "version": "1.0.0",
                 "description": _description(region)},
        "servers": [{"url": base}],
        "tags": [{"name": "Capabilities"}] + [{"name": n, "description": title(c)}
                                             for n, c in colls.items()],
        "paths": paths,
        "components": {"schemas": schemas,
                       "parameters": _parameters(known_districts, kinds, categories, stars)},
    }

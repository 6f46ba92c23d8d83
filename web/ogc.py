"""OGC API - Features under /ogc: a thin layer over geo/ogc.py.

Each view checks the query string, picks JSON or HTML, and serves a body computed once per
data version and request (`state().cached_bounded`: the key holds the Host-derived base URL
and the query, so it must stay bounded) through `serve` (gzip, ETag, 304).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import partial

from flask import Blueprint, Response, abort, jsonify, render_template, request

from geo import crs, ogc
from geo.categories import CATEGORIES, KINDS, STARS
from geo.filters import FilterError

from .responses import bad_parameter, make_cached, serve
from .state import data_written_at, state

bp = Blueprint("ogc", __name__, url_prefix="/ogc")


# -- request helpers ------------------------------------------------------------------------

def base_url() -> str:
    """Links are absolute (GDAL and OWSLib follow them as given)."""
    return f"{request.host_url.rstrip('/')}{request.script_root}{bp.url_prefix}"


def crs_list() -> tuple[str, ...]:
    """The CRSs offered: the fixed ones and the region's local VN-2000 zone."""
    return crs.supported(state().dataset.region.vn2000_lon0)


def query_pairs() -> list[tuple[str, str]]:
    return list(request.args.items(multi=True))


def negotiated() -> str:
    """The Accept header's choice: HTML only when the client prefers it (browsers do)."""
    best = request.accept_mimetypes.best_match(
        [ogc.JSON, ogc.GEOJSON, ogc.OPENAPI, ogc.HTML], default=ogc.JSON)
    return "html" if best == ogc.HTML else "json"


def bad_request(e: FilterError) -> Response:
    return bad_parameter(e.parameter, str(e))


def not_found(fmt: str, message: str) -> Response:
    if fmt == "html":
        return Response(render_template("ogc/error.html", code=404, message=message),
                        status=404, mimetype="text/html")
    resp = jsonify({"code": "NotFound", "description": message})
    resp.status_code = 404
    return resp


def timestamp() -> str:
    """When this data version was written: the newest of its files' times (RFC 3339, UTC).

    Responses are generated once per data version; a time taken from the data, not from the
    process, gives every worker and instance the same bytes and ETags."""
    def written() -> str:
        t = data_written_at(state().dataset.data_dir)
        when = datetime.fromtimestamp(t, timezone.utc) if t else datetime.now(timezone.utc)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    return state().cached(("ogc", "timestamp"), written)


def document_format() -> str:
    """The format for an endpoint that takes only `f`; raises FilterError."""
    args = ogc.QueryArgs(query_pairs())
    ogc.check_known(args, ogc.DOCUMENT_PARAMS)
    return ogc.output_format(args, negotiated())


# -- encoding -------------------------------------------------------------------------------

def encode(doc: dict, fmt: str, template: str, json_type: str, **context):
    """JSON bytes or the rendered page (autoescaped), ready to serve."""
    version = state().version
    if fmt == "html":
        html = render_template(template, doc=doc, **context)
        return make_cached(html.encode("utf-8"), "text/html", version)
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return make_cached(body.encode("utf-8"), json_type, version)


def send(key: tuple, build) -> Response:
    resp = serve(state().cached_bounded(("ogc", *key, base_url()), build), shared=True)
    resp.headers["Vary"] = "Accept, Accept-Encoding"
    return resp


def document(name: str, make_doc, template: str, json_type: str = ogc.JSON, **context):
    """An endpoint whose only parameter is `f`: landing, conformance, collections, api."""
    try:
        fmt = document_format()
    except FilterError as e:
        return bad_request(e)
    base = base_url()
    return send((name, fmt), lambda: encode(make_doc(base, fmt), fmt, template, json_type,
                                            **context))


# -- views ----------------------------------------------------------------------------------

@bp.get("/")
@bp.get("")
def landing():
    return document("landing", partial(ogc.landing, state().dataset.region),
                    "ogc/landing.html")


@bp.get("/conformance")
def conformance():
    return document("conformance", ogc.conformance, "ogc/conformance.html")


@bp.get("/api")
def api():
    st = state()

    def make(base, fmt):
        return ogc.openapi(st.dataset.region, st.collections, base, st.district_codes, list(KINDS),
                           list(CATEGORIES), list(STARS), crs_list())

    return document("api", make, "ogc/api.html", ogc.OPENAPI)


@bp.get("/collections")
def collections():
    colls = state().collections
    return document("collections", partial(ogc.collections, colls, crs_list=crs_list()),
                    "ogc/collections.html")


@bp.get("/collections/<cid>")
def collection(cid: str):
    c = known_collection(cid)
    return document(f"collection:{cid}", partial(ogc.collection, c, crs_list=crs_list()),
                    "ogc/collection.html")


@bp.get("/collections/<cid>/queryables")
def queryables(cid: str):
    c = known_collection(cid)
    return document(f"queryables:{cid}", partial(ogc.queryables, c), "ogc/queryables.html",
                    ogc.SCHEMA_JSON, collection=c)


def known_collection(cid: str):
    """The collection `cid`, else the 404 (in the asked format) is raised."""
    c = state().collections.get(cid)
    if c is None:
        try:
            fmt = ogc.output_format(ogc.QueryArgs(query_pairs()), negotiated())
        except FilterError:
            fmt = "json"
        abort(not_found(fmt, "No such collection; see /ogc/collections."))
    return c


@bp.get("/collections/<cid>/items")
def items(cid: str):
    st, c = state(), known_collection(cid)
    try:
        q = ogc.parse_items_query(query_pairs(), cid, st.district_codes,
                                  set(KINDS), st.commune_codes, crs_list(), c)
        fmt = ogc.output_format(ogc.QueryArgs(query_pairs()), negotiated())
    except FilterError as e:
        return bad_request(e)
    base, ts = base_url(), timestamp()
    fields = [f for f in c.fields if f in (q.properties or c.fields)][:6]
    resp = send(("items", cid, *q.key(), fmt),
                lambda: encode(ogc.items(c, q, base, fmt, ts), fmt, "ogc/items.html",
                               ogc.GEOJSON, collection=ogc.collection(c, base, fmt),
                               fields=fields))
    resp.headers["Content-Crs"] = crs.header(q.crs)
    return resp


@bp.get("/collections/<cid>/items/<fid>")
def item(cid: str, fid: str):
    c = known_collection(cid)
    try:
        fmt, out_crs = ogc.parse_item_query(query_pairs(), negotiated(), crs_list())
    except FilterError as e:
        return bad_request(e)
    base = base_url()
    doc = ogc.item(c, fid, base, fmt, out_crs)
    if doc is None:
        return not_found(fmt, f"No feature with this {c.id_field} in {c.name}.")
    resp = send(("item", cid, fid, fmt, out_crs),
                lambda: encode(doc, fmt, "ogc/item.html", ogc.GEOJSON,
                               collection=ogc.collection(c, base, fmt)))
    resp.headers["Content-Crs"] = crs.header(out_crs)
    return resp


@bp.app_template_filter("ogc_values")
def ogc_values(value) -> list:
    """A property as a list of values for display (lists stay lists, None is empty)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]

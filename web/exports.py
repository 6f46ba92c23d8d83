"""Downloads: /export/<collection>.<format>, filtered by the same parameters as the map.

A format may have a two-part suffix (`shp.zip`, a zipped shapefile); `csvt` is the CSV's GDAL
type sidecar, named like the CSV of the same filters."""
from __future__ import annotations

from functools import partial

from flask import Blueprint, abort, request

from geo.categories import KINDS
from geo.export import FORMATS, column_types, export
from geo.filters import FILTER_PARAMS, FilterError, apply_filter, parse_filter

from .responses import bad_parameter, make_cached, serve
from .state import state

bp = Blueprint("exports", __name__, url_prefix="/export")


bad_request = bad_parameter


def filter_from_request(collection_name: str):
    """The Filter for this request, or a 400 response naming the parameter."""
    st = state()
    unknown = sorted(set(request.args) - FILTER_PARAMS)
    if unknown:
        return None, bad_request(unknown[0], f"unknown parameter {unknown[0][:40]!r}")
    try:
        f = parse_filter(request.args, collection_name,
                         known_districts=st.district_codes, kinds=set(KINDS),
                         known_communes=st.commune_codes)
    except FilterError as e:
        return None, bad_request(e.parameter, str(e))
    return f, None


def _build(name: str, fmt: str, f):
    st = state()
    c = st.collections[name]
    frame = apply_filter(c.frame, f, c.text_columns)
    body = export(frame, c.fields, fmt, layer=name, id_field=c.id_field,
                  name_field="name", geometry_type=c.geometry_type, types=column_types(name))
    return make_cached(body, FORMATS[fmt][0], st.version)


@bp.get("/<collection>.<fmt>")
def download(collection: str, fmt: str):
    st = state()
    if "." in collection:       # a two-part suffix: products.shp.zip
        collection, first = collection.split(".", 1)
        fmt = f"{first}.{fmt}"
    if collection not in st.collections:
        return bad_request("collection", f"unknown collection; expected one of "
                                         f"{', '.join(st.collections)}")
    if fmt not in FORMATS:
        return bad_request("format", f"unknown format; expected one of {', '.join(FORMATS)}")
    f, error = filter_from_request(collection)
    if error:
        return error
    cached = st.cached_bounded(("export", collection, fmt, f), partial(_build, collection, fmt, f))
    resp = serve(cached, shared=True)      # public downloads
    suffix = "" if f.is_empty() else "-filtered"
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="{st.dataset.region.id}-{collection}{suffix}.'
        f'{FORMATS[fmt][1]}"')
    return resp


@bp.get("/")
def index():
    abort(404)

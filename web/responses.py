"""Responses computed once per data version: bytes, their gzip, and an ETag."""
from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass

from flask import Response, jsonify, request

from .fastpath import mark_shared


@dataclass(frozen=True)
class Cached:
    body: bytes
    gz: bytes
    etag: str
    mimetype: str
    version: str


def make_cached(body: bytes, mimetype: str, version: str) -> Cached:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return Cached(body, gzip.compress(body, compresslevel=9, mtime=0), f"{version}-{digest}",
                  mimetype, version)


def serve(cached: Cached, max_age: int = 0, shared: bool = False) -> Response:
    """Send a cached body: 304 on a matching If-None-Match, gzip when the client takes it.

    `shared=True` says the response depends only on the request line, the headers
    web/fastpath.py keys on and the data version (nothing per user), so the fast path may
    answer the same request again without Flask.  Say it only for public data."""
    if shared:
        mark_shared(request.environ, cached.version)
    if cached.etag in request.if_none_match:
        resp = Response(status=304)
    elif "gzip" in request.accept_encodings:
        resp = Response(cached.gz, mimetype=cached.mimetype)
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = Response(cached.body, mimetype=cached.mimetype)
    resp.set_etag(cached.etag)
    resp.headers["Vary"] = "Accept-Encoding"
    resp.cache_control.public = True
    if max_age:
        resp.cache_control.max_age = max_age
    else:
        resp.cache_control.no_cache = True
    return resp


def bad_parameter(parameter: str, message: str, status: int = 400) -> Response:
    """The one error body for a bad or unknown query parameter, on every endpoint (downloads,
    OGC API, oEmbed, handbook): OGC API's exception shape with the parameter's name."""
    resp = jsonify({"code": "InvalidParameterValue", "description": message,
                    "parameter": parameter})
    resp.status_code = status
    return resp

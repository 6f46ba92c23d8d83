"""CORS for the public data: downloads (/export/...), the OGC API (/ogc...), oEmbed
(/oembed, which a site's script may ask for its snippet) and the map's versioned scripts and
popups (/map/...: an embed in an iframe sandboxed without allow-same-origin has the origin
`null`, so even its own popups are a cross-origin fetch).

The data is public, so any origin may read it: `Access-Control-Allow-Origin: *` (no cookies
or credentials are involved) on every answer under those paths, errors and 304s included, and
a preflight OPTIONS answered with 204.  Every other path (the map pages, /admin) gets none.
The headers are added in Flask, so the fast path (web/fastpath.py) records and replays them.
"""
from __future__ import annotations

from flask import Flask, Response, request

PREFIXES = ("/export/", "/ogc/", "/map/")
PATHS = ("/ogc", "/oembed")
METHODS = "GET, HEAD, OPTIONS"
EXPOSED = ("ETag", "Link", "Content-Crs", "Content-Disposition")
MAX_AGE = "86400"


def is_public_data(path: str) -> bool:
    return path in PATHS or path.startswith(PREFIXES)


def register_cors(app: Flask) -> None:
    @app.before_request
    def preflight():
        if request.method == "OPTIONS" and is_public_data(request.path):
            resp = Response(status=204)
            resp.headers["Allow"] = resp.headers["Access-Control-Allow-Methods"] = METHODS
            asked = request.headers.get("Access-Control-Request-Headers", "")
            if asked:
                # Echo what was asked (tokens only): reading public data needs no secrets.
                names = [h.strip() for h in asked.split(",") if h.strip()]
                resp.headers["Access-Control-Allow-Headers"] = ", ".join(
                    n for n in names if n.replace("-", "").isalnum())
            resp.headers["Access-Control-Max-Age"] = MAX_AGE
            return resp
        return None

    @app.after_request
    def allow_origin(resp):
        if is_public_data(request.path):
            resp.headers["Access-Control-Allow-Origin"] = "*"
            exposed = [h for h in EXPOSED if h in resp.headers]
            if exposed:
                resp.headers["Access-Control-Expose-Headers"] = ", ".join(exposed)
        return resp

"""Security headers for every response: CSP with a per-request nonce, framing rules, nosniff.

Scripts run only from our origin or with this request's nonce; no inline script runs without
it, so injected markup cannot execute.  The tile server is the only outside origin a page may
load from.  /embed may be framed by the origins in EMBED_ORIGINS; every other page only by us.
The service worker (web/offline.py), whose fetches its own CSP governs, may also reach the tile
server: it keeps the tiles seen for offline use.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request

from .fastpath import NONCE_KEY

EMBED_ENDPOINTS = {"maps.embed"}
WORKER_ENDPOINTS = {"offline.service_worker"}


def nonce() -> str:
    """This request's CSP nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = request.environ[NONCE_KEY] = secrets.token_urlsafe(16)
    return g.csp_nonce


def tile_source(tile_url: str) -> str:
    """The CSP source for a Leaflet tile template: https://{s}.tile.x/… -> https://*.tile.x"""
    parts = urlsplit(tile_url.replace("{s}", "s-placeholder"))
    host = (parts.hostname or "").replace("s-placeholder", "*")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme and host else ""


def embed_origins(config) -> list[str]:
    """The origins allowed to frame /embed: checked at start-up (web/settings.py), where a
    comma, a path or a missing scheme stops the app instead of making a broken header."""
    value = config.get("EMBED_ORIGINS") or ""
    return value.split() if isinstance(value, str) else list(value)


def policy(frame_ancestors: str, worker: bool = False) -> str:
    tiles = tile_source(current_app.config["TILE_URL"])
    parts = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce()}'",
        "style-src 'self' 'unsafe-inline'",  # Leaflet positions everything with style attributes
        f"img-src 'self' data: {tiles}".strip(),
        f"connect-src 'self' {tiles}".strip() if worker else "connect-src 'self'",
        "font-src 'self'",
        "worker-src 'self'",       # only our own /sw.js
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ]
    return "; ".join(parts)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def headers(resp):
        if request.endpoint in EMBED_ENDPOINTS:
            allowed = embed_origins(current_app.config)
            ancestors = "*" if "*" in allowed else " ".join(["'self'", *allowed])
        else:
            ancestors = "'self'"
            resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        resp.headers["Content-Security-Policy"] = policy(
            ancestors, worker=request.endpoint in WORKER_ENDPOINTS)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        return resp

"""Answer repeat requests for cached responses before Flask runs.

Downloads, OGC API responses and the map's versioned scripts are computed once per data version
(web/responses.py).  Even so, Flask's request handling (routing, contexts, hooks, header
objects) costs several times what sending those bytes does.  `serve()` marks a response as
*shared*: its bytes depend only on the request's line and the headers in `KEY_HEADERS`, and on
the data version (the map pages too, but for the CSP nonce in their markup, which is replaced
by a fresh one in the header and the body of every answer).  This WSGI layer records such a
response once (status, headers, body) and answers the same request again directly, until the
data version changes.

It keeps every rule Flask applied: the recorded headers are the final ones (security headers,
ETag, Vary, Content-Disposition), with a fresh CSP nonce per response.  Conditional, ranged or
authorised requests, and anything that is not a plain GET, go through Flask as before.
Configuration is read once, at start-up (as everywhere in the app): a changed setting needs a
restart, after which nothing recorded before is left.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

SHARED = "ocop.shared_response"   # environ: the data version of a shared response (serve())
NONCE_IN_BODY = "ocop.nonce_in_body"  # environ: the page carries its nonce (the map pages)
NONCE_KEY = "ocop.csp_nonce"      # environ: the CSP nonce of this request (web.security)
NONCE_SLOT = "\x00nonce\x00"
MAX_ENTRIES = 2048                # keys come from query strings: keep the memory bounded
KEY_HEADERS = ("SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "wsgi.url_scheme", "HTTP_HOST",
               "SERVER_NAME", "SERVER_PORT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING",
               "HTTP_ACCEPT_LANGUAGE", "HTTP_COOKIE")
# Requests whose answer may differ from the recorded one: left to Flask.
BYPASS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_RANGE", "HTTP_AUTHORIZATION",
          "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO", "HTTP_FORWARDED")
# Set by web/proxy.py once the forwarded headers are applied to the environ (then in the key)
# or overridden by PUBLIC_URL: they no longer make a request differ.
FORWARDED_APPLIED = "ocop.forwarded_applied"
FORWARDED = ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO")


@dataclass(frozen=True)
class Recorded:
    version: str
    status: str
    headers: tuple       # (name, value) pairs; the CSP nonce replaced by NONCE_SLOT
    body: tuple          # the body's parts around its CSP nonce (one part if it has none)
    csp_at: int | None   # index of the Content-Security-Policy header, if any


def mark_shared(environ, version: str, nonce_in_body: bool = False) -> None:
    """Declare this request's response shared (see above) for data version `version`;
    `nonce_in_body`: its markup holds the request's CSP nonce, to be renewed on each answer."""
    environ[SHARED] = version
    if nonce_in_body:
        environ[NONCE_IN_BODY] = True


def request_key(environ) -> tuple | None:
    """The cache key of a request, or None when it must go through Flask."""
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    applied = environ.get(FORWARDED_APPLIED)
    for name in BYPASS:
        if name in environ and not (applied and name in FORWARDED):
            return None
    return tuple(environ.get(name) for name in KEY_HEADERS)


def with_slot(headers, nonce: str | None) -> tuple:
    if not nonce:
        return tuple(headers)
    return tuple((k, v.replace(nonce, NONCE_SLOT) if k == "Content-Security-Policy" else v)
                 for k, v in headers)


def fresh(entry: Recorded) -> tuple[list, bytes]:
    """The recorded headers and body with a new nonce: each response has its own, as when
    Flask renders it."""
    token = secrets.token_urlsafe(16)
    headers = list(entry.headers)
    if entry.csp_at is not None:
        name, value = headers[entry.csp_at]
        headers[entry.csp_at] = (name, value.replace(NONCE_SLOT, token))
    body = entry.body[0] if len(entry.body) == 1 else token.encode("ascii").join(entry.body)
    return headers, body


class FastPath:
    """WSGI middleware over `app.wsgi_app`; `current_version()` is the data version now."""

    def __init__(self, wsgi_app, current_version, nonce_of):
        self.wsgi_app = wsgi_app
        self.current_version = current_version   # () -> str, cheap (checks files <= 1/s)
        self.nonce_of = nonce_of                 # environ -> the CSP nonce Flask used, or None
        self.entries: dict[tuple, Recorded] = {}
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        key = request_key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        version = self.current_version()
        hit = self.entries.get(key)
        if hit is not None and hit.version == version:
            headers, body = fresh(hit)
            start_response(hit.status, headers)
            return [body]
        captured = {}

        def recording_start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, recording_start_response)
        if environ.get(SHARED) != version or not captured.get("status", "").startswith("200"):
            return result
        if any(k.lower() == "set-cookie" for k, _ in captured["headers"]):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        nonce = self.nonce_of(environ)
        parts = (body,)
        if environ.get(NONCE_IN_BODY):
            # A page whose markup holds the nonce: only plain bytes can have it swapped.
            if not nonce or any(k.lower() == "content-encoding" for k, _ in captured["headers"]):
                return [body]
            parts = tuple(body.split(nonce.encode("ascii")))
        headers = with_slot(captured["headers"], nonce)
        csp_at = next((i for i, (k, _) in enumerate(headers)
                       if k == "Content-Security-Policy"), None)
        entry = Recorded(version, captured["status"], headers, parts, csp_at)
        with self.lock:
            oldest = next(iter(self.entries.values()), entry)
            if len(self.entries) >= MAX_ENTRIES or oldest.version != version:
                self.entries.clear()
            self.entries[key] = entry
        return [body]


def install(app) -> None:
    """Put the fast path in front of `app` (a Flask app with the OCOP state)."""
    from .state import refresh_state

    def current_version() -> str:
        refresh_state(app)
        return app.extensions["ocop"].version

    app.wsgi_app = FastPath(app.wsgi_app, current_version, lambda env: env.get(NONCE_KEY))

"""The site's public address behind reverse proxies, set once at the WSGI layer.

Every absolute URL the app makes (oEmbed, the discovery link, OGC API links, the embed
builder, the handbook's QR codes on the web, sitemaps) comes from the request's environ
(`url_for(..., _external=True)`, `request.host_url`, `request.url_root`), so rewriting the
environ here makes them all follow, with no code in the views:

- `TRUSTED_PROXIES = N`: the N proxies in front set `X-Forwarded-For`, `-Proto`, `-Host` and
  `-Prefix` (werkzeug's ProxyFix takes the value the Nth proxy from us wrote; what a client
  sent itself is ignored). 0, the default: the headers are ignored.
- `PUBLIC_URL`: the scheme, host and path prefix of every request are the URL's, whatever the
  proxies say (the client's address still comes from `X-Forwarded-For` when trusted).

Both wrap the fast path (web/fastpath.py), whose cache key then holds the rewritten scheme,
host and prefix: an http and an https answer are recorded apart.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

from .fastpath import FORWARDED_APPLIED


class Applied:
    """Tells the fast path that the forwarded headers were applied (or overridden) above it."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ[FORWARDED_APPLIED] = True
        return self.wsgi_app(environ, start_response)


class PublicURL:
    """Every request as if made to `public_url` (scheme, host, port, path prefix)."""

    def __init__(self, wsgi_app, public_url: str):
        parts = urlsplit(public_url)
        self.wsgi_app = wsgi_app
        self.environ = {
            "wsgi.url_scheme": parts.scheme,
            "HTTP_HOST": parts.netloc,
            "SERVER_NAME": parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]",
            "SERVER_PORT": str(parts.port or (443 if parts.scheme == "https" else 80)),
            # The proxy strips the prefix from the path it passes on, as for X-Forwarded-Prefix.
            "SCRIPT_NAME": parts.path.rstrip("/"),
        }

    def __call__(self, environ, start_response):
        environ.update(self.environ)
        return self.wsgi_app(environ, start_response)


def install(app) -> None:
    """Wrap `app.wsgi_app` (after the fast path is installed) as the settings say."""
    public, trusted = app.config.get("PUBLIC_URL"), app.config.get("TRUSTED_PROXIES", 0)
    if not public and not trusted:
        return
    wsgi_app = Applied(app.wsgi_app)
    if public:
        wsgi_app = PublicURL(wsgi_app, public)
    if trusted:
        wsgi_app = ProxyFix(wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted,
                            x_prefix=trusted)
    app.wsgi_app = wsgi_app

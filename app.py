"""The application factory: `flask --app app run` serves the map on the data in data/."""
from __future__ import annotations

import os
from pathlib import Path

import click
from flask import Flask
from flask_babel import Babel
from flask_compress import Compress

from geo.load import DataError, load_dataset
from web import admin, assets, exports, maps, offline, ogc, pages, stats_pages
from web.errors import register_errors
from web.security import register_security_headers
from web.cors import register_cors
from web.i18n import DEFAULT_LANG, register_language_header, select_locale
from web.state import build_state
from web import cli as ocop_cli
from web import static_site
from web import handbook as handbook_web
from web import fastpath
from web import product_pages
from web import proxy, settings

ROOT = Path(__file__).resolve().parent

DEFAULTS = {
    "DATA_DIR": str(ROOT / "data"),
    # Tiles are the only outside origin a page loads from; point this at your own tile server.
    "TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    # Origins allowed to frame /embed, space-separated; "*" only if you mean every site.
    "EMBED_ORIGINS": "",
    # The site's public address behind proxies (web/proxy.py): "" = each request's own, as
    # the TRUSTED_PROXIES in front forward it (0: X-Forwarded-* headers are ignored).
    "PUBLIC_URL": "",
    "TRUSTED_PROXIES": 0,
    # The WSGI layer that answers repeat requests for public cached responses before Flask
    # (web/fastpath.py); off: every request goes through Flask.
    "FASTPATH": True,
    "TILE_ATTRIBUTION": '&copy; <a href="https://www.openstreetmap.org/copyright">'
                        "OpenStreetMap</a> contributors",
    # /admin (web/admin.py, web/accounts.py): accounts file ("" = <DATA_DIR>/.history/users.json),
    # session cookie (HttpOnly is Flask's default; Secure off only for local http), login
    # limits (failures per address and per account name), uploads.
    "ADMIN_ACCOUNTS_FILE": "",
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "LOGIN_LIMITS_PER_ADDRESS": "5 per 15 minutes; 10 per hour; 20 per day",
    "LOGIN_LIMITS_PER_ACCOUNT": "5 per 15 minutes; 10 per hour; 20 per day",
    "LOGIN_LIMITS_STORAGE": "memory://",
    "UPLOAD_MAX_BYTES": 50 * 1024 * 1024,
    "UPLOAD_KEEP_HOURS": 24,
    "UPLOADS_MAX_TOTAL_BYTES": 500 * 1024 * 1024,
}
# Static and vendor files are compressed on the fly; cached pages carry their own gzip.
I18N = {"BABEL_DEFAULT_LOCALE": DEFAULT_LANG,
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations")}
COMPRESS = {"COMPRESS_MIMETYPES": ["text/css", "text/javascript", "application/javascript",
                                   "application/json", "application/geo+json", "image/svg+xml"]}


def create_app(config: dict | None = None) -> Flask:
    """Build the app.  Settings: DEFAULTS, then OCOP_* environment variables, then `config`."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(DEFAULTS, **COMPRESS, **I18N)
    known = set(app.config)            # an OCOP_* variable naming none of these is a typo
    app.config.from_prefixed_env("OCOP")
    app.config.update(config or {})
    try:
        # Every setting checked before anything runs (web/settings.py).
        app.config.update(settings.validate(app.config, known=known, environ=os.environ))
    except settings.SettingsError as e:
        raise click.ClickException(f"{e}\nFix the setting(s) above; nothing was served.") from e
    app.json.ensure_ascii = False
    try:
        dataset = load_dataset(app.config["DATA_DIR"])
    except DataError as e:
        # Refuse to serve wrong data; the CLI shows this message without a traceback.
        raise click.ClickException(f"{e}\nFix the file(s) above; nothing was served.") from e
    app.extensions["ocop"] = build_state(dataset)
    # The region (data/region.json) names every page; the state may be swapped on reload.
    app.context_processor(lambda: {"region": app.extensions["ocop"].dataset.region})
    Compress(app)
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(maps.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(ogc.bp)
    app.register_blueprint(stats_pages.bp)
    app.register_blueprint(handbook_web.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(offline.bp)   # manifest, favicon, service worker
    app.register_blueprint(product_pages.bp)   # /products/<id>, /destinations/<id>, sitemap
    register_errors(app)
    register_security_headers(app)
    register_cors(app)
    register_language_header(app)
    ocop_cli.init_app(app)
    static_site.init_app(app)
    handbook_web.init_app(app)
    if app.config["FASTPATH"]:
        fastpath.install(app)
    # Outside the fast path, whose cache key must see the public scheme, host and prefix.
    proxy.install(app)
    return app

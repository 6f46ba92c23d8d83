"""The application factory: `flask --app app run` serves the map on the data in data/."""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask_compress import Compress

from geo.load import DataError, load_dataset
from web import assets, exports, pages
from web.errors import register_errors
from web.state import build_state

ROOT = Path(__file__).resolve().parent

DEFAULTS = {
    "DATA_DIR": str(ROOT / "data"),
    # Tiles are the only outside origin a page loads from; point this at your own tile server.
    "TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "TILE_ATTRIBUTION": '&copy; <a href="https://www.openstreetmap.org/copyright">'
                        "OpenStreetMap</a> contributors",
}
# Static and vendor files are compressed on the fly; cached pages carry their own gzip.
COMPRESS = {"COMPRESS_MIMETYPES": ["text/css", "text/javascript", "application/javascript",
                                   "application/json", "application/geo+json", "image/svg+xml"]}


def create_app(config: dict | None = None) -> Flask:
    """Build the app.  Settings: DEFAULTS, then OCOP_* environment variables, then `config`."""
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(DEFAULTS, **COMPRESS)
    app.config.from_prefixed_env("OCOP")
    app.config.update(config or {})
    app.json.ensure_ascii = False
    try:
        dataset = load_dataset(app.config["DATA_DIR"])
    except DataError as e:
        # Refuse to serve wrong data; the CLI shows this message without a traceback.
        raise click.ClickException(f"{e}\nFix the file(s) above; nothing was served.") from e
    app.extensions["ocop"] = build_state(dataset)
    Compress(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(exports.bp)
    register_errors(app)
    return app

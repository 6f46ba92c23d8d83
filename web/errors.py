"""Plain error pages in the request's language: no traceback, nothing from the request
echoed unescaped."""
from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import HTTPException

from .plain_page import render_page

# Codes with a name of their own in web/i18n.py; any other says error_other.
NAMED = (400, 403, 404, 405, 413, 500)


def register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # Keep the exception's own headers (a 405's Allow, RFC 9110), not its body's type.
        headers = [(k, v) for k, v in e.get_headers() if k.lower() != "content-type"]
        key = f"error_{e.code}" if e.code in NAMED else "error_other"
        return render_page("error.html", code=e.code, key=key), e.code, headers

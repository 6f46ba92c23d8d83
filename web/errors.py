"""Plain error pages: no traceback, nothing from the request echoed unescaped."""
from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # Keep the exception's own headers (a 405's Allow, RFC 9110), not its body's type.
        headers = [(k, v) for k, v in e.get_headers() if k.lower() != "content-type"]
        return render_template("error.html", code=e.code, name=e.name), e.code, headers

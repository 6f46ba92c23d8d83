"""Plain error pages: no traceback, nothing from the request echoed unescaped."""
from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def register_errors(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        return render_template("error.html", code=e.code, name=e.name), e.code

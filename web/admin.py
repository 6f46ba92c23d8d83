"""/admin: officials' web import, login required (the public /stats and /expiring are in
web/stats_pages.py).

/admin is off unless both `SECRET_KEY` (OCOP_SECRET_KEY) and `ADMIN_PASSWORD_HASH`
(OCOP_ADMIN_PASSWORD_HASH, made with werkzeug.security.generate_password_hash) are set:
there is no default password.  Every form carries a CSRF token bound to the session.  An
upload is checked first (the same report as `flask --app app ocop check`); "Apply" then
imports it with the same all-or-nothing, atomic, locked write as `ocop import`.
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, request, session, url_for
from werkzeug.security import check_password_hash

from geo import importer
from geo.load import MAX_FILE_BYTES
from geo.store import HISTORY, StoreError

from .i18n import messages
from .plain_page import page_lang, render_page
from .state import refresh_state, state

bp = Blueprint("ocop_admin", __name__)

# -- /admin ---------------------------------------------------------------------------------

def _enabled() -> bool:
    return bool(current_app.config.get("ADMIN_PASSWORD_HASH")
                and current_app.config.get("SECRET_KEY"))


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_request
def _guard():
    if not request.path.startswith("/admin"):
        return None
    if not _enabled():
        return render_page("admin.html", switch_path=url_for("ocop_admin.index"),
                           disabled=True), 404
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            abort(400, "CSRF token missing or wrong")
        if request.endpoint != "ocop_admin.login" and not session.get("admin"):
            abort(403)
    return None


def _uploads() -> Path:
    p = Path(current_app.config["DATA_DIR"]) / HISTORY / "uploads"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _page(**kw):
    # The language switch of a POST's answer goes to /admin (a GET of the form's URL is a 405).
    return render_page("admin.html", switch_path=url_for("ocop_admin.index"), csrf=_csrf(),
                       logged_in=bool(session.get("admin")), version=state().version, **kw)


def _say(key: str, **values) -> str:
    return messages()[key].format(**values)


@bp.get("/admin")
def index():
    return _page()


@bp.post("/admin/login")
def login():
    if check_password_hash(current_app.config["ADMIN_PASSWORD_HASH"],
                           request.form.get("password", "")):
        session.clear()
        session["admin"] = True
        _csrf()
        return redirect(url_for("ocop_admin.index", lang=page_lang()))
    return _page(message=_say("wrong_password")), 403


@bp.post("/admin/logout")
def logout():
    session.clear()
    return redirect(url_for("ocop_admin.index", lang=page_lang()))


def _opts(form) -> dict:
    return {"kind": form.get("kind") or None, "crs": form.get("crs") or None,
            "repair": form.get("repair") == "1", "replace": form.get("replace") == "1"}


@bp.post("/admin/check")
def check():
    if request.content_length and request.content_length > MAX_FILE_BYTES + 2**20:
        abort(413)
    f = request.files.get("file")
    if f is None or not f.filename:
        return _page(message=_say("admin_choose_file")), 400
    ext = "".join(Path(f.filename).suffixes[-2:]).lower()
    ext = ext if ext == ".shp.zip" else Path(f.filename).suffix.lower()
    token = secrets.token_hex(16)
    path = _uploads() / f"{token}{ext if ext.replace('.', '').isalnum() else ''}"
    f.save(path)
    opts = _opts(request.form)
    out = importer.import_file(current_app.config["DATA_DIR"], path, apply=False, **opts)
    options = {k: ("1" if v is True else v) for k, v in opts.items() if v}
    return _page(report=out, token=token if out.ok else None, options=options,
                 upload_name=f.filename)


@bp.post("/admin/apply")
def apply():
    token = request.form.get("upload", "")
    if not token.isalnum():
        abort(400)
    found = list(_uploads().glob(f"{token}*"))
    if len(found) != 1:
        return _page(message=_say("admin_upload_gone")), 400
    try:
        out = importer.import_file(current_app.config["DATA_DIR"], found[0],
                                   note="web import by admin", **_opts(request.form))
    except StoreError as e:
        return _page(message=str(e)), 409
    if out.ok and out.version:
        found[0].unlink()
        refresh_state(current_app, force=True)
        return _page(message=_say("admin_imported", added=out.added, replaced=out.replaced,
                                  version=out.version, previous=out.previous)), 200
    return _page(report=out, message=_say("admin_nothing_changed")), 400



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

from flask import (Blueprint, abort, current_app, redirect, render_template_string,
                   request, session, url_for)
from werkzeug.security import check_password_hash

from geo import importer
from geo.load import MAX_FILE_BYTES
from geo.store import HISTORY, StoreError

from .plain_page import PAGE
from .state import refresh_state, state

bp = Blueprint("ocop_admin", __name__)

ADMIN = PAGE.replace("{% block body %}{% endblock %}", """
{% if message %}<p role="status">{{ message }}</p>{% endif %}
{% if not logged_in %}
<form method="post" action="{{ url_for('ocop_admin.login') }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button>Log in</button></form>
{% else %}
<p>Data version {{ version }}. <form method="post" action="{{ url_for('ocop_admin.logout') }}" style="display:inline">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><button>Log out</button></form></p>
{% if report %}
<h2>Check of {{ report.imp.path.name if not upload_name else upload_name }}</h2>
<p>{{ report.imp.format }} file, {{ report.imp.kind }}, {{ report.imp.features|length }} row(s);
coordinates from {{ report.imp.crs }}.</p>
<ul>{% for p in report.problems %}<li class="{{ p.severity }}">{{ p }}</li>{% else %}<li>No problems.</li>{% endfor %}</ul>
{% if report.ok and token %}
<p>Applying adds {{ report.added }} and replaces {{ report.replaced }} {{ report.imp.kind }}.</p>
<form method="post" action="{{ url_for('ocop_admin.apply') }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="upload" value="{{ token }}">
{% for k, v in options.items() %}<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}
<button>Apply</button></form>
{% elif not report.ok %}<p>The file has errors: nothing can be applied.</p>{% endif %}
{% endif %}
<h2>Check a file</h2>
<form method="post" action="{{ url_for('ocop_admin.check') }}" enctype="multipart/form-data">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<p><label>File (CSV, XLSX, GeoJSON, KML, zipped shapefile, GPKG) <input type="file" name="file" required></label></p>
<p><label>Kind <select name="kind"><option value="">guess</option><option>products</option>
<option>destinations</option><option>districts</option></select></label>
<label>CRS <input name="crs" placeholder="EPSG:3405"></label>
<label><input type="checkbox" name="repair" value="1"> repair polygons</label>
<label><input type="checkbox" name="replace" value="1"> replace the whole collection</label></p>
<button>Check</button></form>
{% endif %}""")


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
        return render_template_string(PAGE.replace("{% block body %}{% endblock %}",
                                      "<p>The web import is disabled: set "
                                      "OCOP_SECRET_KEY and OCOP_ADMIN_PASSWORD_HASH.</p>"),
                                      title="Admin"), 404
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
    return render_template_string(ADMIN, title="OCOP data: import", csrf=_csrf(),
                                  logged_in=bool(session.get("admin")),
                                  version=state().version, **kw)


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
        return redirect(url_for("ocop_admin.index"))
    return _page(message="Wrong password."), 403


@bp.post("/admin/logout")
def logout():
    session.clear()
    return redirect(url_for("ocop_admin.index"))


def _opts(form) -> dict:
    return {"kind": form.get("kind") or None, "crs": form.get("crs") or None,
            "repair": form.get("repair") == "1", "replace": form.get("replace") == "1"}


@bp.post("/admin/check")
def check():
    if request.content_length and request.content_length > MAX_FILE_BYTES + 2**20:
        abort(413)
    f = request.files.get("file")
    if f is None or not f.filename:
        return _page(message="Choose a file."), 400
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
        return _page(message="That upload is gone; check the file again."), 400
    try:
        out = importer.import_file(current_app.config["DATA_DIR"], found[0],
                                   note="web import by admin", **_opts(request.form))
    except StoreError as e:
        return _page(message=str(e)), 409
    if out.ok and out.version:
        found[0].unlink()
        refresh_state(current_app, force=True)
        return _page(message=f"Imported: {out.added} added, {out.replaced} replaced; data "
                             f"version {out.version} (before: {out.previous})."), 200
    return _page(report=out, message="Nothing was changed."), 400



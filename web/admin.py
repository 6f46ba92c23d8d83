"""/admin: officials' web import, login required (the public /stats and /expiring are in
web/stats_pages.py).

* **Accounts** (web/accounts.py): named accounts made with `flask --app app ocop user add NAME`
  (web/cli_users.py); `ADMIN_PASSWORD_HASH` still works as the account "admin".  /admin is off
  (404) without `SECRET_KEY` or without any account.
* **Sessions** with Flask-Login.  The session names the account and its current session key;
  logging out (or a new password, or removing the account) draws a new key, so a cookie
  issued before, copied or not, no longer logs anyone in.  The cookie is HttpOnly,
  SameSite=Lax and Secure (`SESSION_COOKIE_SECURE`, on by default).
* **Forms** are Flask-WTF forms; every POST to /admin is CSRF-checked (Flask-WTF's
  CSRFProtect, called here so only /admin is concerned); a failed check is a 400 page saying
  so in the page's language, with a link back.
* **Login attempts** are limited with Flask-Limiter: failures (only failures count) per remote
  address and per account name (`LOGIN_LIMITS_PER_ADDRESS`, `LOGIN_LIMITS_PER_ACCOUNT`, each
  a list of windows, e.g. 5 per 15 minutes; 10 per hour; 20 per day: the wait grows).  Over a
  limit the answer is 429 with Retry-After, and the password is not even checked.
* **Uploads** are bounded while the body streams in: before anything reads the body, the
  request's `max_content_length` is set (`UPLOAD_MAX_BYTES` plus room for the form's other
  fields for a logged-in check, a few KiB for everything else), so werkzeug refuses a longer
  Content-Length up front and stops a chunked body at the limit (413).  An anonymous POST is
  refused (403) before its body is read.  Uploads not applied are deleted after
  `UPLOAD_KEEP_HOURS`, on every check; their folder holds at most `UPLOADS_MAX_TOTAL_BYTES`.
* **Audit** (web/audit.py): every login (success and failure), logout, check and apply is a
  line in `<data dir>/.history/audit.jsonl`; /admin shows the latest.

An upload is checked first (the same report as `flask --app app ocop check`); "Apply" then
imports it with the same all-or-nothing, atomic, locked write as `ocop import`.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_limiter import Limiter
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from geo import importer
from geo.handbook_maps import data_uri
from geo.import_diff import diff_map_svg
from geo.store import HISTORY, StoreError

from . import audit
from .accounts import AccountError, Accounts, normalise
from .i18n import messages
from .plain_page import page_lang, render_page
from .state import refresh_state, state

bp = Blueprint("ocop_admin", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()

FORM_ROOM = 64 * 1024          # the other fields of the upload form, multipart boundaries
SMALL_FORM = 16 * 1024         # any other /admin form (login, logout, apply)
AUDIT_SHOWN = 50


# -- accounts and sessions -----------------------------------------------------------------

class User(UserMixin):
    def __init__(self, name: str, session_key: str):
        self.name, self.session_key = name, session_key

    def get_id(self) -> str:
        return f"{self.name}:{self.session_key}"


def accounts() -> Accounts:
    return Accounts.for_config(current_app.config)


@login_manager.user_loader
def _load_user(session_id: str):
    name, _, key = (session_id or "").partition(":")
    try:
        acct = accounts().get(name)
    except AccountError:
        return None
    if acct is None or not key or not secrets.compare_digest(acct.session_key, key):
        return None          # logged out, password changed, account removed: ended
    return User(acct.name, acct.session_key)


def _enabled() -> bool:
    return bool(current_app.config.get("SECRET_KEY")) and accounts().any()


def _address() -> str:
    return request.remote_addr or "unknown"


def _audit(action: str, ok: bool = True, user: str | None = None, **detail) -> None:
    if user is None and current_user.is_authenticated:
        user = current_user.name
    audit.record(current_app.config["DATA_DIR"], action, user=user, address=_address(), ok=ok,
                 **detail)


# -- forms ---------------------------------------------------------------------------------

class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=40)])
    password = PasswordField(validators=[DataRequired(), Length(max=1024)])


class UploadForm(FlaskForm):
    file = FileField()
    kind = SelectField(choices=["", "products", "destinations", "districts"], default="",
                       validate_choice=False)
    crs = StringField(validators=[Length(max=200)])
    repair = BooleanField()
    replace = BooleanField()


class ApplyForm(FlaskForm):
    upload = HiddenField(validators=[DataRequired(), Length(max=64)])
    kind = HiddenField()
    crs = HiddenField()
    repair = HiddenField()
    replace = HiddenField()


# -- wiring --------------------------------------------------------------------------------

@bp.record_once
def _init(setup_state) -> None:
    app = setup_state.app
    # CSRF is checked by _guard for /admin only (the rest of the site has no form).
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False)
    # Registered before CSRFProtect and Flask-Limiter read any form: it bounds the body first.
    app.before_request(_guard)
    csrf.init_app(app)
    login_manager.init_app(app)
    # One limiter (and in-memory count) per app: several apps in one process count apart.
    limiter = Limiter(_address, app=app, storage_uri=app.config["LOGIN_LIMITS_STORAGE"],
                      strategy="moving-window", headers_enabled=True)
    limiter.request_filter(lambda: request.blueprint != "ocop_admin")   # the public site: none
    app.extensions["ocop_login_limiter"] = limiter


def _upload_max() -> int:
    return int(current_app.config["UPLOAD_MAX_BYTES"])


def _guard():
    if request.blueprint != "ocop_admin":
        return None
    if not _enabled():
        return render_page("admin.html", switch_path=url_for("ocop_admin.index"),
                           disabled=True), 404
    if request.method != "POST":
        return None
    logged_in = current_user.is_authenticated
    # Before anything reads the body: how much of it may be read at all.
    big = logged_in and request.endpoint == "ocop_admin.check"
    request.max_content_length = _upload_max() + FORM_ROOM if big else SMALL_FORM
    if request.endpoint != "ocop_admin.login" and not logged_in:
        abort(403)           # the body is not read
    csrf.protect()
    return None


def _uploads() -> Path:
    p = Path(current_app.config["DATA_DIR"]) / HISTORY / "uploads"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _say(key: str, **values) -> str:
    return messages()[key].format(**values)


def _page(status: int = 200, **kw):
    # The language switch of a POST's answer goes to /admin (a GET of the form's URL is a 405).
    logged_in = current_user.is_authenticated
    log = audit.latest(current_app.config["DATA_DIR"], AUDIT_SHOWN) if logged_in else []
    kw.setdefault("login_form", LoginForm(formdata=None))
    kw.setdefault("upload_form", UploadForm(formdata=None))
    kw.setdefault("apply_form", ApplyForm(formdata=None))
    return render_page("admin.html", switch_path=url_for("ocop_admin.index"),
                       logged_in=logged_in, user=current_user if logged_in else None,
                       version=state().version, audit_log=log, **kw), status


@bp.errorhandler(CSRFError)
def _csrf_failed(e):
    return _page(400, message=_say("admin_csrf_failed"), back=True)


@bp.errorhandler(413)
def _too_large(e):
    return _page(413, message=_say("admin_too_large", mib=_upload_max() // 2**20 or 1))


@bp.errorhandler(429)
def _too_many(e):
    return _page(429, message=_say("admin_too_many_logins"))


@bp.get("/admin")
def index():
    return _page()[0]


# -- login and logout ----------------------------------------------------------------------

def _failed(response) -> bool:
    """Only failed logins count against the limits."""
    return response.status_code == 403


def _account_key() -> str:
    return "account:" + normalise(request.form.get("username", ""))[:40]


@bp.post("/admin/login")
def login():
    limiter = current_app.extensions["ocop_login_limiter"]
    cfg = current_app.config
    with limiter.limit(lambda: cfg["LOGIN_LIMITS_PER_ADDRESS"], key_func=_address,
                       deduct_when=_failed, scope="admin-login-address"):
        with limiter.limit(lambda: cfg["LOGIN_LIMITS_PER_ACCOUNT"], key_func=_account_key,
                           deduct_when=_failed, scope="admin-login-account"):
            return _login()


def _login():
    form = LoginForm()
    name = normalise(form.username.data or "")[:40]
    acct = accounts().authenticate(name, form.password.data or "") if form.validate() else None
    if acct is None:
        _audit("login", ok=False, user=name or None, reason="wrong_credentials")
        return _page(403, message=_say("wrong_password"), login_form=form)
    login_user(User(acct.name, acct.session_key))
    _audit("login", user=acct.name)
    return redirect(url_for("ocop_admin.index", lang=page_lang()))


@bp.post("/admin/logout")
def logout():
    name = current_user.name
    # A new session key: this cookie, and any copy of it, no longer logs anyone in (nor do
    # the account's other sessions).
    accounts().end_sessions(name)
    logout_user()
    _audit("logout", user=name)
    return redirect(url_for("ocop_admin.index", lang=page_lang()))


# -- uploads -------------------------------------------------------------------------------

def prune_uploads(folder: Path, keep_seconds: float, now: float | None = None) -> int:
    """Delete the uploads older than `keep_seconds`; return the bytes still held."""
    now = time.time() if now is None else now
    held = 0
    for p in folder.iterdir():
        try:
            st = p.stat()
            if not p.is_file():
                continue
            if now - st.st_mtime > keep_seconds:
                p.unlink()
            else:
                held += st.st_size
        except FileNotFoundError:
            continue
    return held


def _keep_seconds() -> float:
    return float(current_app.config["UPLOAD_KEEP_HOURS"]) * 3600


def _opts(form) -> dict:
    def flag(v):
        return v is True or v in ("1", "y", "on", "true")
    return {"kind": form.kind.data or None, "crs": (form.crs.data or "").strip() or None,
            "repair": flag(form.repair.data), "replace": flag(form.replace.data)}


@bp.post("/admin/check")
def check():
    form = UploadForm()
    f = form.file.data
    if f is None or not getattr(f, "filename", None):
        return _page(400, message=_say("admin_choose_file"), upload_form=form)
    limit = _upload_max()
    f.stream.seek(0, 2)
    size = f.stream.tell()
    f.stream.seek(0)
    if size > limit:
        abort(413)
    uploads = _uploads()
    held = prune_uploads(uploads, _keep_seconds())
    if held + size > int(current_app.config["UPLOADS_MAX_TOTAL_BYTES"]):
        _audit("check", ok=False, file=f.filename, reason="upload_area_full")
        return _page(507, message=_say("admin_uploads_full",
                                       hours=current_app.config["UPLOAD_KEEP_HOURS"]))
    ext = "".join(Path(f.filename).suffixes[-2:]).lower()
    ext = ext if ext == ".shp.zip" else Path(f.filename).suffix.lower()
    token = secrets.token_hex(16)
    path = uploads / f"{token}{ext if ext.replace('.', '').isalnum() else ''}"
    sha = hashlib.sha256()
    written = 0
    try:
        with open(path, "xb") as out:
            # Copied in pieces, counted: never more than the limit on disk.
            while chunk := f.stream.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise OverflowError
                sha.update(chunk)
                out.write(chunk)
    except OverflowError:
        path.unlink(missing_ok=True)
        abort(413)
    opts = _opts(form)
    out = importer.import_file(current_app.config["DATA_DIR"], path, apply=False, **opts)
    _audit("check", ok=bool(out.ok), file=f.filename, upload=token, sha256=sha.hexdigest(),
           bytes=written, kind=out.imp.kind, added=out.added if out.ok else None,
           replaced=out.replaced if out.ok else None)
    if not out.ok:
        path.unlink(missing_ok=True)      # nothing to apply: not kept
    apply_form = ApplyForm(formdata=None, upload=token, kind=opts["kind"] or "",
                           crs=opts["crs"] or "", repair="1" if opts["repair"] else "",
                           replace="1" if opts["replace"] else "")
    return _page(report=out, token=token if out.ok else None, apply_form=apply_form,
                 upload_name=f.filename, diff_map=_diff_map(out))


def _diff_map(out) -> str | None:
    """The review map of the points the import adds, moves or removes, as an image URI."""
    if not out.ok or out.diff is None:
        return None
    dataset = state().dataset
    svg = diff_map_svg(dataset.districts, out.diff, dataset.region.view)
    return data_uri(svg) if svg else None


@bp.post("/admin/apply")
def apply():
    form = ApplyForm()
    token = form.upload.data or ""
    if not form.validate() or not token.isalnum():
        abort(400)
    found = [p for p in _uploads().glob(f"{token}*")
             if time.time() - p.stat().st_mtime <= _keep_seconds()]
    if len(found) != 1:
        _audit("apply", ok=False, upload=token, reason="upload_gone")
        return _page(400, message=_say("admin_upload_gone"))
    sha = hashlib.sha256(found[0].read_bytes()).hexdigest()
    try:
        out = importer.import_file(current_app.config["DATA_DIR"], found[0],
                                   note=f"web import by {current_user.name}", **_opts(form))
    except StoreError as e:
        _audit("apply", ok=False, upload=token, sha256=sha, reason="store_busy")
        return _page(409, message=str(e))
    if out.ok and out.version:
        found[0].unlink()
        refresh_state(current_app, force=True)
        _audit("apply", upload=token, sha256=sha, version=out.version, previous=out.previous,
               added=out.added, replaced=out.replaced)
        return _page(message=_say("admin_imported", added=out.added, replaced=out.replaced,
                                  version=out.version, previous=out.previous))
    _audit("apply", ok=False, upload=token, sha256=sha, reason="nothing_changed")
    return _page(400, report=out, message=_say("admin_nothing_changed"))


__all__ = ["bp", "prune_uploads"]

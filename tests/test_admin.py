"""/admin holds: named accounts, sessions that end at logout, CSRF with a page saying so,
login attempts limited, an audit log, and uploads bounded while they stream in."""
from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import re
import time
from pathlib import Path

import pytest

from app import create_app
from geo.store import HISTORY
from tests.conftest import LiveServer
from web.accounts import Accounts

DATA = Path(__file__).resolve().parent / "data"
PASSWORD = "right horse battery"


def make_app(data_dir: Path, **config):
    """The app with /admin on and the account "lan"."""
    if not (data_dir / HISTORY / "users.json").exists():
        Accounts(data_dir / HISTORY / "users.json").add("lan", PASSWORD)
    return create_app({"TESTING": True, "DATA_DIR": str(data_dir), "SECRET_KEY": "k" * 32,
                       **config})


@pytest.fixture()
def admin_app(data_copy):
    return make_app(data_copy)


def token(resp) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', resp.get_data(as_text=True))[1]


def status_text(resp) -> str:
    return " ".join(re.findall(r'role="status">([^<]*)<', resp.get_data(as_text=True)))


def log_in(c, name="lan", password=PASSWORD, lang="en"):
    t = token(c.get(f"/admin?lang={lang}"))
    return c.post(f"/admin/login?lang={lang}", data={"username": name, "password": password,
                                                     "csrf_token": t})


def audit_lines(data_dir: Path) -> list[dict]:
    p = data_dir / HISTORY / "audit.jsonl"
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()] if p.exists() else []


def tree_sha256(root: Path) -> dict[str, str]:
    """Every file under the data directory (history included) by its SHA-256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def check_upload(c, name="lonlat.csv", lang="en", data=None):
    t = token(c.get(f"/admin?lang={lang}"))
    body = data if data is not None else (DATA / name).read_bytes()
    return c.post(f"/admin/check?lang={lang}",
                  data={"csrf_token": t, "file": (io.BytesIO(body), name)},
                  content_type="multipart/form-data")


# -- accounts ------------------------------------------------------------------------------

def test_user_commands(data_copy):
    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    r = app.test_cli_runner()
    out = r.invoke(args=["ocop", "user", "add", "Lan"], input="short\nshort\n")
    assert out.exit_code != 0 and "at least 10 characters" in out.output
    out = r.invoke(args=["ocop", "user", "add", "Lan"], input=f"{PASSWORD}\nother one!!\n"
                   f"{PASSWORD}\n{PASSWORD}\n")
    assert out.exit_code == 0, out.output
    assert "account 'lan' added" in out.output
    users = data_copy / HISTORY / "users.json"
    stored = json.loads(users.read_text())
    assert PASSWORD not in users.read_text() and \
        stored["users"]["lan"]["password_hash"].startswith("scrypt:")
    assert (users.stat().st_mode & 0o777) == 0o600
    assert "lan" in r.invoke(args=["ocop", "user", "list"]).output
    assert r.invoke(args=["ocop", "user", "add", "lan"], input="x\n").exit_code != 0
    out = r.invoke(args=["ocop", "user", "passwd", "lan"], input="a new password\n" * 2)
    assert out.exit_code == 0 and Accounts(users).authenticate("lan", "a new password")
    assert r.invoke(args=["ocop", "user", "remove", "lan"]).exit_code == 0
    assert "no accounts" in r.invoke(args=["ocop", "user", "list"]).output
    actions = [e["action"] for e in audit_lines(data_copy)]
    assert actions == ["user_add", "user_passwd", "user_remove"]
    assert all(e["address"] == "command line" for e in audit_lines(data_copy))


def test_admin_is_off_without_an_account_or_a_key(data_copy):
    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy), "SECRET_KEY": "k" * 32})
    assert app.test_client().get("/admin").status_code == 404
    Accounts(data_copy / HISTORY / "users.json").add("lan", PASSWORD)
    assert app.test_client().get("/admin").status_code == 200
    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy)})
    assert app.test_client().get("/admin").status_code == 404


def test_login_and_logout_with_named_accounts(admin_app, data_copy):
    Accounts(data_copy / HISTORY / "users.json").add("minh", "another good one")
    c = admin_app.test_client()
    assert log_in(c, "lan", "wrong password").status_code == 403
    assert log_in(c, "nobody", PASSWORD).status_code == 403
    r = log_in(c, "LAN")                     # names are not case-sensitive
    assert r.status_code == 302 and r.headers["Location"] == "/admin?lang=en"
    html = c.get("/admin?lang=en").get_data(as_text=True)
    assert "Logged in as lan." in html and "Check a file" in html
    t = token(c.get("/admin?lang=en"))
    assert c.post("/admin/logout?lang=en", data={"csrf_token": t}).status_code == 302
    assert "Logged in as" not in c.get("/admin?lang=en").get_data(as_text=True)
    other = admin_app.test_client()
    assert log_in(other, "minh", "another good one").status_code == 302
    assert "Logged in as minh." in other.get("/admin?lang=en").get_data(as_text=True)


def test_the_old_password_setting_is_the_account_admin(data_copy):
    from werkzeug.security import generate_password_hash

    app = create_app({"TESTING": True, "DATA_DIR": str(data_copy), "SECRET_KEY": "k" * 32,
                      "ADMIN_PASSWORD_HASH": generate_password_hash("old password")})
    c = app.test_client()
    assert log_in(c, "admin", "old password").status_code == 302
    cookie = c.get_cookie("session").value
    t = token(c.get("/admin"))
    c.post("/admin/logout", data={"csrf_token": t})
    copy = app.test_client()
    copy.set_cookie("session", cookie)
    assert "Logged in as" not in copy.get("/admin?lang=en").get_data(as_text=True)


# -- sessions and cookies ------------------------------------------------------------------

def test_a_cookie_copied_before_logout_is_refused_after_it(admin_app):
    c = admin_app.test_client()
    assert log_in(c).status_code == 302
    copied = c.get_cookie("session").value
    t = token(c.get("/admin?lang=en"))
    thief = admin_app.test_client()
    thief.set_cookie("session", copied)
    assert "Logged in as lan." in thief.get("/admin?lang=en").get_data(as_text=True)
    c.post("/admin/logout?lang=en", data={"csrf_token": t})
    thief = admin_app.test_client()
    thief.set_cookie("session", copied)
    assert "Logged in as" not in thief.get("/admin?lang=en").get_data(as_text=True)
    with (DATA / "lonlat.csv").open("rb") as f:
        r = thief.post("/admin/check", data={"csrf_token": t, "file": (f, "lonlat.csv")},
                       content_type="multipart/form-data")
    assert r.status_code == 403


def test_a_new_password_ends_the_sessions(admin_app, data_copy):
    c = admin_app.test_client()
    assert log_in(c).status_code == 302
    Accounts(data_copy / HISTORY / "users.json").set_password("lan", "a brand new one")
    assert "Logged in as" not in c.get("/admin?lang=en").get_data(as_text=True)
    assert log_in(c, password="a brand new one").status_code == 302


@pytest.mark.parametrize("secure", [True, False])
def test_cookie_flags(data_copy, secure):
    app = make_app(data_copy, **({} if secure else {"SESSION_COOKIE_SECURE": False}))
    c = app.test_client()
    r = log_in(c)
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("session="))
    flags = [f.strip() for f in cookie.split(";")[1:]]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags
    assert ("Secure" in flags) == secure


def test_secure_cookie_can_be_switched_off_by_environment(data_copy, monkeypatch):
    monkeypatch.setenv("OCOP_SESSION_COOKIE_SECURE", "false")
    monkeypatch.setenv("OCOP_DATA_DIR", str(data_copy))
    assert create_app({"TESTING": True}).config["SESSION_COOKIE_SECURE"] is False


# -- CSRF ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, says", [
    ("en", "its security token was missing or had expired"),
    ("vi", "mã bảo mật bị thiếu hoặc đã hết hạn"),
])
def test_a_csrf_failure_says_what_happened(admin_app, lang, says):
    c = admin_app.test_client()
    c.get(f"/admin?lang={lang}")
    for data in ({"username": "lan", "password": PASSWORD},
                 {"username": "lan", "password": PASSWORD, "csrf_token": "forged"}):
        r = c.post(f"/admin/login?lang={lang}", data=data)
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and says in html, html
        assert f'<html lang="{lang}">' in html
        assert f'href="/admin?lang={lang}"' in html
        assert "Bad Request" not in html
    assert "Logged in" not in c.get("/admin?lang=en").get_data(as_text=True)


# -- login limits ----------------------------------------------------------------------------

def test_the_sixth_wrong_password_gets_429(admin_app):
    c = admin_app.test_client()
    for _ in range(5):
        assert log_in(c, password="wrong password").status_code == 403
    r = log_in(c, password="wrong password")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "Too many failed logins" in r.get_data(as_text=True)
    # Now even the right password is not checked, from this address.
    assert log_in(c).status_code == 429


def test_limits_count_per_account_from_any_address_and_per_address(admin_app):
    def client(addr):
        c = admin_app.test_client()
        c.environ_base["REMOTE_ADDR"] = addr
        return c

    for i in range(5):
        assert log_in(client(f"10.0.0.{i}"), password="wrong password").status_code == 403
    assert log_in(client("10.0.0.99"), password="wrong password").status_code == 429
    # Another account from a fresh address is not affected; one address trying names is.
    c = client("10.0.1.1")
    for i in range(5):
        assert log_in(c, f"name{i}", "wrong password").status_code == 403
    assert log_in(c, "name9", "wrong password").status_code == 429
    # Successful logins do not count.
    c = client("10.0.2.1")
    admin_app.extensions["ocop_login_limiter"].reset()
    for _ in range(6):
        assert log_in(c).status_code == 302


def test_the_limits_are_settings(data_copy):
    app = make_app(data_copy, LOGIN_LIMITS_PER_ADDRESS="2 per hour",
                   LOGIN_LIMITS_PER_ACCOUNT="100 per hour")
    c = app.test_client()
    assert [log_in(c, password="wrong password").status_code for _ in range(3)] == \
        [403, 403, 429]


# -- audit -------------------------------------------------------------------------------------

def test_audit_log_of_logins_checks_applies_and_rollbacks(admin_app, data_copy):
    c = admin_app.test_client()
    c.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    log_in(c, password="wrong password")
    log_in(c)
    html = check_upload(c).get_data(as_text=True)
    upload = re.search(r'name="upload" value="([0-9a-f]+)"', html)[1]
    t = token(c.get("/admin?lang=en"))
    r = c.post("/admin/apply?lang=en", data={"csrf_token": t, "upload": upload})
    assert r.status_code == 200 and "2 added" in status_text(r)
    previous = re.search(r"before: (\w+)", status_text(r))[1]
    out = admin_app.test_cli_runner().invoke(args=["ocop", "rollback", previous])
    assert out.exit_code == 0, out.output
    log = audit_lines(data_copy)
    assert [(e["action"], e["ok"]) for e in log] == [
        ("login", False), ("login", True), ("check", True), ("apply", True), ("rollback", True)]
    for e in log:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["time"])
    assert all(e["address"] == "203.0.113.7" and e["user"] == "lan" for e in log[:4])
    assert log[0]["detail"]["reason"] == "wrong_credentials"
    assert log[2]["detail"]["file"] == "lonlat.csv" and log[2]["detail"]["upload"] == upload
    assert log[2]["detail"]["sha256"] == hashlib.sha256((DATA / "lonlat.csv").read_bytes()
                                                        ).hexdigest()
    assert log[3]["detail"]["previous"] == previous and log[3]["detail"]["added"] == 2
    assert log[4]["address"] == "command line" and log[4]["detail"]["version"] == previous
    # /admin shows it, latest first, in the page's language.
    html = c.get("/admin?lang=en").get_data(as_text=True)
    table = html[html.index("Activity log"):]
    assert table.index("Rollback") < table.index("Apply") < table.index("wrong account name")
    assert "203.0.113.7" in table
    vi = c.get("/admin?lang=vi").get_data(as_text=True)
    assert "Nhật ký hoạt động" in vi and "Khôi phục phiên bản" in vi


def test_the_audit_log_shown_is_bounded(admin_app, data_copy):
    from web import audit

    for i in range(80):
        audit.record(data_copy, "check", user="lan", address="10.0.0.1", file=f"f{i}.csv")
    assert len(audit.latest(data_copy, 50)) == 50
    assert audit.latest(data_copy, 1)[0]["detail"]["file"] == "f79.csv"
    c = admin_app.test_client()
    log_in(c)
    html = c.get("/admin?lang=en").get_data(as_text=True)
    assert "f79.csv" in html and "f30.csv" not in html


# -- uploads -------------------------------------------------------------------------------------

def test_an_oversized_upload_is_refused_and_nothing_written(data_copy):
    app = make_app(data_copy, UPLOAD_MAX_BYTES=4096)
    c = app.test_client()
    log_in(c)
    t = token(c.get("/admin?lang=en"))
    before = tree_sha256(data_copy)
    big = b"id,name\n" + b"x" * 200_000
    r = c.post("/admin/check?lang=en", data={"csrf_token": t, "file": (io.BytesIO(big), "big.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 413 and "at most" in r.get_data(as_text=True)
    assert tree_sha256(data_copy) == before
    # Just over the file limit but within the form's room: refused too, nothing kept.
    r = c.post("/admin/check?lang=en", data={"csrf_token": t,
                                             "file": (io.BytesIO(b"x" * 5000), "b.csv")},
               content_type="multipart/form-data")
    assert r.status_code == 413 and tree_sha256(data_copy) == before


def test_an_anonymous_post_is_refused_before_its_body_is_read(admin_app):
    read = []

    class Body:
        def read(self, n=-1):
            read.append(n)
            return b""

    from werkzeug.test import EnvironBuilder, run_wsgi_app

    env = EnvironBuilder(path="/admin/check", method="POST",
                         content_type="multipart/form-data; boundary=x").get_environ()
    env.update({"wsgi.input": Body(), "CONTENT_LENGTH": str(10**9)})
    _, status, _ = run_wsgi_app(admin_app, env, buffered=True)
    assert status.startswith("403") and not read


class CountingInput:
    def __init__(self, app):
        self.app, self.read = app, 0

    def __call__(self, environ, start_response):
        stream, outer = environ["wsgi.input"], self

        class Counted:
            def read(self, *a):
                data = stream.read(*a)
                outer.read += len(data)
                return data

            def readline(self, *a):
                data = stream.readline(*a)
                outer.read += len(data)
                return data

        environ["wsgi.input"] = Counted()
        return self.app(environ, start_response)


def test_a_chunked_oversized_upload_is_stopped_at_the_limit(data_copy):
    limit = 64 * 1024
    app = make_app(data_copy, UPLOAD_MAX_BYTES=limit, SESSION_COOKIE_SECURE=False)
    counter = CountingInput(app.wsgi_app)
    app.wsgi_app = counter
    srv = LiveServer(app)
    host, port = "127.0.0.1", srv.server.server_port
    try:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("GET", "/admin?lang=en")
        r = conn.getresponse()
        cookie = r.getheader("Set-Cookie").split(";")[0]
        t = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode())[1]
        body = f"username=lan&password={PASSWORD.replace(' ', '+')}&csrf_token={t}"
        conn.request("POST", "/admin/login?lang=en", body=body, headers={
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        assert r.status == 302
        cookie = r.getheader("Set-Cookie").split(";")[0]
        conn.close()

        uploads = data_copy / HISTORY / "uploads"
        before = tree_sha256(data_copy)
        boundary = "ocopboundary"
        sent = [0]
        seen_sizes = []

        def chunks():
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
                   f"{t}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                   f"filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode()
            for _ in range(200):          # 200 × 16 KiB = 3.2 MiB, 50 times the limit
                if uploads.is_dir():
                    seen_sizes.extend(p.stat().st_size for p in uploads.iterdir())
                sent[0] += 16384
                yield b"y" * 16384
            yield f"\r\n--{boundary}--\r\n".encode()

        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.putrequest("POST", "/admin/check?lang=en")
        conn.putheader("Cookie", cookie)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        status = None
        try:
            for piece in chunks():
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass                           # the server stopped reading: expected
        try:
            r = conn.getresponse()
            status = r.status
            r.read()
        except (ConnectionResetError, http.client.RemoteDisconnected):
            status = "reset"
        conn.close()
        assert status == 413, status
        # Read: no more than the limit and the form's room (and a few bytes of framing).
        assert counter.read <= limit + 64 * 1024 + 1024, counter.read
        assert all(s <= limit for s in seen_sizes)
        assert not uploads.is_dir() or not any(uploads.iterdir())
        assert tree_sha256(data_copy) == before
    finally:
        srv.stop()


def test_old_uploads_are_pruned_and_the_area_is_capped(data_copy):
    app = make_app(data_copy, UPLOADS_MAX_TOTAL_BYTES=20_000)
    c = app.test_client()
    log_in(c)
    uploads = data_copy / HISTORY / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    old = uploads / ("a" * 32 + ".csv")
    old.write_bytes(b"x" * 15_000)
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    r = check_upload(c)
    assert r.status_code == 200 and not old.exists()          # pruned by the check
    kept = list(uploads.iterdir())
    assert len(kept) == 1                                      # the new one, to apply
    # A recent upload filling the area: a new check is refused, saying why.
    fresh = uploads / ("b" * 32 + ".csv")
    fresh.write_bytes(b"x" * 19_500)
    r = check_upload(c)
    assert r.status_code == 507 and "upload area is full" in status_text(r)
    assert sorted(uploads.iterdir()) == sorted([*kept, fresh])
    vi = check_upload(c, lang="vi")
    assert vi.status_code == 507 and "đã đầy" in status_text(vi)
    # An expired upload cannot be applied, even before it is pruned.
    token_ = kept[0].stem
    past = time.time() - 25 * 3600
    os.utime(kept[0], (past, past))
    t = token(c.get("/admin?lang=en"))
    r = c.post("/admin/apply?lang=en", data={"csrf_token": t, "upload": token_})
    assert r.status_code == 400 and "upload is gone" in status_text(r)


# -- the logged-in page in a browser --------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_logged_in_page_has_no_accessibility_violation(data_copy, watch, lang):
    """Logging in through the form, a check's report and the audit table, seen by axe-core
    on a phone (the login page alone is in tests/test_a11y_pages.py)."""
    from tests.axe import format_violations, run_axe

    app = make_app(data_copy, SESSION_COOKIE_SECURE=False)     # plain http here
    srv = LiveServer(app)
    try:
        w = watch(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        w.page.goto(f"{srv.url}/admin?lang={lang}")
        w.page.fill("#username", "lan")
        w.page.fill("#password", PASSWORD)
        w.page.locator("form button").first.click()
        w.page.wait_for_selector("#file")
        w.page.set_input_files("#file", str(DATA / "lonlat.csv"))
        w.page.locator("#file").locator("xpath=ancestor::form").locator("button").click()
        w.page.wait_for_selector("input[name=upload]", state="attached")
        violations = run_axe(w.page)
        assert not violations, format_violations(violations)
        width = w.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390
    finally:
        srv.stop()

"""Settings say when they are wrong: each is checked at start-up (web/settings.py) and a wrong
one stops the app with a message naming it, its environment variable and the accepted form."""
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from app import DEFAULTS, create_app
from web import settings
from web.settings import SettingsError, validate

ROOT = Path(__file__).resolve().parent.parent


def refused(config, environ=None) -> str:
    with pytest.raises(SettingsError) as e:
        validate(config, environ=environ)
    return str(e.value)


def test_every_default_setting_has_a_validator_and_the_defaults_pass():
    assert set(DEFAULTS) <= set(settings.VALIDATORS)
    assert validate(DEFAULTS)["EMBED_ORIGINS"] == ""


@pytest.mark.parametrize("value, expected", [
    ("", ""), ("*", "*"), ("  https://dulich.example.vn  ", "https://dulich.example.vn"),
    ("https://dulich.example.vn  http://127.0.0.1:5302",
     "https://dulich.example.vn http://127.0.0.1:5302"),
    ("https://*.example.vn", "https://*.example.vn"),
    (["https://a.example", "https://b.example"], "https://a.example https://b.example"),
    # The trailing slash people often write is not a path.
    ("https://a.example/ http://127.0.0.1:5302/", "https://a.example http://127.0.0.1:5302"),
])
def test_embed_origins_accepted(value, expected):
    assert validate({"EMBED_ORIGINS": value})["EMBED_ORIGINS"] == expected


@pytest.mark.parametrize("value, says", [
    ("127.0.0.1:5302", "'127.0.0.1:5302' has no scheme"),
    ("dulich.example.vn", "has no scheme"),
    ("https://a.example,https://b.example", "not commas"),
    ("https://a.example, https://b.example", "not commas"),
    ("https://dulich.example.vn/map", "has a path"),
    ("https://dulich.example.vn/map", "has a path"),
    ("https://dulich.example.vn?x=1", "has a path"),
    ("ftp://files.example.vn", "scheme must be http or https"),
    ("* https://dulich.example.vn", "write it alone"),
    ("https://dulịch.vn", "no valid host name"),
    ("https://dulich.example.vn:99999", "invalid port"),
])
def test_embed_origins_mistakes_name_the_setting_and_the_form(value, says):
    message = refused({"EMBED_ORIGINS": value})
    assert "OCOP_EMBED_ORIGINS" in message and says in message
    assert "scheme://host[:port] separated by spaces" in message


@pytest.mark.parametrize("value", [
    "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://{s}.tile.example/{z}/{x}/{y}.png",
    "http://127.0.0.1:9/{z}/{x}/{-y}.png", "https://t.example/{z}/{x}/{y}{r}.png"])
def test_tile_urls_accepted(value):
    assert validate({"TILE_URL": value})["TILE_URL"] == value


@pytest.mark.parametrize("value, says", [
    ("/tiles/{z}/{x}/{y}.png", "not an absolute http(s) URL"),
    ("tile.openstreetmap.org/{z}/{x}/{y}.png", "not an absolute http(s) URL"),
    ("https://t.example/{z}/{x}.png", "lacks {y}"),
    ("https://t.example/{z}/{x}/{y}/{apikey}.png", "cannot fill: {apikey}"),
    ("", "must not be empty"),
])
def test_tile_url_mistakes(value, says):
    message = refused({"TILE_URL": value})
    assert "OCOP_TILE_URL" in message and says in message and "{z}, {x} and {y}" in message


@pytest.mark.parametrize("value, says", [
    ("ocop.example.vn", "not an absolute http(s) URL"),
    ("https://ocop.example.vn/?lang=vi", "query or fragment"),
    ("https://ocop.example.vn/#map", "query or fragment"),
    ("https://user:pw@ocop.example.vn/", "user name or password"),
    ("https://ocop.example.vn:0x50/", "invalid port"),
    ("https://ocop example.vn/", "no valid host name"),
])
def test_public_url_mistakes(value, says):
    message = refused({"PUBLIC_URL": value})
    assert "OCOP_PUBLIC_URL" in message and says in message and "absolute http(s) URL" in message


def test_public_url_accepted_forms():
    for value in ("", "https://ocop.example.vn/", "https://example.vn/ocop/", "http://[::1]:8080"):
        assert validate({"PUBLIC_URL": value})["PUBLIC_URL"] == value


@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), (0, False), (1, True), ("false", False), ("False", False),
    ("0", False), ("no", False), ("off", False), ("TRUE", True), ("yes", True), ("on", True)])
def test_booleans_read_as_people_write_them(value, expected):
    got = validate({"FASTPATH": value, "SESSION_COOKIE_SECURE": value})
    assert got == {"FASTPATH": expected, "SESSION_COOKIE_SECURE": expected}


@pytest.mark.parametrize("name, value, says", [
    ("FASTPATH", "maybe", "must be true or false"),
    ("FASTPATH", 2, "must be true or false"),
    ("SESSION_COOKIE_SECURE", "", "must be true or false"),
    ("TRUSTED_PROXIES", -1, "whole number, from 0 to 10"),
    ("TRUSTED_PROXIES", "one", "whole number, from 0 to 10"),
    ("TRUSTED_PROXIES", True, "whole number, from 0 to 10"),
    ("UPLOAD_MAX_BYTES", 0, "whole number, 1 or more"),
    ("UPLOAD_MAX_BYTES", "50 MiB", "whole number, 1 or more"),
    ("UPLOADS_MAX_TOTAL_BYTES", 1.5, "whole number, 1 or more"),
    ("UPLOAD_KEEP_HOURS", 0, "greater than 0"),
    ("UPLOAD_KEEP_HOURS", "a day", "greater than 0"),
    ("SESSION_COOKIE_SAMESITE", "sometimes", "Lax, Strict or None"),
    ("LOGIN_LIMITS_PER_ADDRESS", "5 a minute", "'N per PERIOD'"),
    ("LOGIN_LIMITS_PER_ACCOUNT", "", "must not be empty"),
    ("LOGIN_LIMITS_STORAGE", "localhost:6379", "redis://"),
    ("LOGIN_LIMITS_STORAGE", "async+memory://", "a storage URI"),
    ("ADMIN_PASSWORD_HASH", "hunter2hunter2", "generate_password_hash"),
    ("SECRET_KEY", 12345678901234567890, "must be text, got a number"),
    ("SECRET_KEY", "", "must not be empty"),
    ("DATA_DIR", "", "must not be empty"),
    ("TILE_ATTRIBUTION", None, "must be text"),
])
def test_each_setting_names_itself_and_what_it_accepts(name, value, says):
    message = refused({name: value})
    assert f"OCOP_{name} (setting {name} = {value!r})" in message and says in message


def test_values_are_returned_in_the_form_the_app_uses():
    got = validate({"UPLOAD_MAX_BYTES": "4096", "UPLOAD_KEEP_HOURS": "0.5",
                    "SESSION_COOKIE_SAMESITE": "strict", "TRUSTED_PROXIES": "2",
                    "LOGIN_LIMITS_STORAGE": "redis://cache:6379", "SECRET_KEY": None})
    assert got == {"UPLOAD_MAX_BYTES": 4096, "UPLOAD_KEEP_HOURS": 0.5,
                   "SESSION_COOKIE_SAMESITE": "Strict", "TRUSTED_PROXIES": 2,
                   "LOGIN_LIMITS_STORAGE": "redis://cache:6379", "SECRET_KEY": None}


def test_samesite_none_needs_a_secure_cookie():
    message = refused({"SESSION_COOKIE_SAMESITE": "None", "SESSION_COOKIE_SECURE": "false"})
    assert "OCOP_SESSION_COOKIE_SAMESITE" in message and "SESSION_COOKIE_SECURE" in message
    assert validate({"SESSION_COOKIE_SAMESITE": "None", "SESSION_COOKIE_SECURE": True})


def test_an_ocop_variable_that_names_no_setting_is_refused():
    message = refused({}, environ={"OCOP_EMBED_ORIGIN": "https://a.example", "PATH": "/bin",
                                   "OCOP_TILE_URL": "https://t.example/{z}/{x}/{y}.png"})
    assert "OCOP_EMBED_ORIGIN: no such setting" in message and "EMBED_ORIGINS" in message
    assert "OCOP_TILE_URL:" not in message and "PATH" not in message.split("settings are")[0]


def test_extension_settings_from_the_environment_are_not_taken_for_typos():
    assert validate({}, environ={"OCOP_WTF_CSRF_TIME_LIMIT": "7200",
                                 "OCOP_COMPRESS_LEVEL": "6"}) == {}


def test_every_problem_is_listed_at_once():
    message = refused({"EMBED_ORIGINS": "a.example", "FASTPATH": "maybe", "TRUSTED_PROXIES": -1})
    assert message.count("\n- ") == 3


# -- the app refuses to start ---------------------------------------------------------------

def test_a_bad_setting_stops_create_app(monkeypatch):
    monkeypatch.setenv("OCOP_EMBED_ORIGINS", "https://a.example,https://b.example")
    with pytest.raises(click.ClickException) as e:
        create_app({"TESTING": True})
    assert "OCOP_EMBED_ORIGINS" in e.value.message and "not commas" in e.value.message
    assert "nothing was served" in e.value.message
    with pytest.raises(click.ClickException) as e:
        create_app({"TESTING": True, "EMBED_ORIGINS": "", "PUBLIC_URL": "ocop.example.vn"})
    assert "OCOP_PUBLIC_URL" in e.value.message and "EMBED_ORIGINS" not in e.value.message


def test_environment_values_arrive_checked(monkeypatch, data_copy):
    monkeypatch.setenv("OCOP_DATA_DIR", str(data_copy))
    monkeypatch.setenv("OCOP_FASTPATH", "False")            # text, not JSON: still off
    monkeypatch.setenv("OCOP_EMBED_ORIGINS", "https://dulich.example.vn")
    monkeypatch.setenv("OCOP_TRUSTED_PROXIES", "1")
    app = create_app({"TESTING": True})
    assert app.config["FASTPATH"] is False and app.config["TRUSTED_PROXIES"] == 1
    policy = app.test_client().get("/embed").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://dulich.example.vn" in policy


def test_the_command_line_refuses_to_start_and_says_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCOP_")}
    env.update(OCOP_EMBED_ORIGINS="127.0.0.1:5302", OCOP_FASTPATH="maybe")
    run = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "routes"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "OCOP_EMBED_ORIGINS" in run.stderr and "'127.0.0.1:5302' has no scheme" in run.stderr
    assert "OCOP_FASTPATH" in run.stderr and "Traceback" not in run.stderr

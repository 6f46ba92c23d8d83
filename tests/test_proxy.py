"""Behind reverse proxies every absolute URL has the public scheme, host and prefix
(web/proxy.py): X-Forwarded-* from TRUSTED_PROXIES, or PUBLIC_URL, which wins.  Then the same
with nginx terminating TLS (a self-signed certificate made here), and an https page framing
the map in Chromium with no mixed content."""
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.request
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import request

from app import create_app
from tests.conftest import CHROMIUM_ARGS, LiveServer, PageWatch, chromium_path, free_port

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "ocop.test"      # names Chromium resolves to 127.0.0.1 (RESOLVE); nothing else
RESOLVE = f"--host-resolver-rules=MAP *.{DOMAIN} 127.0.0.1"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ocop.example.vn",
             "X-Forwarded-Prefix": "/ocop", "X-Forwarded-For": "203.0.113.7"}
DISCOVERY = re.compile(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"')


def urls_made(get, site: str) -> dict:
    """Every absolute URL the app makes, as a client of `site` (the map's address as
    the client knows it) sees them; `get(path) -> (status, text)`."""
    found = {}
    _, page = get("/")
    found["discovery link"] = unescape(DISCOVERY.search(page).group(1))
    _, body = get("/oembed?" + urllib.parse.urlencode({"url": site + "?stars=4"}))
    doc = json.loads(body)
    found["oEmbed provider_url"] = doc["provider_url"]
    found["oEmbed html"] = unescape(re.search(r'src="([^"]+)"', doc["html"]).group(1))
    _, builder = get("/embed/builder")
    found["builder"] = unescape(re.search(r'data-embed-url="([^"]+)"', builder).group(1))
    _, ogc = get("/ogc?f=json")
    for i, link in enumerate(json.loads(ogc)["links"]):
        found[f"OGC link {i}"] = link["href"]
    _, items = get("/ogc/collections/products/items?limit=1&f=json")
    for link in json.loads(items)["links"]:
        found[f"OGC items {link['rel']}"] = link["href"]
    _, sitemap = get("/sitemap.xml")
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    found["sitemap first"], found["sitemap last"] = unescape(locs[0]), unescape(locs[-1])
    _, robots = get("/robots.txt")
    found["robots.txt"] = re.search(r"^Sitemap: (\S+)", robots, re.M).group(1)
    # A product's page: the links it is shared by.
    _, card = get("/products/" + unescape(locs[0]).split("/products/", 1)[1])
    found["canonical"] = unescape(re.search(r'<link rel="canonical" href="([^"]+)"', card)[1])
    found["og:image"] = unescape(re.search(r'property="og:image" content="([^"]+)"', card)[1])
    return found


def client_get(app, headers=None):
    client = app.test_client()

    def get(path):
        r = client.get(path, headers=headers or {})
        assert r.status_code == 200, (path, r.status_code)
        return r.status_code, r.get_data(as_text=True)
    return get


def assert_all_under(found: dict, base: str):
    wrong = {k: v for k, v in found.items() if not v.startswith(base)}
    assert not wrong, f"not under {base}: {wrong}"
    assert len(found) >= 8


def fast_path(app):
    """The fast path layer under the proxy layers (web/proxy.py)."""
    layer = app.wsgi_app
    while not hasattr(layer, "entries"):
        layer = getattr(layer, "wsgi_app", None) or layer.app
    return layer


# -- the WSGI layer, with the test client -----------------------------------------------------

def test_forwarded_headers_are_ignored_unless_the_proxies_are_trusted(app):
    found = urls_made(client_get(app, FORWARDED), "http://localhost/")
    assert_all_under(found, "http://localhost/")
    assert found["oEmbed html"] == "http://localhost/embed?stars=4"


@pytest.fixture(scope="module")
def behind_proxy():
    return create_app({"TESTING": True, "TRUSTED_PROXIES": 1})


def test_a_trusted_proxy_gives_the_scheme_host_and_prefix(behind_proxy):
    found = urls_made(client_get(behind_proxy, FORWARDED), "https://ocop.example.vn/ocop/")
    assert_all_under(found, "https://ocop.example.vn/ocop/")
    assert found["oEmbed html"] == "https://ocop.example.vn/ocop/embed?stars=4"
    assert found["oEmbed provider_url"] == "https://ocop.example.vn/ocop/"
    # Without the headers (a request straight to the app) the app's own address is used.
    assert_all_under(urls_made(client_get(behind_proxy), "http://localhost/"), "http://localhost/")


def test_only_the_value_the_trusted_proxy_wrote_counts(behind_proxy):
    """A client's own X-Forwarded-Host comes first in the list; the proxy's is last."""
    spoofed = {**FORWARDED, "X-Forwarded-Host": "evil.example, ocop.example.vn",
               "X-Forwarded-Proto": "http, https"}
    found = urls_made(client_get(behind_proxy, spoofed), "https://ocop.example.vn/ocop/")
    assert_all_under(found, "https://ocop.example.vn/ocop/")


def test_the_client_address_comes_from_the_trusted_proxy():
    seen = {}
    for trusted in (0, 1):
        app = create_app({"TESTING": True, "TRUSTED_PROXIES": trusted, "FASTPATH": False})
        # The address the login limits and the audit log use (web/admin.py).
        app.add_url_rule("/test-address", "test_address", lambda: request.remote_addr or "")
        seen[trusted] = app.test_client().get(
            "/test-address", headers=FORWARDED,
            environ_base={"REMOTE_ADDR": "10.0.0.2"}).get_data(as_text=True)
    assert seen == {0: "10.0.0.2", 1: "203.0.113.7"}


def test_public_url_wins_over_the_headers_and_the_request():
    app = create_app({"TESTING": True, "TRUSTED_PROXIES": 1,
                      "PUBLIC_URL": "https://ban-do.example.vn/ocop-map/"})
    for headers in (FORWARDED, {}):
        found = urls_made(client_get(app, headers), "https://ban-do.example.vn/ocop-map/")
        assert_all_under(found, "https://ban-do.example.vn/ocop-map/")
    alone = create_app({"TESTING": True, "PUBLIC_URL": "https://ban-do.example.vn"})
    found = urls_made(client_get(alone, FORWARDED), "https://ban-do.example.vn/")
    assert_all_under(found, "https://ban-do.example.vn/")


def test_the_fast_path_keeps_http_and_https_answers_apart(behind_proxy):
    fast = fast_path(behind_proxy)
    client = behind_proxy.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ocop.example.vn"}
    fast.entries.clear()
    for url in ("/ogc?f=json", "/embed?stars=5"):
        answers = []
        for headers in ({}, https, {}, https):      # each twice: the second from the record
            r = client.get(url, headers=headers)
            answers.append(re.sub(r'nonce="[^"]+"', "", r.get_data(as_text=True)))
        assert answers[0] == answers[2] and answers[1] != answers[0]
        assert "https://ocop.example.vn/" in answers[3] and "http://localhost/" not in answers[3]
        assert "http://localhost/" in answers[2] and "ocop.example.vn" not in answers[2]
    # Proxied requests are answered by the fast path too (recorded under their own key).
    assert len(fast.entries) == 4


# -- nginx terminating TLS in front of the app ------------------------------------------------

def nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                     else None)
    if path is None:
        message = "nginx not found: apt-get install -y nginx"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def readme_proxy_headers() -> list[str]:
    """The `proxy_set_header` lines of the README's nginx example: the test runs them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Behind a reverse proxy", 1)[1].split("\n## ", 1)[0]
    lines = [ln.strip() for ln in section.splitlines()
             if ln.strip().startswith("proxy_set_header ")]
    assert any("X-Forwarded-Proto" in ln for ln in lines)
    return lines


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext",
                    f"subjectAltName=IP:127.0.0.1,DNS:*.{DOMAIN}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def wait_listening(port: int, proc, log: Path, seconds: float = 15.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx stopped: {log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not listen on {port}")


class Nginx:
    """nginx in the foreground with its own prefix, config and logs in a temporary dir."""

    def __init__(self, binary: str, tmp: Path, servers: str, ports: list[int]):
        self.log = tmp / "nginx-error.log"
        user = "user root;\n" if os.geteuid() == 0 else ""   # workers must read tmp (0700)
        conf = tmp / "nginx.conf"
        conf.write_text(
            f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {self.log};\n"
            "events { worker_connections 64; }\nhttp {\n  access_log off;\n"
            "  default_type text/html;\n"
            + "".join(f"  {kind}_temp_path {tmp}/nginx-{kind};\n"
                      for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + servers + "}\n", encoding="utf-8")
        self.proc = subprocess.Popen([binary, "-p", str(tmp), "-e", str(self.log),
                                      "-c", str(conf), "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for port in ports:
                wait_listening(port, self.proc, self.log)
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)       # graceful: workers finish, then exit
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def tls_server(port: int, cert: Path, key: Path, body: str) -> str:
    return (f"  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name 127.0.0.1;\n"
            f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n{body}  }}\n")


def proxied(location: str, upstream: str, headers: list[str], prefix: str = "") -> str:
    lines = [h if "X-Forwarded-Prefix" not in h or not prefix
             else f"proxy_set_header X-Forwarded-Prefix {prefix};" for h in headers]
    return (f"    location {location} {{\n      proxy_pass {upstream};\n"
            + "".join(f"      {ln}\n" for ln in lines) + "    }\n")


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory):
    """nginx with TLS: `map` proxies to the app with TRUSTED_PROXIES=1 (at / and, with a
    prefix, at /ocop/), `plain` to an app left as is, `host` serves pages from `www`: another
    origin, allowed to frame the map."""
    nginx_bin = nginx_binary()
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = make_certificate(tmp)
    www = tmp / "www"
    www.mkdir()
    ports = {name: free_port() for name in ("map", "plain", "host")}
    # The browser reaches them by name (mapped to 127.0.0.1): Chromium never counts
    # http://127.0.0.1 as mixed content, an http:// URL of a named host it does.
    named = {name: f"https://{name}.{DOMAIN}:{port}" for name, port in ports.items()}
    frames_us = {"TESTING": True, "EMBED_ORIGINS": named["host"]}
    servers = [LiveServer(create_app({**frames_us, "TRUSTED_PROXIES": 1})),
               LiveServer(create_app(frames_us))]
    trusted, plain = (srv.url for srv in servers)
    headers = readme_proxy_headers()
    config = (
        tls_server(ports["map"], cert, key,
                   proxied("/", trusted, headers)
                   + proxied("/ocop/", trusted + "/", headers, prefix="/ocop"))
        + tls_server(ports["plain"], cert, key, proxied("/", plain, headers))
        + tls_server(ports["host"], cert, key, f"    root {www};\n"))
    try:
        nginx = Nginx(nginx_bin, tmp, config, list(ports.values()))
        try:
            yield {"map": f"https://127.0.0.1:{ports['map']}",
                   "plain": f"https://127.0.0.1:{ports['plain']}",
                   "www": www, "cert": cert, "named": named}
        finally:
            nginx.stop()
    finally:
        for srv in servers:
            srv.stop()


def https_get(site, base, headers=None):
    context = ssl.create_default_context(cafile=str(site["cert"]))

    def get(path):
        req = urllib.request.Request(base + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=30, context=context) as r:
            return r.status, r.read().decode("utf-8")
    return get


def test_behind_nginx_with_tls_every_url_is_https(tls_site):
    base = tls_site["map"]
    found = urls_made(https_get(tls_site, base), base + "/")
    assert_all_under(found, base + "/")
    assert found["oEmbed html"] == f"{base}/embed?stars=4"
    # Under a path prefix the proxy strips, the app puts it back.
    found = urls_made(https_get(tls_site, base + "/ocop"), base + "/ocop/")
    assert_all_under(found, base + "/ocop/")
    # What a client sends itself the README's configuration replaces or drops.
    spoofed = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
               "X-Forwarded-Prefix": "/evil"}
    assert_all_under(urls_made(https_get(tls_site, base, spoofed), base + "/"), base + "/")
    # The app with TRUSTED_PROXIES left at 0 behind the same proxy: the http:// URLs.
    plain = tls_site["plain"]
    found = urls_made(https_get(tls_site, plain), plain + "/")
    http = plain.replace("https://", "http://")
    assert found["oEmbed provider_url"] == http + "/"


class NamedWatch(PageWatch):
    """PageWatch that also lets through the names mapped to 127.0.0.1."""

    def _route(self, route):
        if (urlsplit(route.request.url).hostname or "").endswith("." + DOMAIN):
            route.continue_()
        else:
            super()._route(route)


@pytest.fixture(scope="module")
def named_browser(browser):
    """Chromium resolving *.ocop.test to 127.0.0.1 (and nothing else differently)."""
    b = browser.browser_type.launch(executable_path=chromium_path(),
                                    args=[*CHROMIUM_ARGS, RESOLVE])
    yield b
    b.close()


@pytest.fixture()
def named_watch(named_browser):
    pages = []

    def open_page(**context_args):
        pages.append(NamedWatch(named_browser, ignore_https_errors=True, **context_args))
        return pages[-1]
    yield open_page
    for p in pages:
        p.close()


def builder_snippet(watch, base: str, clean: bool = True) -> str:
    """The builder's snippet; `clean`: its page (with the preview) logged no error."""
    w = watch()
    w.page.goto(base + "/embed/builder?lang=en", wait_until="load")
    w.page.wait_for_function(
        "() => (document.getElementById('snippet') || {}).value?.includes('<iframe')",
        timeout=15000)
    snippet = w.page.eval_on_selector("#snippet", "el => el.value")
    assert (w.errors == []) is clean, w.errors
    return snippet


def host_page(site, name: str, snippet: str) -> str:
    (site["www"] / name).write_text(
        '<!doctype html><html lang="vi"><meta charset="utf-8"><title>Du lịch Hải Phòng</title>'
        f"<h1>Sản phẩm OCOP</h1>{snippet}</html>", encoding="utf-8")
    return f"{site['named']['host']}/{name}"


@pytest.mark.browser
def test_an_https_page_frames_the_map_with_no_mixed_content(tls_site, named_watch, tmp_path):
    base = tls_site["named"]["map"]
    snippet = builder_snippet(named_watch, base)     # its https preview loads cleanly too
    assert f'src="{base}/embed?' in snippet
    w = named_watch(viewport={"width": 1280, "height": 900})
    w.page.goto(host_page(tls_site, "embeds.html", snippet), wait_until="load")
    frame = w.page.frame_locator("iframe")
    frame.locator("[data-ocop-ready]").wait_for(timeout=20000)
    frame.locator(".leaflet-marker-icon").first.wait_for(timeout=15000)
    assert frame.locator(".leaflet-marker-icon").count() > 0
    assert [f.url.split(":", 1)[0] for f in w.page.frames] == ["https", "https"]
    w.page.screenshot(path=str(tmp_path / "framed-over-https.png"))
    assert w.errors == []                  # a blocked frame or script logs an error here


@pytest.mark.browser
def test_without_the_setting_the_browser_blocks_the_frame(tls_site, named_watch):
    """The issue as it was: the app not told about the proxy writes http:// snippets, which
    an https page may not frame (so the test above can fail)."""
    # Even the builder's own preview was refused (an http:// frame in an https page).
    snippet = builder_snippet(named_watch, tls_site["named"]["plain"], clean=False)
    assert 'src="http://' in snippet
    w = named_watch()
    with w.page.expect_console_message(lambda m: "Mixed Content" in m.text, timeout=15000):
        w.page.goto(host_page(tls_site, "blocked.html", snippet), wait_until="load")
    assert w.page.frames[1].evaluate("() => !!document.querySelector('[data-ocop-ready]')") \
        is False

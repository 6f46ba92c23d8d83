import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from app import create_app
from tests.synthetic import HOSTILE, write_dataset

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def app():
    """The app on the real data shipped in data/."""
    return create_app({"TESTING": True})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def hostile_dir(tmp_path_factory):
    """Generated data whose every text field is a script-injection attempt."""
    return write_dataset(tmp_path_factory.mktemp("hostile"), n_products=12, n_destinations=4,
                         text=HOSTILE)


@pytest.fixture(scope="session")
def hostile_app(hostile_dir):
    return create_app({"TESTING": True, "DATA_DIR": str(hostile_dir)})


@pytest.fixture()
def data_copy(tmp_path):
    """A writable copy of the real data directory."""
    return Path(shutil.copytree(ROOT / "data", tmp_path / "data"))


# -- browser ------------------------------------------------------------------------------

class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="session")
def live_server(app):
    srv = LiveServer(app)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def hostile_server(hostile_app):
    srv = LiveServer(hostile_app)
    yield srv
    srv.stop()


def chromium_path() -> str | None:
    for p in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if p and Path(p).exists():
            return p
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        message = "Chromium not found: apt-get install -y chromium (or set CHROMIUM=/path)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageWatch:
    """A page that may only reach 127.0.0.1: every other request is aborted and recorded."""

    def __init__(self, browser, **context_args):
        # The map registers a service worker (static/pwa.js), whose fetches `route` may not
        # see: blocked unless a test asks for it (tests/test_offline.py, tiles on 127.0.0.1).
        context_args.setdefault("service_workers", "block")
        self.context = browser.new_context(**context_args)
        self.page = self.context.new_page()
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("dialog", self._dialog)

    def _route(self, route):
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, msg):
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        # A request we aborted (tiles) logs a console error; that is the test's doing.
        if "Failed to load resource" in msg.text and url and \
                urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            return
        self.errors.append(f"console: {msg.text} ({url})")

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def outside_hosts(self) -> set[str]:
        return {urlsplit(u).hostname for u in self.outside}

    def close(self):
        self.context.close()


@pytest.fixture()
def watch(browser):
    pages = []

    def open_page(**context_args):
        pw = PageWatch(browser, **context_args)
        pages.append(pw)
        return pw

    yield open_page
    for p in pages:
        p.close()


__all__ = ["HOSTILE"]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

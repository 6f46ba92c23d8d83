"""The plain pages as axe-core sees them in headless Chromium, on a phone and a desktop, in
both languages: no violation of impact critical, serious or moderate (tests/axe.py), and
nothing wider than a phone's screen."""
import pytest
from werkzeug.security import generate_password_hash

from app import create_app
from tests.axe import format_violations, run_axe
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}
PAGES = ["/list", "/list?stars=9", "/nearby?near=106.68,20.86", "/nearby", "/stats",
         "/stats?units=new", "/expiring", "/embed/builder", "/handbook", "/nope"]


@pytest.fixture(scope="module")
def admin_server():
    """/admin is a login page only when a password is configured."""
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 32,
                      "ADMIN_PASSWORD_HASH": generate_password_hash("right horse")})
    srv = LiveServer(app)
    yield srv
    srv.stop()


def check(watch, url: str, device: str) -> None:
    w = watch(**VIEWPORTS[device])
    w.page.goto(url, wait_until="load")
    violations = run_axe(w.page)
    assert not violations, f"{url} ({device}):\n{format_violations(violations)}"
    if device == "phone":
        width = w.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= VIEWPORTS["phone"]["viewport"]["width"], f"{url} scrolls sideways"


@pytest.mark.parametrize("device", VIEWPORTS)
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_accessibility_violation(watch, live_server, path, lang, device):
    check(watch, f"{live_server.url}{path}{'&' if '?' in path else '?'}lang={lang}", device)


@pytest.mark.parametrize("device", VIEWPORTS)
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_admin_login_has_no_accessibility_violation(watch, admin_server, lang, device):
    check(watch, f"{admin_server.url}/admin?lang={lang}", device)

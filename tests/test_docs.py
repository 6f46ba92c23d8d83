"""The README stays true: every setting and every command it promises exists."""
from pathlib import Path

from app import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    for name in DEFAULTS:
        assert f"`{name}`" in README and f"`OCOP_{name}`" in README, name


def test_the_two_setup_commands_exist():
    assert "pip install -r requirements.txt && .venv/bin/flask --app app run" in README
    assert "bash scripts/test.sh" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in ci


def test_environment_variables_configure_the_app(monkeypatch, data_copy):
    from app import create_app

    monkeypatch.setenv("OCOP_TILE_URL", "http://127.0.0.1:9/{z}/{x}/{y}.png")
    monkeypatch.setenv("OCOP_DATA_DIR", str(data_copy))
    app = create_app()
    assert app.config["DATA_DIR"] == str(data_copy)
    from tests.test_page import full_page
    html = full_page(app.test_client())
    assert "http://127.0.0.1:9/{z}/{x}/{y}.png" in html

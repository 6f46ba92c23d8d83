"""The README stays true: every setting and every command it promises exists."""
from pathlib import Path

from app import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    for name in DEFAULTS:
        assert f"`{name}`" in README and f"`OCOP_{name}`" in README, name


def test_every_setting_the_app_reads_is_documented():
    """Settings read outside DEFAULTS too (set with setdefault or only read)."""
    import re

    names = set()
    for path in list((ROOT / "web").glob("*.py")) + [ROOT / "app.py"]:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r'config(?:\.get\(|\.setdefault\(|\[)"([A-Z_]+)"', text))
    flask_own = {"TESTING", "MAX_CONTENT_LENGTH"}
    assert {"DATA_DIR", "FASTPATH", "PUBLIC_URL"} <= names
    for name in sorted(names - flask_own):
        assert f"`{name}`" in README, name


def test_every_cli_command_and_option_is_documented():
    from app import create_app
    from web.cli import ocop

    create_app({"TESTING": True})          # registers every command
    assert len(ocop.commands) >= 6
    for name, cmd in ocop.commands.items():
        assert f"ocop {name}" in README, name
        for param in cmd.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert any(f"{c}{opt}" in README for c in " `["), (name, opt)


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


def test_the_production_command_serves_the_map(tmp_path):
    """The README's production command (granian) serves the same bytes as the app itself."""
    import os
    import re
    import shlex
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.conftest import free_port

    line = next(ln for ln in README.splitlines() if "granian --interface wsgi" in ln)
    cmd = shlex.split(line.split("&&", 1)[1])
    port = free_port()
    cmd[cmd.index("--port") + 1] = str(port)
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", *cmd], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            start_new_session=True)
    try:
        from app import create_app

        client = create_app({"TESTING": True}).test_client()
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, \
                    (tmp_path / "server.log").read_text()
                time.sleep(0.3)
        script = re.search(r'src="(/map/[^"]+)"', page).group(1)
        for url in (script, "/export/products.geojson", "/ogc/collections/products/items"):
            for _ in range(2):     # the second answer comes from the fast path
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{url}", timeout=30) as r:
                    same = client.get(url, base_url=f"http://127.0.0.1:{port}").data
                    assert r.status == 200 and r.read() == same, url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(20)
        log.close()

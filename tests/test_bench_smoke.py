"""Smoke tests of the benchmarks: the shared helpers, the report logic of the load benchmarks,
and tiny runs of the benchmarks that need no load generator (no timings are checked).

Nothing here needs nginx; the one test that drives wrk needs Debian's wrk, which
scripts/test.sh installs (it fails, not skips, without it)."""
import gzip
import json
import re
import sys
import time

import pytest

from bench import common, joins, serve, soak, startup
from bench.__main__ import SUITE


# -- bench.common -------------------------------------------------------------------------------

def test_table_aligns_left_and_right():
    lines = common.table(["name", "n"], [["a", "1"], ["bbb", "1,000"]])
    assert lines == ["name      n", "----  -----", "a         1", "bbb   1,000"]
    assert common.table(["x", "y", "z"], [["1", "2", "3"]], left={0, 2})[2] == "1  2  3"


def test_pct_and_timed():
    assert common.pct([3, 1, 2], 0.5) == 2
    assert common.pct(range(1, 101), 0.99) == 99
    assert common.pct([], 0.5) != common.pct([], 0.5)       # NaN
    result, seconds = common.timed(lambda: 42, repeat=3)
    assert result == 42 and 0 <= seconds < 1


def test_wrk_report_line_is_read():
    out = ("Running 1s test\n  2 threads and 8 connections\n"
           'WRKJSON {"requests":1200,"duration_us":2000000,"connect":0,"read":1,"write":0,'
           '"status":2,"timeout":3,"p50_us":1500,"p99_us":9000,"max_us":12000}\n')
    load = common.parse_wrk(out)
    assert (load.requests, load.rps, load.p50_ms, load.p99_ms, load.max_ms) == \
        (1200, 600.0, 1.5, 9.0, 12.0)
    assert load.errors == 6 and load.kinds["timeout"] == 3
    assert common.parse_wrk("no report") is None
    cmd = common.wrk_cmd(8000, "/x?a=1", {"Accept-Encoding": "gzip"}, 2, 8, "r.lua", 10)
    assert cmd[:6] == ["wrk", "-t2", "-c8", "-d2s", "--timeout", "10s"]
    assert cmd[-3:] == ["-H", "Accept-Encoding: gzip", "http://127.0.0.1:8000/x?a=1"]


def test_a_missing_tool_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(common.shutil, "which", lambda *a, **k: None)
    with pytest.raises(SystemExit, match=r"wrk is not installed.*apt-get install -y wrk"):
        common.find_tool("wrk")
    # The throughput benchmark stops before starting anything.
    with pytest.raises(SystemExit, match="apt-get install -y wrk"):
        serve.main(["--seconds", "1"])
    with pytest.raises(SystemExit, match="apt-get install -y wrk"):
        soak.main(["--minutes", "0.1"])


def test_a_server_starts_on_a_free_port_and_stops_with_its_group(tmp_path):
    port = common.free_port()
    srv = common.Server("static", [sys.executable, "-m", "http.server", "--bind",
                                   common.HOST, str(port)], dict(common.os.environ),
                        tmp_path / "log", port)
    try:
        srv.start(timeout=30)
        status, headers, body = common.fetch(port, "/")
        assert status == 200 and body
    finally:
        srv.stop()
    assert srv.proc.poll() is not None
    with pytest.raises(OSError):
        common.fetch(port, "/", timeout=2)


def test_serve_wsgi_answers_on_127_0_0_1():
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    with common.serve_wsgi(app) as url:
        assert url.startswith("http://127.0.0.1:")
        status, _, body = common.fetch(int(url.rsplit(":", 1)[1]), "/hello")
    assert (status, body) == (200, b"/hello")


# -- bench.serve: rows, report, verdict (no load) -----------------------------------------------

def _result(rps, size=100, features=None, errors=0):
    return serve.Result(True, load=serve.Combined(rps, 1.0, 5.0, errors), size=size,
                        features=features)


def test_serve_rows_and_targets():
    rows = serve.rows_for({"products": 10323, "districts": 27})
    labels = [r.label for r in rows]
    assert labels[:2] == ["map page /", "embed page /embed"]
    by = {r.label: r for r in rows}
    assert by["products download (GeoJSON)"].pyg_path == \
        "/collections/products/items?limit=10323&f=json"
    assert [r.label for r in rows if r.nginx_target] == labels[:3]
    assert {r.label for r in rows if r.pyg_target} == {
        "districts download (GeoJSON)", "products items limit=100", "districts items limit=100",
        "products filter stars>=4 (CQL2)", "products bbox", "products sortby=name"}
    # The filtered queries: the same query on both, pygeoapi's from its PostGIS collection.
    cql = by["products filter stars>=4 (CQL2)"]
    assert cql.app_path == "/ogc/collections/products/items?filter=stars%3E%3D4&" \
        "filter-lang=cql2-text&limit=100"
    assert cql.pyg_path == "/collections/products_postgis/items?filter=stars%3E%3D4&" \
        "filter-lang=cql2-text&limit=100&f=json"
    assert by["products sortby=name"].pyg_path.startswith(
        "/collections/products_postgis/items?sortby=name&")
    assert serve.headers_for(by["map page /"], "gzip") == {"Accept-Encoding": "gzip"}
    assert serve.headers_for(by["products items limit=100"], "identity")["Accept"] == \
        "application/geo+json"


def test_serve_verdict_and_tables():
    rows = serve.rows_for({"products": 27, "districts": 15})
    results = []
    for row in rows:
        res = {"app": _result(30000, features=27), "nginx": _result(60000)}
        if row.pyg_path:
            res["pygeoapi"] = _result(1000, features=27)
        results.append(("gzip", row, res))
    text, met = serve.verdict(results)
    assert met and text.startswith("Targets MET")
    nginx = serve.nginx_table(results)
    assert "2.0x" in nginx[2] and "yes (target)" in nginx[2]
    pyg = serve.pygeoapi_table(results)
    assert len(pyg) == 2 + 7 and "30.0x" in pyg[2]
    # nginx 4x the app on the map page, pygeoapi out of reach on one row, one error
    results[0][2]["nginx"] = _result(120000)
    results[4][2]["pygeoapi"] = serve.Result(False, note="not available (HTTP 500)")
    results[1][2]["app"] = _result(30000, errors=1)
    text, met = serve.verdict(results)
    assert not met and text.startswith("Targets NOT MET")
    assert "map page / (gzip): nginx 4.0x the app" in text
    assert "not measured: products items limit=100 (gzip, pygeoapi)" in text
    assert "1 error(s)" in text
    assert "not available (HTTP 500)" in "\n".join(serve.pygeoapi_table(results))


def test_serve_notes_a_row_whose_servers_answered_other_features():
    notes = []
    serve.same_features({"app": _result(1, features=48), "pygeoapi": _result(1, features=48)},
                        "gzip same", notes)
    serve.same_features({"app": _result(1, features=48), "pygeoapi": _result(1, features=100)},
                        "gzip other", notes)
    assert notes == ["gzip other: the app answered 48 features, pygeoapi 100"]


def test_serve_a_server_that_answered_nothing_gives_a_bound():
    row = serve.rows_for({"products": 10323, "districts": 27})[4]    # products items
    silent = serve.Result(True, load=serve.Combined(0.0, float("nan"), float("nan"), 0, 0, 6.0))
    res = {"app": _result(12000), "nginx": _result(30000), "pygeoapi": silent}
    assert serve.ratio(res["app"], silent) == (72000.0, ">")
    line = serve.pygeoapi_table([("gzip", row, res)])[2]
    assert "<0.2" in line and ">72,000.0x" in line and line.endswith("yes (target)")
    assert serve.verdict([("gzip", row, res)])[1]
    slow = serve.Result(True, load=serve.Combined(0.4, 4900.0, 5800.0, 0, 2, 6.0))
    assert "0.4" in serve.pygeoapi_table([("gzip", row, {**res, "pygeoapi": slow})])[2]


def test_serve_slow_endpoints_get_fewer_longer_rounds():
    args = serve.parse_args(["--seconds", "6", "--rounds", "3", "--connections", "64"])
    assert serve.plan_rounds(args, 0.001)[:3] == (3, 2, serve.REQUEST_TIMEOUT)
    rounds, seconds, timeout, note = serve.plan_rounds(args, 0.5)   # waits 16 s under load
    assert (rounds, seconds, timeout) == (1, 6, 48) and "too short" in note
    assert serve.command_line(serve.parse_args(["--scale", "10323", "--no-identity"])) == \
        ("python -m bench.serve --seconds 6 --rounds 3 --connections 64 --scale 10323 "
         "--no-identity")


def test_nginx_config_serves_the_apps_bytes_and_headers(tmp_path):
    f = tmp_path / "r0"
    f.write_bytes(b"x")
    conf = serve.nginx_conf(tmp_path, 8080, 2, {"/r0": (f, {
        "content-type": "text/html; charset=utf-8", "etag": '"abc"', "vary": "Accept-Encoding"})})
    text = conf.read_text()
    assert "listen 127.0.0.1:8080;" in text and "worker_processes 2;" in text
    assert f"alias {f};" in text and 'default_type "text/html; charset=utf-8";' in text
    assert 'add_header etag "\\"abc\\"";' in text and "access_log off;" in text


# -- bench.soak: the load's record (no load) ----------------------------------------------------

def test_soak_script_and_record(tmp_path):
    lua = soak.lua_script()
    assert '"/nearby?near=106.68,20.86"' in lua and "WRKJSON" in lua and "URLS_HERE" not in lua
    k = {u: i + 1 for i, u in enumerate(soak.URLS)}
    (tmp_path / "t0.log").write_text(
        f"1.5 0.002 {k['/']} 200 - -\n"
        f"2.0 0.001 {k[soak.SCRIPT]} 200 - /map/v1/vi/full.js\n"
        f'61.0 0.004 {k[soak.EXPORT]} 200 "v1-a" -\n'
        f"62.0 0.010 {k['/list']} 503 - /list\n")
    (tmp_path / "t1.log").write_text(
        f'65.0 0.003 {k[soak.EXPORT]} 200 "v2-b" -\n'
        f"70.0 30.0 {k['/embed']} 0 - /embed\n")
    rec = soak.Recorder(120)
    rec.read(tmp_path)
    assert {m: len(v) for m, v in rec.latency.items()} == {0: 2, 1: 4}
    assert dict(rec.errors) == {1: 2}
    assert rec.url_errors == {"/list": 1, "/embed": 1}
    assert rec.etag_seen == {'"v1-a"': [61.0, 61.0], '"v2-b"': [65.0, 65.0]}
    assert rec.samples[0].endswith("/list: HTTP 503 for /list")
    assert rec.samples[1].endswith("/embed: socket error for /embed")


def test_soak_script_drives_wrk(tmp_path):
    """Two seconds of the soak's Lua script in wrk against a tiny WSGI app: it reads the
    script named by the gzipped page and notes every answer."""
    page = gzip.compress(b'<html><script defer src="/map/v7/vi/full.js"></script></html>')
    export = json.dumps({"features": [1, 2]}).encode()

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/html"),
                                      ("Content-Encoding", "gzip")])
            return [page]
        if path == soak.EXPORT and not environ["QUERY_STRING"]:
            start_response("200 OK", [("ETag", '"v7-x"')])
            return [export]
        start_response("200 OK", [])
        return [b"ok"]

    script = tmp_path / "soak.lua"
    script.write_text(soak.lua_script())
    logs = tmp_path / "load"
    logs.mkdir()
    with common.serve_wsgi(app) as url:
        port = int(url.rsplit(":", 1)[1])
        t0 = time.monotonic()
        cmd = common.wrk_cmd(port, "/", {"Accept-Encoding": "gzip"}, 2, 2, script, 5, threads=2,
                             args=(logs, f"{t0:.6f}", 2))
        out = common.subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert common.parse_wrk(out.stdout).requests > 0
    assert (logs / "latest").read_text() == "/map/v7/vi/full.js"
    rec = soak.Recorder(60)
    rec.read(logs)
    assert not rec.errors, rec.samples
    assert len(rec.by_url[soak.SCRIPT]) > 0 and set(rec.etag_seen) == {'"v7-x"'}
    assert all(0 <= t <= 10 for t, _ in rec.etag_seen.values())


# -- tiny runs of the benchmarks without load ---------------------------------------------------

def test_the_suite_has_one_throughput_benchmark():
    names = {name: cmd for name, _, cmd in SUITE}
    assert names["serve-real"] == ["bench.serve"]
    assert names["serve-national"] == ["bench.serve", "--scale", "10323"]
    assert not any("throughput" in cmd[0] for cmd in names.values())


def test_joins_runs_on_a_thousand_points(capsys):
    code = joins.main(["--points", "1000", "--sample", "200", "--national", "300",
                       "--repeat", "1", "--no-address"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("Reproduce: python -m bench.joins --points 1000 ")
    assert "1,000 points in, 1,000 rows out, 1,000 with a district: 1,000 ok" in out
    assert "consistent: yes" in out
    assert re.search(r"commune join: 300 points, every one given a commune: yes", out)
    assert "PROBLEM" not in out


def test_startup_scales_are_parsed():
    assert startup.parse_scales("data,national,stress") == [
        ("data", None), ("national", 10_323), ("stress", 100_000)]
    assert startup.parse_scales("5000") == [("5,000 synthetic", 5000)]
    with pytest.raises(Exception):
        startup.parse_scales("everything")


def test_startup_runs_on_a_small_synthetic_set(capsys):
    code = startup.main(["--scales", "50", "--timeout", "120"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"(?m)^50 synthetic +50 .* started$", out)
    assert "Note: 50 synthetic: synthetic data written in" in out

"""Server throughput: map pages, downloads and OGC items (filtered too), beside nginx and pygeoapi.

    python -m bench.serve                          # data/, 64 connections, 6 s per server and row
    python -m bench.serve --scale 10323            # the national-scale synthetic set
    python -m bench.serve --seconds 2 --rounds 1 --no-identity     # a quick look

Three servers run side by side in one run, on 127.0.0.1:

- the app, as the README recommends for production: `granian --interface wsgi --workers 2
  --factory app:create_app` (or `--server gunicorn`: `gunicorn -w 2 -k gthread --threads 4`);
- nginx (Debian's package, as many worker processes, access log off) serving the very bytes
  and headers the app answered for each row, saved to files: the baseline of a static server;
- pygeoapi 0.24.0 (from PyPI, in its own venv bench/.venv-pygeoapi, created on first use from
  bench/requirements-pygeoapi.txt with a Python >= 3.12, which pygeoapi 0.24 needs: python3.13
  or python3.12 on PATH or under pyenv, or PYGEOAPI_PYTHON=/path) under the same server
  settings, serving `products` and `districts` through its GeoJSON provider from files written
  from the app's own downloads: the baseline of the OGC rows, with the same features.  Its
  GeoJSON provider ignores `filter`, `sortby` and `bbox`, so the filtered rows (a CQL2
  comparison, a bbox, a sortby) go to `products_postgis`: the app's GeoPackage download loaded
  into a throw-away PostGIS (bench/postgis.py; Debian's postgresql, postgis and gdal-bin),
  served by pygeoapi's PostgreSQL provider, the one that evaluates all three in the database.

The load generator is wrk (Debian: `apt-get install -y wrk`), keep-alive, --connections
connections.  Each row is measured in two passes: `Accept-Encoding: gzip` (as browsers send it)
for every row, and `identity` for the rows pygeoapi serves (--no-identity skips it); the
geospatial rows also send `Accept: application/geo+json`.  Per row: every server is first
checked to answer 200 (size, features, time alone), then loaded for a one-second warm-up (the
first request of each worker builds the app's cached response; a slow server's probes are its
warm-up), then in alternating rounds
(app, nginx, pygeoapi, app, ...: --rounds, splitting --seconds), and each figure is the median
over the rounds, so a burst of other work falls on every server alike.  After each load run it
waits for that server to work off the requests still queued.  A slow endpoint (pygeoapi with
thousands of products) gets fewer, longer rounds and a longer time-out, never more than
--seconds in all; a note says so.  Errors are wrk's socket errors and time-outs plus HTTP
statuses >= 400.

Targets (from the project's issues): the app within 3x of nginx serving the same bytes (app
req/s >= nginx req/s / 3) for the cached pages and the products download; at least 5x
pygeoapi's requests per second on products items (limit=100), on the full districts
collection and on the filtered products queries (CQL2 filter, bbox, sortby), with no errors.
Every load run stops by itself after its seconds; every server started here (and the PostGIS)
runs in its own process group and is stopped at the end, also on an error or Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.common import (HOST, ROOT, SERVERS, WRK_DONE, Load, Server, clean_env, decoded,
                          fetch, find_tool, free_port, machine_line, package_version,
                          raise_on_sigterm, require_server, run_wrk, server_cmd, server_label,
                          signals_ignored, synthetic_data, table, tool_version)
from bench.postgis import PostGIS, ogr2ogr, pg_bin, postgis

PYG_VENV = ROOT / "bench" / ".venv-pygeoapi"
PYG_REQUIREMENTS = ROOT / "bench" / "requirements-pygeoapi.txt"
PYG_PYTHON = (3, 12)        # pygeoapi 0.24 needs at least this Python
NGINX_TARGET = 3.0          # nginx req/s / app req/s, at most
PYG_TARGET = 5.0            # app req/s / pygeoapi req/s, at least
WARMUP_SECONDS = 1
REQUEST_TIMEOUT = 10        # seconds, per request under load (raised for slow endpoints)
PROBE_TIMEOUT = 300         # seconds for one request to an otherwise idle server
GEO = {"Accept": "application/geo+json"}
# What nginx must send back as the app did (the rest are per server: Date, Server, ...).
KEEP = ("content-type", "content-encoding", "content-disposition", "cache-control", "etag",
        "vary", "content-language", "content-security-policy", "x-content-type-options",
        "referrer-policy", "x-frame-options")


# -- rows ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    label: str
    app_path: str
    pyg_path: str | None = None   # pygeoapi's URL for the same features, if it serves them
    geo: bool = False             # sends Accept: application/geo+json
    nginx_target: bool = False    # a cached page or download: part of the "within 3x" target
    pyg_target: bool = False      # part of the ">= 5x pygeoapi" target


# The filtered queries, the same on both servers (pygeoapi's from PostGIS, see the docstring).
PYG_FILTERED = "products_postgis"
FILTERED = [("products filter stars>=4 (CQL2)", "filter=stars%3E%3D4&filter-lang=cql2-text"),
            ("products bbox", "bbox=106.6,20.7,106.8,20.9"),
            ("products sortby=name", "sortby=name")]


def rows_for(counts: dict[str, int]) -> list[Row]:
    def full(name):   # one page holding the whole collection, as the app's download does
        return f"/collections/{name}/items?limit={max(100, counts[name])}&f=json"

    return [
        Row("map page /", "/", nginx_target=True),
        Row("embed page /embed", "/embed?lang=en", nginx_target=True),
        Row("products download (GeoJSON)", "/export/products.geojson", full("products"), True,
            nginx_target=True),
        Row("districts download (GeoJSON)", "/export/districts.geojson", full("districts"),
            True, pyg_target=True),
        Row("products items limit=100", "/ogc/collections/products/items?limit=100",
            "/collections/products/items?limit=100&f=json", True, pyg_target=True),
        Row("districts items limit=100", "/ogc/collections/districts/items?limit=100",
            "/collections/districts/items?limit=100&f=json", True,
            pyg_target=counts["districts"] <= 100),
    ] + [Row(label, f"/ogc/collections/products/items?{query}&limit=100",
             f"/collections/{PYG_FILTERED}/items?{query}&limit=100&f=json", True,
             pyg_target=True) for label, query in FILTERED]


def headers_for(row: Row, variant: str) -> dict:
    return {**(GEO if row.geo else {}), "Accept-Encoding": variant}


# -- pygeoapi -----------------------------------------------------------------------------------

def python_version(python: str | Path) -> tuple[int, ...]:
    """(major, minor) of a Python interpreter, () if it does not run."""
    try:
        out = subprocess.run([str(python), "-c", "import sys; print(*sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60)
    except OSError:
        return ()
    return tuple(map(int, out.stdout.split())) if out.returncode == 0 else ()


def base_python() -> str:
    """A Python new enough for pygeoapi: PYGEOAPI_PYTHON, this one, python3.13 or python3.12 on
    PATH, or the newest under pyenv."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(pyenv.glob("3.*/bin/python3"), key=lambda p: python_version(p), reverse=True)
    for python in (os.environ.get("PYGEOAPI_PYTHON"), sys.executable, shutil.which("python3.13"),
                   shutil.which("python3.12"), *found):
        if python and python_version(python) >= PYG_PYTHON:
            return str(python)
    raise SystemExit(f"pygeoapi {pinned_pygeoapi()} needs Python >= "
                     f"{'.'.join(map(str, PYG_PYTHON))}; install one (e.g. Debian trixie's "
                     f"python3, or pyenv) or set PYGEOAPI_PYTHON=/path/to/python3.12")


def pinned_pygeoapi() -> str:
    return next(line.split("==", 1)[1].strip() for line in PYG_REQUIREMENTS.read_text()
                .splitlines() if line.startswith("pygeoapi=="))


def pygeoapi_python(install: bool) -> Path:
    """The Python of bench/.venv-pygeoapi, created (pygeoapi as pinned, its PostgreSQL
    provider's drivers and the servers) if missing or out of date."""
    py = PYG_VENV / "bin" / "python"
    probe = [str(py), "-c", "import importlib.metadata as m, gunicorn, granian, psycopg2, "
             f"geoalchemy2; assert m.version('pygeoapi') == {pinned_pygeoapi()!r}"]
    if py.exists() and subprocess.run(probe, capture_output=True, timeout=120).returncode == 0:
        return py
    venv, req = PYG_VENV.relative_to(ROOT), PYG_REQUIREMENTS.relative_to(ROOT)
    if not install:
        raise SystemExit(f"pygeoapi {pinned_pygeoapi()} is not installed in {venv}; run "
                         f"without --no-install, or: python3.12 -m venv {venv} && "
                         f"{venv}/bin/pip install -r {req}")
    print(f"Installing pygeoapi into {venv}/ (from {req}) ...", flush=True)
    if not py.exists() or python_version(py) < PYG_PYTHON:
        subprocess.run([base_python(), "-m", "venv", "--clear", str(PYG_VENV)], check=True,
                       timeout=300)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(PYG_REQUIREMENTS)],
                   check=True, timeout=1200)
    return py


def bbox_of(fc: dict) -> list[float]:
    xs, ys = [], []

    def walk(c):
        if c and isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for sub in c:
                walk(sub)

    for f in fc["features"]:
        if f.get("geometry"):
            walk(f["geometry"]["coordinates"])
    return [min(xs), min(ys), max(xs), max(ys)] if xs else [-180, -90, 180, 90]


def pygeoapi_config(port: int, collections: dict[str, dict], max_items: int) -> dict:
    """pygeoapi's configuration (written as JSON, which its YAML loader reads as is)."""
    url = f"http://{HOST}:{port}"
    resources = {name: {
        "type": "collection", "title": c["title"], "description": c["title"],
        "keywords": ["ocop", "hai phong"],
        "extents": {"spatial": {"bbox": c["bbox"],
                                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
        "providers": [c["provider"]],
    } for name, c in collections.items()}
    return {
        "server": {
            "bind": {"host": HOST, "port": port}, "url": url,
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
            "gzip": True, "languages": ["en-US"], "pretty_print": False,
            # Large enough for the full collection in one page, as the app's download gives it.
            "limits": {"default_items": 10, "max_items": max_items, "on_exceed": "throttle"},
            "map": {"url": f"http://{HOST}/tiles/{{z}}/{{x}}/{{y}}.png", "attribution": "none"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "OCOP Hai Phong (benchmark)",
                               "description": "The app's products and districts",
                               "keywords": ["ocop"], "url": url, "terms_of_service": url},
            "license": {"name": "CC-BY 4.0", "url": url},
            "provider": {"name": "benchmark", "url": url},
            # pygeoapi's landing page and OpenAPI document read every one of these.
            "contact": {"name": "benchmark", "position": "", "address": "", "city": "",
                        "stateorprovince": "", "postalCode": "", "country": "", "phone": "",
                        "fax": "", "email": "", "url": url, "hours": "", "instructions": "",
                        "role": "pointOfContact"},
        },
        "resources": resources,
    }


def download(app: Server, path: str, target: Path) -> bytes:
    status, _, body = fetch(app.port, path, GEO, timeout=PROBE_TIMEOUT)
    if status != 200:
        raise RuntimeError(f"the app answered HTTP {status} for {path}")
    target.write_bytes(body)
    return body


def start_pygeoapi(args, tmp: Path, app: Server, pyg_python: Path, db: PostGIS,
                   servers: list[Server]) -> tuple[Server, dict[str, int]]:
    """Write pygeoapi's data from the app's downloads (GeoJSON files; the products GeoPackage
    into PostGIS), its configuration, and start it."""
    pdir = tmp / "pygeoapi"
    pdir.mkdir()
    collections, counts = {}, {}
    for name, id_field, title in (("products", "id", "OCOP products"),
                                  ("districts", "code", "Districts")):
        path = pdir / f"{name}.geojson"
        fc = json.loads(download(app, f"/export/{name}.geojson", path))
        counts[name] = len(fc["features"])
        collections[name] = {"title": title, "bbox": bbox_of(fc), "provider": {
            "type": "feature", "name": "GeoJSON", "data": str(path), "id_field": id_field}}
    gpkg = pdir / "products.gpkg"
    download(app, "/export/products.gpkg", gpkg)
    db.load(gpkg, "products", "id")
    collections[PYG_FILTERED] = {**collections["products"], "provider": {
        "type": "feature", "name": "PostgreSQL", "data": db.url, "id_field": "id",
        "table": "products", "geom_field": "geom"}}
    port = free_port()
    config, openapi = pdir / "pygeoapi-config.yml", pdir / "pygeoapi-openapi.yml"
    config.write_text(json.dumps(pygeoapi_config(port, collections, max(100, *counts.values())),
                                 indent=2))
    env = clean_env(PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    gen = subprocess.run([str(pyg_python.parent / "pygeoapi"), "openapi", "generate", str(config),
                          "--output-file", str(openapi)],
                         env=env, cwd=pdir, capture_output=True, text=True, timeout=300)
    if gen.returncode != 0 or not openapi.exists():
        raise RuntimeError(f"pygeoapi openapi generate failed:\n{gen.stderr[-3000:]}")
    pyg = Server("pygeoapi", server_cmd(args.server, pyg_python, args.workers, port,
                                        "pygeoapi.flask_app:APP", False, args.threads),
                 env, tmp / "pygeoapi.log", port, "/conformance?f=json")
    servers.append(pyg)
    pyg.start("/collections/districts/items?limit=1&f=json")
    return pyg, counts


# -- nginx --------------------------------------------------------------------------------------

def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_conf(tmp: Path, port: int, workers: int, files: dict[str, tuple[Path, dict]]) -> Path:
    """nginx serving each file at its URL with the app's headers (Date, Server its own)."""
    user = "user root;\n" if os.geteuid() == 0 else ""   # workers must read tmp/ (mode 0700)
    locations = []
    for path, (file, headers) in files.items():
        adds = "".join(f"      add_header {k} {quote(v)};\n" for k, v in headers.items()
                       if k != "content-type")
        locations.append(f"    location = {path} {{\n      alias {file};\n"
                         f"      default_type {quote(headers.get('content-type', 'text/plain'))};"
                         f"\n{adds}    }}\n")
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes {workers};\npid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/nginx-error.log;\nevents {{ worker_connections 1024; }}\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  etag off;\n"
        + "".join(f"  {kind}_temp_path {tmp}/nginx-{kind};\n"
                  for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"  server {{\n    listen {HOST}:{port};\n{''.join(locations)}  }}\n}}\n")
    return conf


def start_nginx(args, tmp: Path, app: Server, plan: list[tuple[str, Row]], nginx_bin: str,
                servers: list[Server]) -> tuple[Server, dict]:
    """Save the app's answer of every (variant, row) and serve it from nginx at /rN."""
    www = tmp / "www"
    www.mkdir()
    files, static = {}, {}
    for i, (variant, row) in enumerate(plan):
        status, headers, body = fetch(app.port, row.app_path, headers_for(row, variant),
                                      timeout=PROBE_TIMEOUT)
        if status != 200:
            raise RuntimeError(f"the app answered HTTP {status} for {row.app_path}")
        f = www / f"r{i}"
        f.write_bytes(body)
        files[f"/r{i}"] = (f, {k: v for k, v in headers.items() if k in KEEP})
        static[variant, row.label] = f"/r{i}"
    port = free_port()
    conf = nginx_conf(tmp, port, args.workers, files)
    ngx = Server("nginx", [nginx_bin, "-c", str(conf), "-p", str(tmp), "-g", "daemon off;"],
                 dict(os.environ), tmp / "nginx.log", port, "/r0")
    servers.append(ngx)
    ngx.start()
    return ngx, static


# -- measuring ----------------------------------------------------------------------------------

@dataclass
class Result:
    """One server's side of a row: available or why not, its load, one response's size."""
    available: bool
    note: str = ""
    load: Combined | None = None  # medians over the rounds (errors summed)
    size: int | None = None       # bytes of one response body as sent
    features: int | None = None
    alone_s: float = 0.0          # seconds for that one response, the server otherwise idle


@dataclass
class Combined:
    """An endpoint's rounds put together: the median of each figure, the errors, requests
    and seconds summed (no request answered in all that time: the rate is below 1/seconds)."""
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 1
    seconds: float = 1.0

    @classmethod
    def of(cls, loads: list[Load]) -> "Combined":
        answered = [ld for ld in loads if ld.requests] or [None]

        def med(key):
            xs = [getattr(ld, key) for ld in answered if ld and not math.isnan(getattr(ld, key))]
            return statistics.median(xs) if xs else math.nan

        return cls(statistics.median(ld.rps for ld in loads), med("p50_ms"), med("p99_ms"),
                   sum(ld.errors for ld in loads), sum(ld.requests for ld in loads),
                   sum(ld.seconds for ld in loads))


def probe(server: Server, path: str, headers: dict) -> Result:
    """Three requests: is it there (200), how big, how many features, how long alone (the
    fastest: the first ones may reach workers that have yet to build their caches)."""
    alone = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        try:
            status, h, body = fetch(server.port, path, headers, timeout=PROBE_TIMEOUT)
        except OSError as e:
            return Result(False, note=f"no answer ({e.__class__.__name__})")
        alone = min(alone, time.perf_counter() - t0)
        if status != 200:
            return Result(False, note=f"not available (HTTP {status})")
    try:
        features = len(json.loads(decoded(h, body))["features"])
    except (ValueError, KeyError, TypeError, OSError):
        features = None
    return Result(True, size=len(body), features=features, alone_s=alone)


def same_features(res: dict[str, Result], label: str, notes: list[str]) -> None:
    """A note when pygeoapi's answer holds another number of features than the app's: the
    row would not compare the same work."""
    app, pyg = res["app"], res.get("pygeoapi")
    if pyg and app.available and pyg.available and app.features != pyg.features:
        notes.append(f"{label}: the app answered {app.features} features, pygeoapi "
                     f"{pyg.features}")


def queue_wait(args, alone_s: float) -> float:
    """How long a request waits under load: about connections / workers times its time
    alone."""
    return math.ceil(args.connections / args.workers) * alone_s


def plan_rounds(args, alone_s: float) -> tuple[int, int, int, str]:
    """Rounds, seconds per round and request time-out for one row.

    Under load a request waits for the ones ahead of it (queue_wait).  A round shorter than
    two such waits would count almost nothing, so a slow endpoint gets fewer, longer rounds
    (never more than --seconds in all), and a time-out well above that wait."""
    wait = queue_wait(args, alone_s)
    rounds = min(args.rounds, args.seconds)
    while rounds > 1 and args.seconds // rounds < 2 * wait:
        rounds -= 1
    timeout = max(REQUEST_TIMEOUT, math.ceil(3 * wait))
    note = ""
    if args.seconds < 2 * wait:
        note = (f"a request waits about {wait:.1f} s under this load; --seconds {args.seconds} "
                f"is too short for a steady figure (try --seconds {math.ceil(4 * wait)})")
    return rounds, args.seconds // rounds, timeout, note


def measure_row(args, script: Path, sides: list[tuple[str, Server, str]], headers: dict,
                label: str, notes: list[str]) -> dict[str, Result]:
    """Every server's side of one row, loaded in alternating rounds."""
    results = {name: probe(srv, path, headers) for name, srv, path in sides}
    live = [(n, s, p) for n, s, p in sides if results[n].available]
    rounds, seconds, timeout, note = plan_rounds(
        args, max((results[n].alone_s for n, _, _ in live), default=0.0))
    if rounds != min(args.rounds, args.seconds):
        note = f"slow endpoint: {rounds} round(s) of {seconds} s" + (f"; {note}" if note else "")
    if note:
        notes.append(f"{label}: {note}")

    def load(srv, path, secs):
        ld = run_wrk(srv.port, path, headers, secs, args.connections, script, timeout)
        srv.drain(PROBE_TIMEOUT)
        return ld

    for n, srv, path in live:   # the first request of each worker is not counted; a slow
        if queue_wait(args, results[n].alone_s) < WARMUP_SECONDS:   # one's probes warmed it
            load(srv, path, WARMUP_SECONDS)
    per = {n: [] for n, _, _ in live}
    for _ in range(rounds):
        for n, srv, path in live:
            per[n].append(load(srv, path, seconds))
    for n, loads in per.items():
        results[n].load = Combined.of(loads)
    return results


# -- report -------------------------------------------------------------------------------------

def _num(x, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def side_cells(res: Result | None, size: bool) -> list[str]:
    n = 6 if size else 4
    if res is None:
        return ["-"] + [""] * (n - 1)
    if not res.available:
        return [res.note] + [""] * (n - 1)
    ld = res.load
    rps = (f"<{1 / ld.seconds:.1f}" if not ld.requests else
           _num(ld.rps, ",.0f" if ld.rps >= 10 else ".1f"))
    cells = [rps, _num(ld.p50_ms, ".2f"), _num(ld.p99_ms, ".2f"), str(ld.errors)]
    return cells + ([_num(res.size, ","), _num(res.features, "d")] if size else [])


def ratio(a: Result | None, b: Result | None) -> tuple[float | None, str]:
    """a's requests per second over b's, when both were measured, and "" or, when one side
    answered no request at all (its rate is below 1/seconds), ">" or "<": a bound."""
    if not (a and b and a.available and b.available):
        return None, ""
    x, y = a.load, b.load
    if x.requests and y.requests:
        return x.rps / y.rps, ""
    if x.requests:
        return x.rps * y.seconds, ">"
    if y.requests:
        return 1 / x.seconds / y.rps, "<"
    return None, ""


def judge(r: float | None, bound: str, target: float, at_most: bool) -> bool | None:
    """Is the ratio within the target (at most or at least it)?  None when it cannot say: not
    measured, or a bound on the wrong side of the target."""
    if r is None:
        return None
    if not bound:
        return r <= target if at_most else r >= target
    above = bound == ">"              # the ratio is above r (else below it)
    if above == at_most:              # the bound can only show it missed: > r >= "at most"
        return False if (r >= target if above else r <= target) else None
    return True if (r <= target if at_most else r >= target) else None


def _yes(ok: bool | None, target: bool) -> str:
    text = "-" if ok is None else ("yes" if ok else "NO")
    return f"{text} (target)" if target else text


def _ratio_text(r: float | None, bound: str) -> str:
    return "-" if r is None else f"{bound}{r:,.1f}x"


def nginx_table(results) -> list[str]:
    head = ["variant", "endpoint", "bytes", "app req/s", "p50 ms", "p99 ms", "err",
            "nginx req/s", "p50 ms", "p99 ms", "err", "nginx/app", f"<={NGINX_TARGET:g}x"]
    rows = []
    for variant, row, res in results:
        r, bound = ratio(res.get("nginx"), res["app"])
        ok = judge(r, bound, NGINX_TARGET, at_most=True)
        rows.append([variant, row.label, _num(res["app"].size, ","),
                     *side_cells(res["app"], False), *side_cells(res.get("nginx"), False),
                     _ratio_text(r, bound), _yes(ok, row.nginx_target)])
    return table(head, rows, left={0, 1, 12})


def pygeoapi_table(results) -> list[str]:
    head = ["variant", "endpoint", "app req/s", "p50 ms", "p99 ms", "err", "bytes", "feat",
            "pygeoapi req/s", "p50 ms", "p99 ms", "err", "bytes", "feat", "app/pygeoapi",
            f">={PYG_TARGET:g}x"]
    rows = []
    for variant, row, res in results:
        if not row.pyg_path:
            continue
        r, bound = ratio(res["app"], res.get("pygeoapi"))
        ok = judge(r, bound, PYG_TARGET, at_most=False)
        rows.append([variant, row.label, *side_cells(res["app"], True),
                     *side_cells(res.get("pygeoapi"), True), _ratio_text(r, bound),
                     _yes(ok, row.pyg_target)])
    return table(head, rows, left={0, 1, 15})


def verdict(results) -> tuple[str, bool]:
    """Both targets, over every pass measured; errors of the app or nginx fail it."""
    slow, weak, missing, errors = [], [], [], 0
    for variant, row, res in results:
        errors += sum(res[n].load.errors for n in ("app", "nginx")
                      if n in res and res[n].available)
        if row.nginx_target:
            r, bound = ratio(res.get("nginx"), res["app"])
            ok = judge(r, bound, NGINX_TARGET, at_most=True)
            if ok is None:
                missing.append(f"{row.label} ({variant}, nginx)")
            elif not ok:
                slow.append(f"{row.label} ({variant}): nginx {bound}{r:.1f}x the app")
        if row.pyg_target:
            r, bound = ratio(res["app"], res.get("pygeoapi"))
            ok = judge(r, bound, PYG_TARGET, at_most=False)
            if ok is None:
                missing.append(f"{row.label} ({variant}, pygeoapi)")
            elif not ok:
                weak.append(f"{row.label} ({variant}): {bound}{r:.1f}x pygeoapi")
    met = not (slow or weak or missing or errors)
    text = (f"Targets {'MET' if met else 'NOT MET'}: the app within {NGINX_TARGET:g}x of nginx "
            f"serving the same bytes (map pages, products download) and at least "
            f"{PYG_TARGET:g}x pygeoapi's requests per second (products items limit=100, full "
            f"districts collection, products filtered by CQL2, bbox and sortby)")
    problems = slow + weak + [f"not measured: {m}" for m in missing] + (
        [f"{errors} error(s) from the app or nginx"] if errors else [])
    return text + (f"; {'; '.join(problems)}." if problems else "."), met


def command_line(args) -> str:
    parts = ["python", "-m", "bench.serve", "--seconds", str(args.seconds), "--rounds",
             str(args.rounds), "--connections", str(args.connections)]
    for name, default in (("workers", 2), ("scale", None), ("threads", 4)):
        if getattr(args, name) != default:
            parts += [f"--{name}", str(getattr(args, name))]
    if args.server != SERVERS[0]:
        parts += ["--server", args.server]
    if args.no_identity:
        parts.append("--no-identity")
    return shlex.join(parts)


# -- main ---------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=6,
                   help="load per row and server, split into --rounds (default 6)")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternating rounds; figures are medians over them (default 3)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--workers", type=int, default=2,
                   help="workers of each server, nginx's too (default 2)")
    p.add_argument("--server", choices=SERVERS, default=SERVERS[0],
                   help="production server for the app and pygeoapi (default granian, as the "
                        "README recommends)")
    p.add_argument("--threads", type=int, default=4,
                   help="with --server gunicorn: threads per gthread worker (default 4)")
    p.add_argument("--scale", type=int, metavar="N",
                   help="N synthetic products (generated in a temporary directory)")
    p.add_argument("--no-identity", action="store_true",
                   help="skip the second pass without compression (pygeoapi's rows)")
    p.add_argument("--no-install", action="store_true",
                   help="never create bench/.venv-pygeoapi; fail if it is missing")
    p.add_argument("--check", action="store_true", help="exit 1 unless both targets are met")
    args = p.parse_args(argv)
    for name in ("seconds", "rounds", "connections", "workers", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.seconds > 600 or args.connections > 1000:
        p.error("--seconds must be at most 600 and --connections at most 1000")
    if args.scale is not None and args.scale < 1:
        p.error("--scale must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    find_tool("wrk")
    nginx_bin = find_tool("nginx")
    require_server(args.server)
    pg_bin(), ogr2ogr()          # pygeoapi's filtered rows: fail now if they cannot run
    pyg_python = pygeoapi_python(install=not args.no_install)
    raise_on_sigterm()
    print(f"Reproduce: {command_line(args)}", flush=True)
    header = machine_line()
    servers: list[Server] = []
    notes: list[str] = []
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp, ExitStack() as stack:
        tmp = Path(tmp)
        data_dir = synthetic_data(tmp / "data", args.scale)
        try:
            port = free_port()
            app = Server("app", server_cmd(args.server, sys.executable, args.workers, port,
                                           "app:create_app", True, args.threads),
                         clean_env(OCOP_DATA_DIR=str(data_dir)), tmp / "app.log", port,
                         "/export/districts.geojson")
            servers.append(app)
            app.start()
            db = stack.enter_context(postgis(tmp))     # stopped after the servers
            pyg, counts = start_pygeoapi(args, tmp, app, pyg_python, db, servers)
            db_label = db.versions()
            rows = rows_for(counts)
            plan = [("gzip", r) for r in rows]
            if not args.no_identity:
                plan += [("identity", r) for r in rows if r.pyg_path]
            ngx, static = start_nginx(args, tmp, app, plan, nginx_bin, servers)
            script = tmp / "report.lua"
            script.write_text(WRK_DONE)
            print(f"Measuring: {len(plan)} rows; per row and server a {WARMUP_SECONDS} s "
                  f"warm-up, then {min(args.rounds, args.seconds)} rounds of "
                  f"{args.seconds // min(args.rounds, args.seconds)} s, alternating; "
                  f"{args.connections} connections; wrk {tool_version(['wrk', '--version'])}",
                  flush=True)
            for variant, row in plan:
                sides = [("app", app, row.app_path), ("nginx", ngx, static[variant, row.label])]
                if row.pyg_path:
                    sides.append(("pygeoapi", pyg, row.pyg_path))
                res = measure_row(args, script, sides, headers_for(row, variant),
                                  f"{variant} {row.label}", notes)
                results.append((variant, row, res))
                same_features(res, f"{variant} {row.label}", notes)
                print(f"  {variant:8} {row.label:31} " + "  ".join(
                    f"{n} {side_cells(r, False)[0]}" + (" req/s" if r.available else "")
                    for n, r in res.items()), flush=True)
        finally:
            with signals_ignored():
                for srv in reversed(servers):
                    srv.stop()

    data = (f"{args.scale:,} synthetic products (tests.synthetic)" if args.scale
            else "data/ (the real data)")
    print()
    print(f"Reproduce: {command_line(args)}")
    print(f"Server throughput; {header}")
    label = server_label(args.server, sys.executable, args.workers, args.threads)
    print(f"Servers: the app under {label}; nginx {tool_version([nginx_bin, '-v'])}, "
          f"{args.workers} workers, the app's bytes and headers as static files; pygeoapi "
          f"{package_version(pyg_python, 'pygeoapi')} under the same server settings, from "
          f"files written from the app's downloads (GeoJSON provider) and, for the filtered rows, "
          f"from the app's GeoPackage in PostGIS (PostgreSQL provider; {db_label})")
    print(f"Data: {data}: {counts['products']:,} products, {counts['districts']} districts")
    print(f"Load: wrk, {args.connections} connections, keep-alive; figures are medians over the "
          f"rounds; the servers and wrk share the {os.cpu_count()} CPUs, and so does anything "
          f"else running")
    print()
    print(f"The app beside nginx serving the same bytes (target: nginx/app <= {NGINX_TARGET:g}x "
          f"for the pages and the products download)")
    print("\n".join(nginx_table(results)))
    print()
    print(f"The app beside pygeoapi serving the same features (target: app/pygeoapi >= "
          f"{PYG_TARGET:g}x on products items, the full districts collection and the filtered "
          f"queries)")
    print("\n".join(pygeoapi_table(results)))
    print()
    print("Paths (the app | pygeoapi):")
    for row in rows:
        print(f"  {row.label:31} {row.app_path}" + (f" | {row.pyg_path}" if row.pyg_path else ""))
    print("variant: Accept-Encoding sent (the geospatial rows also send Accept: "
          "application/geo+json); bytes: one response body as sent; feat: features in it;")
    print("err: socket errors, time-outs and HTTP statuses >= 400 during the load; latencies "
          "per request.")
    for note in notes:
        print(f"Note: {note}")
    print()
    text, met = verdict(results)
    print(text)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted; servers stopped.", file=sys.stderr)
        sys.exit(130)

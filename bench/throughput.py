"""Items and download throughput of the app beside pygeoapi serving the same features.

    python -m bench.throughput [--seconds 10] [--connections 16] [--workers 2] [--scale N]

Both servers run in the same run on 127.0.0.1 under gunicorn with the same number of (sync)
workers: the app as `gunicorn -w W 'app:create_app()'`, pygeoapi (from PyPI) as
`gunicorn -w W pygeoapi.flask_app:APP`.  pygeoapi lives in its own venv, bench/.venv-pygeoapi,
created from bench/requirements-pygeoapi.txt on first use, so its dependencies never touch the
app's.  It serves two collections, `products` and `districts`, through its GeoJSON provider from
files written from the app's own /export/products.geojson and /export/districts.geojson: both
servers answer with the very same features.

The load comes from wrk when it is installed (Debian: `apt-get install wrk`), else from a
built-in Python generator (threads, one keep-alive http.client connection each; it is slower
than wrk, so it understates both servers).  Every load run is bounded by --seconds (the Python
generator also by a request count) and stops by itself; all traffic goes to 127.0.0.1.

For each endpoint: requests per second, median and p99 latency, errors (socket errors and
HTTP errors; every endpoint is first checked to answer 200), and the size of one response as
sent.  A one-second warm-up comes first, so the first request of each worker (which computes
the app's cached response) is not counted.  Then the app's endpoint and pygeoapi's are loaded
in alternating rounds (--rounds, 5 by default, splitting --seconds), and each figure is the
median over the rounds: a burst of other work on the machine then falls on both servers and
moves a median little.  After each load run it waits for the server to work off the requests
still queued, and a slow endpoint (pygeoapi with thousands of products) gets fewer, longer
rounds and a longer time-out, never more than --seconds in all.  Requests carry `Accept: application/geo+json`; a second pass adds
`Accept-Encoding: gzip` (pygeoapi's `gzip` setting is on, so both servers compress when asked).

Target from the project's issue: at least 5 times pygeoapi's requests per second on
`/collections/products/items?limit=100` and on the full districts collection.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYG_VENV = ROOT / "bench" / ".venv-pygeoapi"
PYG_REQUIREMENTS = ROOT / "bench" / "requirements-pygeoapi.txt"
HOST = "127.0.0.1"           # the only address this benchmark talks to
TARGET = 5.0                 # app / pygeoapi requests per second
START_TIMEOUT = 180          # seconds for a server to answer after it is started
WARMUP_SECONDS = 1
REQUEST_TIMEOUT = 10         # seconds, per request under load (raised for slow endpoints)
PROBE_TIMEOUT = 300          # seconds for one request to an otherwise idle server
PY_MAX_REQUESTS = 2_000_000  # the Python generator's cap per run, besides --seconds
ACCEPT = {"Accept": "application/geo+json"}
VARIANTS = {"identity": {**ACCEPT, "Accept-Encoding": "identity"},
            "gzip": {**ACCEPT, "Accept-Encoding": "gzip"}}

# wrk prints its own report; this adds one line of JSON that we parse (latencies in µs).
WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p99_us":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# -- HTTP ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def fetch(port: int, path: str, headers: dict | None = None, timeout: float = REQUEST_TIMEOUT):
    """(status, headers, body as sent) of one GET to 127.0.0.1."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def decoded(headers: dict, body: bytes) -> bytes:
    return gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body


# -- servers ------------------------------------------------------------------------------------

class Server:
    """A gunicorn in its own process group, so that stopping it stops its workers too."""

    def __init__(self, name: str, cmd: list[str], env: dict, log: Path, port: int,
                 idle_path: str):
        self.name, self.cmd, self.env, self.log, self.port = name, cmd, env, log, port
        self.idle_path = idle_path   # a cheap URL, to wait until the server has caught up
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def start(self) -> None:
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, path: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                status, _, _ = fetch(self.port, path, timeout=30)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as e:
                last = e.__class__.__name__
            time.sleep(0.25)
        raise RuntimeError(f"{self.name} did not answer {path} within {timeout:.0f} s "
                           f"({last}):\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            # A worker left behind by a dead master is still in the group.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def gunicorn_cmd(python: Path | str, workers: int, port: int, target: str,
                 threads: int = 1) -> list[str]:
    # --timeout: a worker that loads a large (--scale) data set is not killed while it starts.
    # --threads > 1: gunicorn's gthread workers, which keep connections alive between requests.
    extra = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else []
    return [str(python), "-m", "gunicorn", "-w", str(workers), *extra, "-b", f"{HOST}:{port}",
            "--timeout", "300", target]


SERVERS = ("granian", "gunicorn")   # the first is the README's recommendation


def server_cmd(kind: str, python: Path | str, workers: int, port: int, target: str,
               factory: bool = False, threads: int = 4) -> list[str]:
    """The command of a production server for the WSGI app `module:name` (a factory when
    `factory`): granian (Rust, as the README recommends) or gunicorn with gthread workers."""
    if kind == "granian":
        return [str(python), "-m", "granian", "--interface", "wsgi", "--workers", str(workers),
                "--host", HOST, "--port", str(port), "--log-level", "warning",
                *(["--factory"] if factory else []), target]
    return gunicorn_cmd(python, workers, port, f"{target}()" if factory else target, threads)


def server_label(kind: str, python: Path | str, workers: int, threads: int) -> str:
    version = package_version(python, kind)
    if kind == "granian":
        return f"granian {version} --interface wsgi --workers {workers}"
    mode = "sync" if threads <= 1 else f"gthread --threads {threads}"
    return f"gunicorn {version} -w {workers} ({mode})"


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OCOP_", "PYGEOAPI_", "VIRTUAL_ENV", "PYTHONHOME"))}
    env.update(extra)
    return env


# -- pygeoapi -----------------------------------------------------------------------------------

def pygeoapi_python(install: bool) -> Path:
    """The Python of bench/.venv-pygeoapi, created (pygeoapi + gunicorn from PyPI) if missing."""
    py = PYG_VENV / "bin" / "python"
    probe = [str(py), "-c", "import pygeoapi, gunicorn, granian"]
    if py.exists() and subprocess.run(probe, capture_output=True, timeout=120).returncode == 0:
        return py
    if not install:
        raise SystemExit(f"pygeoapi is not installed in {PYG_VENV.relative_to(ROOT)}; run "
                         f"without --no-install, or: python3 -m venv {PYG_VENV.relative_to(ROOT)}"
                         f" && {PYG_VENV.relative_to(ROOT)}/bin/pip install -r "
                         f"{PYG_REQUIREMENTS.relative_to(ROOT)}")
    print(f"Installing pygeoapi into {PYG_VENV.relative_to(ROOT)}/ "
          f"(from {PYG_REQUIREMENTS.relative_to(ROOT)}) ...", flush=True)
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PYG_VENV)], check=True, timeout=300)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(PYG_REQUIREMENTS)],
                   check=True, timeout=1200)
    return py


def package_version(python: Path | str, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    return out.stdout.strip() or "?"


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
    resources = {}
    for name, c in collections.items():
        resources[name] = {
            "type": "collection", "title": c["title"], "description": c["title"],
            "keywords": ["ocop", "hai phong"],
            "extents": {"spatial": {"bbox": c["bbox"],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "GeoJSON", "data": str(c["path"]),
                           "id_field": c["id_field"]}],
        }
    return {
        "server": {
            "bind": {"host": HOST, "port": port}, "url": f"http://{HOST}:{port}",
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
                               "keywords": ["ocop"], "url": f"http://{HOST}:{port}",
                               "terms_of_service": f"http://{HOST}:{port}"},
            "license": {"name": "CC-BY 4.0", "url": f"http://{HOST}:{port}"},
            "provider": {"name": "benchmark", "url": f"http://{HOST}:{port}"},
            # pygeoapi's landing page and OpenAPI document read every one of these.
            "contact": {"name": "benchmark", "position": "", "address": "", "city": "",
                        "stateorprovince": "", "postalCode": "", "country": "", "phone": "",
                        "fax": "", "email": "", "url": f"http://{HOST}:{port}", "hours": "",
                        "instructions": "", "role": "pointOfContact"},
        },
        "resources": resources,
    }


# -- load generators ----------------------------------------------------------------------------

@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(port: int, path: str, headers: dict, seconds: int, connections: int,
            script: Path, timeout: int = REQUEST_TIMEOUT) -> Load:
    cmd = ["wrk", f"-t{max(1, min(2, connections))}", f"-c{connections}", f"-d{seconds}s",
           "--timeout", f"{timeout}s", "-s", str(script)]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://{HOST}:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    d = json.loads(line[len("WRKJSON "):])
    errors = sum(d[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Load(int(d["requests"]), d["duration_us"] / 1e6, d["p50_us"] / 1000,
                d["p99_us"] / 1000, int(errors))


def run_python(port: int, path: str, headers: dict, seconds: float, connections: int,
               timeout: int = REQUEST_TIMEOUT) -> Load:
    """Threads, each with one keep-alive connection (reopened when the server closes it)."""
    start = time.perf_counter()
    deadline = start + seconds
    budget = max(1, PY_MAX_REQUESTS // connections)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections

    def worker(i: int) -> None:
        conn = None
        for _ in range(budget):
            if time.perf_counter() >= deadline:
                break
            if conn is None:
                conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = None
                continue
            latencies[i].append(time.perf_counter() - t0)
            if not 200 <= r.status < 300:
                errors[i] += 1
            if r.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.perf_counter()) + timeout + 5)
    elapsed = time.perf_counter() - start
    lat = sorted(x for per in latencies for x in per)
    if not lat:
        return Load(0, elapsed, math.nan, math.nan, sum(errors))
    p99 = lat[min(len(lat) - 1, math.ceil(0.99 * len(lat)) - 1)]
    return Load(len(lat), elapsed, statistics.median(lat) * 1000, p99 * 1000, sum(errors))


# -- measuring ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    label: str
    app_path: str
    pyg_path: str
    target: bool   # part of the >=5x target


@dataclass
class Result:
    available: bool
    note: str = ""
    load: "Combined | None" = None
    size: int | None = None       # bytes of one response body as sent
    features: int | None = None
    alone_s: float = 0.0          # seconds for that one response, the server otherwise idle


@dataclass
class Combined:
    """An endpoint's rounds put together: the median of each figure over the rounds."""
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int                # summed over the rounds
    round_rps: list[float]

    @classmethod
    def of(cls, loads: list[Load]) -> "Combined":
        def med(xs):
            xs = [x for x in xs if not math.isnan(x)]
            return statistics.median(xs) if xs else math.nan

        return cls(med([ld.rps for ld in loads]), med([ld.p50_ms for ld in loads]),
                   med([ld.p99_ms for ld in loads]), sum(ld.errors for ld in loads),
                   [ld.rps for ld in loads])


class Bench:
    def __init__(self, args, tmp: Path):
        self.args = args
        self.tmp = tmp
        self.loader = "wrk" if args.load == "wrk" or (
            args.load == "auto" and shutil.which("wrk")) else "python"
        if self.loader == "wrk" and not shutil.which("wrk"):
            raise SystemExit("--load wrk: wrk is not installed (Debian: apt-get install wrk)")
        self.wrk_script = tmp / "report.lua"
        self.wrk_script.write_text(WRK_SCRIPT)
        self.rounds = min(args.rounds, args.seconds)
        self.slice = args.seconds // self.rounds   # whole seconds: wrk takes no fractions
        self.notes: list[str] = []

    def load(self, server: Server, path: str, headers: dict, seconds: int,
             timeout: int) -> Load:
        if self.loader == "wrk":
            ld = run_wrk(server.port, path, headers, seconds, self.args.connections,
                         self.wrk_script, timeout)
        else:
            ld = run_python(server.port, path, headers, seconds, self.args.connections, timeout)
        self.drain(server)
        return ld

    @staticmethod
    def drain(server: Server) -> None:
        """Wait until the server has worked off the requests still queued when the load
        stopped (a sync worker answers them even though nobody reads the answers), so that
        they do not run into the next measurement."""
        try:
            fetch(server.port, server.idle_path, timeout=PROBE_TIMEOUT)
        except OSError:
            pass

    @staticmethod
    def probe(server: Server, path: str, variant: str) -> Result:
        """One request: is it there (200), how big, how many features, how long alone."""
        t0 = time.perf_counter()
        try:
            status, h, body = fetch(server.port, path, VARIANTS[variant], timeout=PROBE_TIMEOUT)
        except OSError as e:
            return Result(False, note=f"no answer ({e.__class__.__name__})")
        alone = time.perf_counter() - t0
        if status != 200:
            return Result(False, note=f"not available (HTTP {status})")
        try:
            features = len(json.loads(decoded(h, body))["features"])
        except (ValueError, KeyError, TypeError, OSError):
            features = None
        return Result(True, size=len(body), features=features, alone_s=alone)

    def plan(self, sides: list) -> tuple[int, int, int, str]:
        """Rounds, seconds per round and request time-out for one row.

        Under load a request waits for the ones ahead of it: about connections / workers
        times its time alone.  A round shorter than two such waits would count almost
        nothing, so a slow endpoint gets fewer, longer rounds (never more than --seconds in
        all), and a time-out well above that wait."""
        alone = max((res.alone_s for _, _, res in sides), default=0.0)
        wait = math.ceil(self.args.connections / self.args.workers) * alone
        rounds = self.rounds
        while rounds > 1 and self.args.seconds // rounds < 2 * wait:
            rounds -= 1
        timeout = max(REQUEST_TIMEOUT, math.ceil(3 * wait))
        note = ""
        if self.args.seconds < 2 * wait:
            note = (f"a request waits about {wait:.1f} s under this load; --seconds "
                    f"{self.args.seconds} is too short for a steady figure (try "
                    f"--seconds {math.ceil(4 * wait)})")
        return rounds, self.args.seconds // rounds, timeout, note

    def measure(self, app: Server, pyg: Server, row: Row, variant: str):
        """Both sides of a row, in alternating rounds (app, pygeoapi, app, ...), so that
        anything else the machine does meanwhile falls on both.  Each row is measured on its
        own, even when its pygeoapi URL is another row's (the full collection when it fits in
        limit=100): a ratio always comes from one paired measurement."""
        headers = VARIANTS[variant]
        results = [self.probe(app, row.app_path, variant), self.probe(pyg, row.pyg_path, variant)]
        sides = [(server, path, res) for server, path, res in
                 zip((app, pyg), (row.app_path, row.pyg_path), results) if res.available]
        rounds, seconds, timeout, note = self.plan(sides)
        if rounds != self.rounds:
            note = (f"slow endpoint: {rounds} round(s) of {self.args.seconds // rounds} s"
                    + (f"; {note}" if note else ""))
        if note:
            self.notes.append(f"{variant} {row.label}: {note}")
        print(f"  {variant:8} {row.label:27}", end="", flush=True)
        for server, path, _ in sides:   # the first request of each worker is not counted
            self.load(server, path, headers, WARMUP_SECONDS, timeout)
        loads: list[list[Load]] = [[] for _ in sides]
        for _ in range(rounds):
            for i, (server, path, _) in enumerate(sides):
                loads[i].append(self.load(server, path, headers, seconds, timeout))
        for (_, _, res), per in zip(sides, loads):
            res.load = Combined.of(per)
        print("  ".join(f"{n} {r.load.rps:,.0f} req/s" if r.available else f"{n} {r.note}"
                        for n, r in zip(("app", "pygeoapi"), results))
              + (f"  ({rounds} x {seconds} s)" if rounds != self.rounds else ""), flush=True)
        return results[0], results[1]


def start_servers(args, tmp: Path, data_dir: Path, pyg_python: Path, servers: list[Server]):
    """Start the app, write pygeoapi's data and configuration from it, start pygeoapi.

    Each server is added to `servers` before it starts, so the caller stops it even when a
    later step fails."""
    app_port, pyg_port = free_port(), free_port()
    while pyg_port == app_port:
        pyg_port = free_port()
    app = Server("app", server_cmd(args.server, sys.executable, args.workers, app_port,
                                    "app:create_app", True, args.threads),
                 clean_env(OCOP_DATA_DIR=str(data_dir)), tmp / "app.log", app_port,
                 "/export/districts.geojson")
    servers.append(app)
    app.start()
    app.wait_ready("/export/districts.geojson")

    pdir = tmp / "pygeoapi"
    pdir.mkdir()
    collections, counts = {}, {}
    for name, id_field, title in (("products", "id", "OCOP products"),
                                  ("districts", "code", "Districts")):
        status, _, body = fetch(app.port, f"/export/{name}.geojson", VARIANTS["identity"],
                                timeout=PROBE_TIMEOUT)
        if status != 200:
            raise RuntimeError(f"the app answered HTTP {status} for /export/{name}.geojson")
        fc = json.loads(body)
        path = pdir / f"{name}.geojson"
        path.write_bytes(body)
        counts[name] = len(fc["features"])
        collections[name] = {"path": path, "id_field": id_field, "title": title,
                             "bbox": bbox_of(fc)}
    config, openapi = pdir / "pygeoapi-config.yml", pdir / "pygeoapi-openapi.yml"
    config.write_text(json.dumps(pygeoapi_config(pyg_port, collections,
                                                 max(100, *counts.values())), indent=2))
    env = clean_env(PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
    gen = subprocess.run([str(pyg_python.parent / "pygeoapi"), "openapi", "generate", str(config),
                          "--output-file", str(openapi)],
                         env=env, cwd=pdir, capture_output=True, text=True, timeout=300)
    if gen.returncode != 0 or not openapi.exists():
        raise RuntimeError(f"pygeoapi openapi generate failed:\n{gen.stderr[-3000:]}")
    pyg = Server("pygeoapi", server_cmd(args.server, pyg_python, args.workers, pyg_port,
                                        "pygeoapi.flask_app:APP", False, args.threads),
                 env, tmp / "pygeoapi.log", pyg_port, "/conformance?f=json")
    servers.append(pyg)
    pyg.start()
    pyg.wait_ready("/collections/districts/items?limit=1&f=json")
    return app, pyg, counts


def rows_for(counts: dict[str, int]) -> list[Row]:
    def full(name):  # one page holding the whole collection, as the app's download does
        return f"/collections/{name}/items?limit={max(100, counts[name])}&f=json"

    return [
        Row("products items limit=100", "/ogc/collections/products/items?limit=100",
            "/collections/products/items?limit=100&f=json", True),
        Row("districts items limit=100", "/ogc/collections/districts/items?limit=100",
            "/collections/districts/items?limit=100&f=json", counts["districts"] <= 100),
        Row("products full collection", "/export/products.geojson", full("products"), False),
        Row("districts full collection", "/export/districts.geojson", full("districts"), True),
    ]


# -- report -------------------------------------------------------------------------------------

def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def side(res: Result) -> list[str]:
    if not res.available:
        return [res.note, "", "", "", "", ""]
    ld = res.load
    return [_num(ld.rps, ",.0f"), _num(ld.p50_ms, ".2f"), _num(ld.p99_ms, ".2f"),
            str(ld.errors), _num(res.size, ","), _num(res.features, "d")]


def ratio(app: Result, pyg: Result) -> float | None:
    if not (app.available and pyg.available) or not pyg.load.rps:
        return None
    return app.load.rps / pyg.load.rps


def table(results: list[tuple[str, Row, Result, Result]]) -> list[str]:
    head = ["variant", "endpoint",
            "app req/s", "p50 ms", "p99 ms", "err", "bytes", "feat",
            "pygeoapi req/s", "p50 ms", "p99 ms", "err", "bytes", "feat",
            "app/pygeoapi", f">={TARGET:g}x"]
    body = []
    for variant, row, app, pyg in results:
        r = ratio(app, pyg)
        verdict = "-" if r is None else ("yes" if r >= TARGET else "NO")
        if row.target:
            verdict += " (target)"
        body.append([variant, row.label, *side(app), *side(pyg),
                     "-" if r is None else f"{r:.1f}x", verdict])
    # A "not available" note spans its side's columns.
    widths = [len(h) for h in head]
    for line in body:
        for i, cell in enumerate(line):
            if not (cell.startswith("not available") or cell.startswith("no answer")):
                widths[i] = max(widths[i], len(cell))
    right = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}

    def fmt(cells):
        out, skip = [], 0
        for i, cell in enumerate(cells):
            if skip:
                skip -= 1
                continue
            if cell.startswith(("not available", "no answer")):
                span = sum(widths[i:i + 6]) + 2 * 5
                out.append(cell.ljust(span))
                skip = 5
            else:
                out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    lines = [fmt(head), fmt(["-" * w for w in widths])]
    lines += [fmt(b) for b in body]
    return lines


def verdict(results) -> tuple[str, bool | None]:
    """Met when every target row, in every variant measured, has app >= 5x pygeoapi."""
    missing, failed = [], []
    for variant, row, app, pyg in results:
        if not row.target:
            continue
        r = ratio(app, pyg)
        if r is None:
            missing.append(f"{row.label} ({variant})")
        elif r < TARGET:
            failed.append(f"{row.label} ({variant}): {r:.1f}x")
    if failed:
        return "Target NOT MET: " + "; ".join(failed), False
    if missing:
        return ("Target not fully measured (not available: " + "; ".join(missing) +
                "); every measured target row is at least 5x."), None
    return (f"Target MET: the app is at least {TARGET:g}x pygeoapi's requests per second on "
            f"products items (limit=100) and on the full districts collection."), True


def command_line(args) -> str:
    parts = ["python", "-m", "bench.throughput", "--seconds", str(args.seconds),
             "--connections", str(args.connections), "--workers", str(args.workers)]
    if args.server != SERVERS[0]:
        parts += ["--server", args.server]
    if args.threads != 4:
        parts += ["--threads", str(args.threads)]
    if args.scale:
        parts += ["--scale", str(args.scale)]
    if args.rounds != 5:
        parts += ["--rounds", str(args.rounds)]
    if args.load != "auto":
        parts += ["--load", args.load]
    if args.no_gzip:
        parts.append("--no-gzip")
    return shlex.join(parts)


# -- main ---------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.throughput",
                                description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=10, help="load per endpoint (default 10)")
    p.add_argument("--connections", type=int, default=16,
                   help="concurrent connections (default 16)")
    p.add_argument("--workers", type=int, default=2,
                   help="gunicorn workers, the same for both servers (default 2)")
    p.add_argument("--server", choices=SERVERS, default=SERVERS[0],
                   help="the production server for both apps (default granian, as the README "
                        "recommends; gunicorn: gthread workers)")
    p.add_argument("--threads", type=int, default=4,
                   help="with --server gunicorn: threads per worker; above 1, gunicorn's "
                        "gthread workers with keep-alive, as the README recommends (default 4; 1: sync workers)")
    p.add_argument("--scale", type=int, metavar="N",
                   help="use N synthetic products (generated in a temporary directory)")
    p.add_argument("--rounds", type=int, default=5,
                   help="split each endpoint's --seconds into this many slices, alternating "
                        "with the other server's; figures are medians over them (default 5)")
    p.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                   help="load generator: wrk when installed (auto), or the built-in one")
    p.add_argument("--no-gzip", action="store_true",
                   help="skip the second pass with Accept-Encoding: gzip")
    p.add_argument("--no-install", action="store_true",
                   help="never create bench/.venv-pygeoapi; fail if it is missing")
    p.add_argument("--check", action="store_true", help="exit 1 unless the target is met")
    args = p.parse_args(argv)
    for name in ("seconds", "connections", "workers", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.seconds > 600:
        p.error("--seconds must be at most 600")
    if args.scale is not None and args.scale < 1:
        p.error("--scale must be at least 1")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        __import__(args.server)    # the app's own environment runs it
    except ImportError:
        raise SystemExit(f"{args.server} is not installed for this Python: "
                         f"pip install {args.server}")
    pyg_python = pygeoapi_python(install=not args.no_install)
    signal.signal(signal.SIGTERM, _interrupt)

    print(f"Reproduce: {command_line(args)}")
    load_before = os.getloadavg()[0]
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="throughput-") as tmp:
        tmp = Path(tmp)
        bench = Bench(args, tmp)
        data_dir = ROOT / "data"
        if args.scale:
            from tests.synthetic import write_dataset

            data_dir = write_dataset(tmp / "data", n_products=args.scale)
        try:
            app, pyg, counts = start_servers(args, tmp, data_dir, pyg_python, servers)
            variants = ["identity"] if args.no_gzip else ["identity", "gzip"]
            loader = ("wrk " + _wrk_version()) if bench.loader == "wrk" else \
                "built-in Python generator"
            print(f"Measuring: {len(variants)} pass(es); per endpoint {bench.rounds} rounds of "
                  f"{bench.slice} s alternating with the other server; {args.connections} "
                  f"connections; load from {loader}", flush=True)
            results = []
            for variant in variants:
                for row in rows_for(counts):
                    results.append((variant, row, *bench.measure(app, pyg, row, variant)))
        finally:
            # A second Ctrl-C must not leave a server behind: stopping ignores it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for s in reversed(servers):
                s.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, _interrupt)

    data = (f"{args.scale} synthetic products (tests.synthetic)" if args.scale
            else "data/ (the real data)")
    print()
    print(f"Reproduce: {command_line(args)}")
    print(f"Throughput, app vs pygeoapi {package_version(pyg_python, 'pygeoapi')}: both under "
          f"{server_label(args.server, sys.executable, args.workers, args.threads)}, on {HOST}, "
          f"same run; {os.cpu_count()} CPUs")
    print(f"Load: {loader}, {args.connections} connections; per endpoint a {WARMUP_SECONDS} s "
          f"warm-up, then {bench.rounds} rounds of {bench.slice} s alternating app and pygeoapi "
          f"(figures: medians over the rounds); Accept: application/geo+json")
    print(f"Data: {data}: {counts['products']} products, {counts['districts']} districts "
          f"(pygeoapi serves files written from the app's own exports)")
    print(f"Machine load (1-minute average) before the run: {load_before:.2f}; anything else "
          f"running competes with the servers and the load generator for the same cores")
    print()
    print("\n".join(table(results)))
    print()
    print("Paths (the app | pygeoapi):")
    for row in rows_for(counts):
        print(f"  {row.label:27} {row.app_path} | {row.pyg_path}")
    print("bytes: one response body as sent (gzip variant: compressed); feat: features in it;")
    print("err: socket errors and HTTP errors during the run; latencies per request.")
    for note in bench.notes:
        print(f"Note: {note}")
    print()
    text, met = verdict(results)
    print(text)
    return 1 if args.check and met is not True else 0


def _wrk_version() -> str:
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=30)
    first = (out.stdout or out.stderr).split()
    return first[1] if len(first) > 1 else ""


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted; servers stopped.", file=sys.stderr)
        sys.exit(130)

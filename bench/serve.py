"""Server throughput of the map pages, a download and OGC items, beside nginx and pygeoapi.

    python -m bench.serve                      # data/, 64 connections, 8 s per endpoint
    python -m bench.serve --scale 10323        # the national-scale synthetic set
    python -m bench.serve --seconds 3          # a quick look

The app runs as the README recommends for production: `granian --interface wsgi --workers 2
--factory app:create_app` (or `--server gunicorn`: `gunicorn -w 2 -k gthread --threads 4`).  Each endpoint is fetched once (that first request builds the cached
response), its exact bytes and headers are written to files that nginx (Debian's package, two
worker processes, access log off) then serves from the same machine: the baseline of "the same
bytes from a static server".  pygeoapi (gunicorn, the same workers) serves the same products
for the OGC items row.  wrk loads each server in alternating rounds (figures are medians over
the rounds) with 64 connections, `Accept-Encoding: gzip` (as browsers send it) and keep-alive.

Errors are wrk's socket errors plus HTTP statuses >= 400 and must be zero.  Target from the
project's performance issue: the app within 3x of the static server (app req/s >= nginx / 3)
for cached pages and downloads (`/`, `/embed`, the products download); OGC items are measured
beside pygeoapi, their baseline, with nginx's figure for reference.  Only 127.0.0.1 is contacted; every server started here runs
in its own process group and is stopped at the end, also on an error or Ctrl-C.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.throughput import (HOST, ROOT, SERVERS, Load, Server, WRK_SCRIPT, _interrupt,
                              _wrk_version, fetch, free_port, package_version, pygeoapi_python,
                              run_wrk, server_label, start_servers)

TARGET = 3.0        # nginx req/s / app req/s at most
HEADERS = {"Accept-Encoding": "gzip"}
# What nginx must send back as the app did (the rest are per-server: Date, Server, ...).
KEEP = ("content-type", "content-encoding", "content-disposition", "cache-control", "etag",
        "vary", "content-language", "content-security-policy", "x-content-type-options",
        "referrer-policy", "x-frame-options")


@dataclass
class Endpoint:
    label: str
    app_path: str
    pyg_path: str | None = None
    cached: bool = True          # a cached page or download: part of the "within 3x" target


def endpoints() -> list[Endpoint]:
    return [
        Endpoint("map page /", "/"),
        Endpoint("embed page /embed", "/embed?lang=en"),
        Endpoint("products download (GeoJSON)", "/export/products.geojson"),
        # The OGC endpoints' baseline is pygeoapi (nginx is shown for reference).
        Endpoint("OGC items limit=100", "/ogc/collections/products/items?limit=100",
                 "/collections/products/items?limit=100&f=json", cached=False),
    ]


def nginx_conf(tmp: Path, port: int, files: dict[str, tuple[Path, dict]]) -> Path:
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
        f"{user}worker_processes 2;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log;\n"
        "events { worker_connections 1024; }\n"
        "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  etag off;\n"
        f"  client_body_temp_path {tmp}/nginx-body;\n  proxy_temp_path {tmp}/nginx-proxy;\n"
        f"  fastcgi_temp_path {tmp}/nginx-fcgi;\n  uwsgi_temp_path {tmp}/nginx-uwsgi;\n"
        f"  scgi_temp_path {tmp}/nginx-scgi;\n"
        f"  server {{\n    listen {HOST}:{port};\n{''.join(locations)}  }}\n}}\n")
    return conf


def nginx_version(nginx_bin: str) -> str:
    import subprocess

    out = subprocess.run([nginx_bin, "-v"], capture_output=True, text=True, timeout=30)
    return (out.stderr or out.stdout).strip().split("/")[-1]


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def median_load(loads: list[Load]) -> dict:
    return {"rps": statistics.median(x.rps for x in loads),
            "p50": statistics.median(x.p50_ms for x in loads),
            "p99": statistics.median(x.p99_ms for x in loads),
            "err": sum(x.errors for x in loads)}


def measure(servers: list[tuple[str, Server, str]], seconds: int, rounds: int,
            connections: int, script: Path) -> dict[str, dict]:
    """Alternating rounds over the servers (name, server, path); medians per server."""
    per = {name: [] for name, _, _ in servers}
    for name, srv, path in servers:     # warm-up: the first request of each worker
        run_wrk(srv.port, path, HEADERS, 1, connections, script)
    for _ in range(rounds):
        for name, srv, path in servers:
            per[name].append(run_wrk(srv.port, path, HEADERS, seconds, connections, script))
    return {name: median_load(loads) for name, loads in per.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=8, help="load per endpoint and server")
    p.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--server", choices=SERVERS, default=SERVERS[0],
                   help="production server for the app and pygeoapi (default granian, as the "
                        "README recommends)")
    p.add_argument("--threads", type=int, default=4, help="with --server gunicorn")
    p.add_argument("--scale", type=int, metavar="N", help="N synthetic products")
    p.add_argument("--no-install", action="store_true", help="never create the pygeoapi venv")
    args = p.parse_args(argv)
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
    tools = {tool: shutil.which(tool, path=search) for tool in ("wrk", "nginx")}
    for tool, path in tools.items():
        if path is None:
            raise SystemExit(f"{tool} is not installed: apt-get install -y {tool}")
    nginx_bin = tools["nginx"]
    pyg_python = pygeoapi_python(install=not args.no_install)
    signal.signal(signal.SIGTERM, _interrupt)
    cmd = ["python", "-m", "bench.serve", "--seconds", str(args.seconds), "--rounds",
           str(args.rounds), "--connections", str(args.connections)]
    if args.scale:
        cmd += ["--scale", str(args.scale)]
    if args.server != SERVERS[0]:
        cmd += ["--server", args.server]
    print(f"Reproduce: {shlex.join(cmd)}", flush=True)
    load_before = os.getloadavg()[0]
    servers: list[Server] = []
    rounds = max(1, min(args.rounds, args.seconds))
    seconds = max(1, args.seconds // rounds)
    with tempfile.TemporaryDirectory(prefix="serve-") as tmp:
        tmp = Path(tmp)
        data_dir = ROOT / "data"
        if args.scale:
            from tests.synthetic import write_dataset

            data_dir = write_dataset(tmp / "data", n_products=args.scale)
        try:
            app, pyg, counts = start_servers(args, tmp, data_dir, pyg_python, servers)
            www = tmp / "www"
            www.mkdir()
            files, rows = {}, []
            for i, ep in enumerate(endpoints()):
                status, headers, body = fetch(app.port, ep.app_path, HEADERS, timeout=300)
                if status != 200:
                    raise RuntimeError(f"the app answered HTTP {status} for {ep.app_path}")
                f = www / f"r{i}"
                f.write_bytes(body)
                files[f"/r{i}"] = (f, {k: v for k, v in headers.items() if k in KEEP})
                rows.append((ep, f"/r{i}", len(body)))
            nginx_port = free_port()
            conf = nginx_conf(tmp, nginx_port, files)
            ngx = Server("nginx", [nginx_bin, "-c", str(conf), "-p", str(tmp), "-g",
                                   "daemon off;"], dict(os.environ), tmp / "nginx.log",
                         nginx_port, "/r0")
            servers.append(ngx)
            ngx.start()
            ngx.wait_ready("/r0")
            script = tmp / "report.lua"
            script.write_text(WRK_SCRIPT)
            print(f"Measuring: per endpoint {rounds} rounds of {seconds} s per server, "
                  f"alternating; {args.connections} connections; wrk {_wrk_version()}",
                  flush=True)
            results = []
            for ep, static_path, size in rows:
                sides = [("app", app, ep.app_path), ("nginx", ngx, static_path)]
                if ep.pyg_path:
                    sides.append(("pygeoapi", pyg, ep.pyg_path))
                res = measure(sides, seconds, rounds, args.connections, script)
                results.append((ep, size, res))
                print(f"  {ep.label:30} " + "  ".join(f"{k} {v['rps']:,.0f} req/s"
                                                       for k, v in res.items()), flush=True)
        finally:
            for srv in reversed(servers):
                srv.stop()

    n_products = counts["products"]
    print()
    print(f"Server throughput: the app under "
          f"{server_label(args.server, sys.executable, args.workers, args.threads)}; nginx "
          f"{nginx_version(nginx_bin)}, 2 workers, the same bytes; pygeoapi "
          f"{package_version(pyg_python, 'pygeoapi')} under the same server settings")
    print(f"Data: {f'{args.scale} synthetic products' if args.scale else 'data/ (real)'} "
          f"({n_products} products); wrk, {args.connections} connections, keep-alive, "
          f"Accept-Encoding: gzip; {os.cpu_count()} CPUs shared by servers and wrk; 1-minute "
          f"load average before the run: {load_before:.2f}")
    print()
    head = ["endpoint", "bytes", "app req/s", "p50 ms", "p99 ms", "err", "nginx req/s",
            "p50 ms", "p99 ms", "err", "nginx/app", "<=3x", "pygeoapi req/s", "app/pygeoapi"]
    lines = []
    met = True
    errors = 0
    for ep, size, res in results:
        a, n = res["app"], res["nginx"]
        ratio = n["rps"] / a["rps"] if a["rps"] else float("inf")
        ok = ratio <= TARGET
        met &= ok or not ep.cached
        errors += a["err"] + n["err"] + res.get("pygeoapi", {}).get("err", 0)
        pg = res.get("pygeoapi")
        lines.append([ep.label, f"{size:,}", f"{a['rps']:,.0f}", f"{a['p50']:.2f}",
                      f"{a['p99']:.2f}", str(a["err"]), f"{n['rps']:,.0f}", f"{n['p50']:.2f}",
                      f"{n['p99']:.2f}", str(n["err"]), f"{ratio:.1f}x",
                      ("yes" if ok else "NO") if ep.cached else "-",
                      f"{pg['rps']:,.0f}" if pg else "-",
                      f"{a['rps'] / pg['rps']:.1f}x" if pg and pg["rps"] else "-"])
    widths = [max(len(h), *(len(r[i]) for r in lines)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in
                    enumerate(zip(head, widths))))
    print("  ".join("-" * w for w in widths))
    for r in lines:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(r, widths))))
    print()
    print("Paths: " + "; ".join(f"{ep.label}: {ep.app_path}" for ep in endpoints()))
    print("bytes: one response as sent (gzip); err: socket errors and HTTP statuses >= 400.")
    verdict = "MET" if met and not errors else "NOT MET"
    print(f"Target {verdict}: the app within {TARGET:g}x of nginx serving the same bytes, for "
          f"the cached pages and the download"
          f"{'' if not errors else f'; {errors} error(s)'}.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

"""Soak: the app under its production server with mixed traffic for minutes, and an import.

    python -m bench.soak                      # 10 minutes, 4 connections
    python -m bench.soak --minutes 0.5        # a quick run
    python -m bench.soak --minutes 30 --connections 8

The app runs as the README recommends, `granian --interface wsgi --workers 2 --factory
app:create_app` on 127.0.0.1 (or `--server gunicorn`: `gunicorn -w 2 -k gthread --threads 4`),
with OCOP_DATA_DIR pointing at a temporary copy of data/ (data/ itself is never written).  The
load comes from Python threads in this process, each with one keep-alive http.client connection
(reopened only when the server closes it), sending `Accept-Encoding: gzip` and rotating over the
URLs in URLS; the map's script URL is the one named by the last `/` that thread fetched, as a
browser would load it.  Each thread sends its next request as soon as the previous one is
answered (a closed loop: --connections requests in flight at most).  Every response is read in
full; any socket error, time-out or status other than 2xx/3xx counts as an error.

Half-way through, the data is updated the way officials do it:
`flask --app app ocop import tests/data/lonlat.csv` (2 products) with OCOP_DATA_DIR set to the
copy, while the traffic goes on.  The running workers notice the new files by themselves.
Proof that the new data is served: the products export's feature count and ETag before the
import, and after it until the new count is seen, then on every one of 10 fresh connections at
the end; the table also lists, per minute, the ETags the load generator saw on the products
export.

Every few seconds (--sample-seconds) the RSS of the server's child processes (the workers;
VmRSS in /proc/PID/status) is sampled.  Per minute: requests, errors, p50/p99/max latency and
the workers' RSS.  Exit status 1 when there was any error, the import failed or the new data
was not served.  Everything is bounded in time (--minutes, at most 240, plus start-up and a
drain of at most a request time-out) and talks only to 127.0.0.1; the server is stopped, with
its workers, at the end, also on an error or Ctrl-C.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.startup import machine_line, raise_on_sigterm, signals_ignored, table
from bench.throughput import (HOST, SERVERS, Server, clean_env, free_port, server_cmd,
                              server_label)

ROOT = Path(__file__).resolve().parent.parent
IMPORT_FILE = ROOT / "tests" / "data" / "lonlat.csv"
EXPORT = "/export/products.geojson"
SCRIPT = "<map script>"   # stands for the script named by the thread's last `/`
URLS = ["/", SCRIPT, "/?lang=en", "/embed", EXPORT, "/export/products.csv",
        "/ogc/collections/products/items?limit=100", "/list", "/nearby?near=106.68,20.86",
        "/export/products.geojson?category=food&stars=4"]
HEADERS = {"Accept-Encoding": "gzip"}
REQUEST_TIMEOUT = 30
SCRIPT_RE = re.compile(r'<script[^>]*\ssrc="(/map/[^"]+\.js)"')


# -- HTTP ---------------------------------------------------------------------------------------

def get(port: int, path: str, timeout: float = REQUEST_TIMEOUT):
    """(status, headers, decoded body) of one GET on a fresh connection."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=HEADERS)
        r = conn.getresponse()
        body = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return r.status, headers, body
    finally:
        conn.close()


def export_state(port: int) -> tuple[int | None, str | None]:
    """(feature count, ETag) of the products export, (None, None) if it does not answer 200."""
    try:
        status, headers, body = get(port, EXPORT)
    except (OSError, http.client.HTTPException):
        return None, None
    if status != 200:
        return None, None
    return len(json.loads(body)["features"]), headers.get("etag")


# -- load ---------------------------------------------------------------------------------------

class Recorder:
    """What the load threads saw, bucketed by minute since the start of the load."""

    def __init__(self, t0: float, seconds: float):
        self.t0 = t0
        self.last = max(0, math.ceil(seconds / 60) - 1)   # a request ending late counts here
        self.lock = threading.Lock()
        self.latency = defaultdict(list)        # minute -> [seconds]
        self.errors = Counter()                 # minute -> errors
        self.by_url = defaultdict(list)         # url label -> [seconds]
        self.url_errors = Counter()
        self.etags = defaultdict(Counter)       # minute -> {ETag of the products export: n}
        self.samples: list[str] = []            # the first few errors, described
        self.etag_seen: dict[str, list[float]] = {}   # ETag -> [first, last] seconds

    def minute(self, t: float) -> int:
        return min(max(0, int((t - self.t0) // 60)), self.last)

    def add(self, label: str, t_end: float, seconds: float, error: str | None,
            etag: str | None = None):
        m = self.minute(t_end)
        with self.lock:
            self.latency[m].append(seconds)
            self.by_url[label].append(seconds)
            if error:
                self.errors[m] += 1
                self.url_errors[label] += 1
                if len(self.samples) < 10:
                    self.samples.append(f"{t_end - self.t0:7.1f} s  {label}: {error}")
            if etag:
                self.etags[m][etag] += 1
                seen = self.etag_seen.setdefault(etag, [t_end - self.t0, t_end - self.t0])
                seen[1] = t_end - self.t0


class Latest:
    """The map script named by the most recent `/` any thread fetched."""
    url: str | None = None


def load_thread(port: int, offset: int, stop: threading.Event, deadline: float, rec: Recorder,
                latest: Latest):
    conn = None
    script = None
    i = offset
    while not stop.is_set() and time.monotonic() < deadline:
        label = URLS[i % len(URLS)]
        i += 1
        path = (latest.url or script) if label == SCRIPT else label
        if path is None:        # no `/` fetched yet on this connection
            continue
        if conn is None:
            conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        t = time.monotonic()
        error = etag = None
        try:
            conn.request("GET", path, headers=HEADERS)
            r = conn.getresponse()
            body = r.read()
            if not 200 <= r.status < 400:
                error = f"HTTP {r.status} for {path}"
            elif label == "/":
                html = gzip.decompress(body) if r.getheader("Content-Encoding") == "gzip" \
                    else body
                found = SCRIPT_RE.search(html.decode("utf-8", "replace"))
                script = found.group(1) if found else script
                latest.url = script
            elif label == EXPORT:
                etag = r.getheader("ETag")
            if r.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            error = f"{e.__class__.__name__}: {e} for {path}"
            conn.close()
            conn = None
        end = time.monotonic()
        rec.add(label, end, end - t, error, etag)
    if conn is not None:
        conn.close()


# -- memory -------------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    except OSError:
        pass
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return sorted(out)


def vm_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def sampler(master: int, every: float, stop: threading.Event, t0: float, out: list):
    """Append (seconds since t0, {worker pid: VmRSS KiB}) every `every` seconds."""
    while True:
        rss = {p: r for p in children(master) if (r := vm_rss_kib(p)) is not None}
        out.append((time.monotonic() - t0, rss))
        if stop.wait(every):
            return


# -- the import ---------------------------------------------------------------------------------

def run_import(data_dir: Path, path: Path) -> dict:
    cmd = [sys.executable, "-m", "flask", "--app", "app", "ocop", "import", str(path)]
    t = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=clean_env(OCOP_DATA_DIR=str(data_dir)),
                          capture_output=True, text=True, timeout=300)
    out = (proc.stdout + proc.stderr).strip().splitlines()
    summary = next((ln.strip() for ln in out if "added" in ln), out[-1] if out else "")
    return {"start": t, "end": time.monotonic(), "rc": proc.returncode, "summary": summary}


def wait_for_new(port: int, old_count: int, old_etag: str, limit: float) -> tuple:
    """Poll the products export on fresh connections until it shows other data."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        count, etag = export_state(port)
        if count is not None and (count != old_count or etag != old_etag):
            return time.monotonic(), count, etag
        time.sleep(0.2)
    return None, None, None


# -- report -------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def ms(v: float) -> str:
    return f"{v * 1000:,.1f}" if v < 0.1 else f"{v * 1000:,.0f}"


def mib(kib: int | float) -> str:
    return f"{kib / 1024:,.0f}"


def command_line(args) -> str:
    parts = ["python", "-m", "bench.soak", "--minutes", f"{args.minutes:g}"]
    if args.connections != 4:
        parts += ["--connections", str(args.connections)]
    if args.server != SERVERS[0]:
        parts += ["--server", args.server]
    if args.workers != 2:
        parts += ["--workers", str(args.workers)]
    if args.threads != 4:
        parts += ["--threads", str(args.threads)]
    if args.sample_seconds != 5:
        parts += ["--sample-seconds", f"{args.sample_seconds:g}"]
    return shlex.join(parts)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10,
                   help="length of the traffic, fractions allowed (default 10)")
    p.add_argument("--connections", type=int, default=4,
                   help="load threads, one keep-alive connection each (default 4)")
    p.add_argument("--server", choices=SERVERS, default=SERVERS[0],
                   help="production server (default granian, as the README recommends)")
    p.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    p.add_argument("--threads", type=int, default=4,
                   help="with --server gunicorn: threads per gthread worker (default 4)")
    p.add_argument("--sample-seconds", type=float, default=5,
                   help="how often the workers' RSS is sampled (default 5)")
    args = p.parse_args(argv)
    if not 0.1 <= args.minutes <= 240:
        p.error("--minutes must be 0.1 to 240")
    if not 1 <= args.connections <= 64:
        p.error("--connections must be 1 to 64")
    if not 1 <= args.workers <= 16 or not 1 <= args.threads <= 64:
        p.error("--workers must be 1 to 16 and --threads 1 to 64")
    if not 0.5 <= args.sample_seconds <= 60:
        p.error("--sample-seconds must be 0.5 to 60")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    raise_on_sigterm()
    print(f"Reproduce: {command_line(args)}", flush=True)
    header = machine_line()
    seconds = args.minutes * 60
    stop = threading.Event()
    threads: list[threading.Thread] = []
    server = None
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        tmp = Path(tmp)
        data_dir = Path(shutil.copytree(ROOT / "data", tmp / "data",
                                        ignore=shutil.ignore_patterns(".history")))
        port = free_port()
        cmd = server_cmd(args.server, sys.executable, args.workers, port, "app:create_app",
                         True, args.threads)
        server = Server("app", cmd, clean_env(OCOP_DATA_DIR=str(data_dir)), tmp / "server.log",
                        port, "/")
        try:
            server.start()
            server.wait_ready("/")
            before = export_state(port)
            if before[0] is None:
                raise RuntimeError(f"{EXPORT} did not answer 200 before the load")
            t0 = time.monotonic()
            deadline = t0 + seconds
            rec = Recorder(t0, seconds)
            samples: list = []
            latest = Latest()
            threads.append(threading.Thread(target=sampler, daemon=True, args=(
                server.proc.pid, args.sample_seconds, stop, t0, samples)))
            for n in range(args.connections):
                threads.append(threading.Thread(target=load_thread, daemon=True, args=(
                    port, n * len(URLS) // args.connections, stop, deadline, rec, latest)))
            for t in threads:
                t.start()
            print(f"  load running for {args.minutes:g} min; import at "
                  f"{seconds / 2:.0f} s ...", file=sys.stderr, flush=True)
            time.sleep(max(0.0, t0 + seconds / 2 - time.monotonic()))
            imp = run_import(data_dir, IMPORT_FILE)
            seen_at, after_count, after_etag = wait_for_new(
                port, before[0], before[1], max(30.0, deadline - time.monotonic()))
            time.sleep(max(0.0, deadline - time.monotonic()))
            stop.set()
            for t in threads:
                t.join(REQUEST_TIMEOUT + 5)
            final = [export_state(port) for _ in range(10)]
            pids_end = children(server.proc.pid)
        finally:
            stop.set()
            with signals_ignored():
                server.stop()
        log_tail = server.log_tail(40)

    # -- report ---------------------------------------------------------------------------------
    minutes = sorted(set(rec.latency) | set(rec.errors))
    import_min = rec.minute(imp["start"])
    pids_seen = sorted({p for _, rss in samples for p in rss})
    rows = []
    for m in minutes:
        lat = rec.latency.get(m, [])
        span = max(1e-9, min(60.0, seconds - 60 * m))
        in_min = [rss for t, rss in samples if 60 * m <= t < 60 * (m + 1)] or \
            [rss for t, rss in samples if t < 60 * (m + 1)][-1:]
        totals = [sum(r.values()) for r in in_min]
        last = in_min[-1] if in_min else {}
        per_worker = " / ".join(mib(last[p]) for p in sorted(last)) or "-"
        tags = rec.etags.get(m, {})
        tag_text = ", ".join(f"{t.strip(chr(34))[-8:]} x{n}" for t, n in tags.items()) or "-"
        events = []
        if m == import_min:
            events.append(f"import {imp['start'] - t0:.0f}-{imp['end'] - t0:.0f} s")
        new_seen = rec.etag_seen.get(after_etag) if after_etag else None
        if new_seen and rec.minute(t0 + new_seen[0]) == m:
            events.append(f"new data from {new_seen[0]:.0f} s")
        event = "; ".join(events)
        rows.append([f"{m + 1}" + ("" if span >= 60 else f" ({span:.0f} s)"),
                     f"{len(lat):,}", f"{len(lat) / span:,.0f}", f"{rec.errors.get(m, 0):,}",
                     ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), ms(max(lat) if lat else 0),
                     per_worker, f"{mib(min(totals))}-{mib(max(totals))}" if totals else "-",
                     tag_text, event])
    head = ["minute", "requests", "req/s", "errors", "p50 ms", "p99 ms", "max ms",
            "workers RSS MiB (end)", "sum min-max", "products export ETags seen", "event"]
    url_rows = [[u, f"{len(v):,}", f"{rec.url_errors.get(u, 0):,}", ms(pct(v, 0.5)),
                 ms(pct(v, 0.99))] for u, v in ((u, rec.by_url.get(u, [])) for u in URLS)]
    total = sum(len(v) for v in rec.latency.values())
    errors = sum(rec.errors.values())
    served = (seen_at is not None and after_count == before[0] + 2 and after_etag != before[1]
              and all(c == after_count and e == after_etag for c, e in final))

    print()
    print(f"Reproduce: {command_line(args)}")
    print(f"Soak: {server_label(args.server, sys.executable, args.workers, args.threads)} "
          f"on {HOST}, "
          f"data: a temporary copy of data/; {args.minutes:g} min of load from "
          f"{args.connections} Python threads (keep-alive, closed loop); {header}")
    print()
    print("\n".join(table(head, rows, left={0, 7, 9, 10})))
    print()
    print("Per URL (whole run):")
    print("\n".join(table(["url", "requests", "errors", "p50 ms", "p99 ms"], url_rows)))
    print()
    all_lat = [x for v in rec.latency.values() for x in v]
    print(f"Total: {total:,} requests in {seconds:,.0f} s ({total / seconds:,.0f} req/s), "
          f"{errors} errors (socket errors, time-outs, HTTP >= 400), p50 {ms(pct(all_lat, .5))} "
          f"ms, p99 {ms(pct(all_lat, .99))} ms")
    print(f"Import: `flask --app app ocop import tests/data/lonlat.csv` at "
          f"{imp['start'] - t0:.1f} s, took {imp['end'] - imp['start']:.1f} s, exit "
          f"{imp['rc']}: {imp['summary']}")
    if seen_at is not None:
        print(f"New data served {seen_at - imp['end']:.1f} s after the import ended: products "
              f"export {before[0]} -> {after_count} features, ETag {before[1]} -> {after_etag}; "
              f"at the end {sum(c == after_count and e == after_etag for c, e in final)}/10 "
              f"fresh connections got {after_count} features and the new ETag")
        old, new = rec.etag_seen.get(before[1]), rec.etag_seen.get(after_etag)
        if old and new:
            print(f"In the load: the old ETag was last seen at {old[1]:.1f} s, the new one first "
                  f"at {new[0]:.1f} s (the import ran {imp['start'] - t0:.1f}-"
                  f"{imp['end'] - t0:.1f} s)")
    else:
        print(f"New data NOT served: the products export still showed {before[0]} features, "
              f"ETag {before[1]}")
    if samples:
        first = next((rss for t, rss in samples if t >= min(60, seconds / 2) - 1e-9), samples[0][1])
        post = [rss for t, rss in samples if t >= imp["end"] - t0 + min(60, seconds / 4)]
        end_rss = samples[-1][1]
        parts = [f"workers' RSS (sum) {mib(sum(samples[0][1].values()))} MiB at the start, "
                 f"{mib(sum(first.values()))} MiB after {min(60, seconds / 2):.0f} s"]
        if post:
            parts.append(f"{mib(sum(post[0].values()))} MiB once the new data was loaded")
        parts.append(f"{mib(sum(end_rss.values()))} MiB at the end ({len(samples)} samples, every "
                     f"{args.sample_seconds:g} s)")
        print("Memory: " + ", ".join(parts))
    same = sorted(pids_seen) == sorted(pids_end)
    print(f"Workers: {len(pids_seen)} PID(s) seen during the run "
          f"({'unchanged' if same else 'CHANGED: a worker was replaced'})")
    if rec.samples:
        print("First errors:")
        for s in rec.samples:
            print(f"  {s}")
    problems = []
    if errors:
        problems.append(f"{errors} errors")
    if imp["rc"] != 0:
        problems.append("the import failed")
    if not served:
        problems.append("the new data was not served everywhere")
    if problems:
        print("FAILED: " + "; ".join(problems))
        print("server log (tail):\n" + log_tail)
        return 1
    print("OK: no errors, and the imported data was served without a restart.")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted; server stopped.", file=sys.stderr)
        sys.exit(130)

"""Soak: the app under its production server with mixed traffic for minutes, and an import.

    python -m bench.soak                      # 10 minutes, 4 connections
    python -m bench.soak --minutes 0.5        # a quick run
    python -m bench.soak --minutes 30 --connections 8

The app runs as the README recommends, `granian --interface wsgi --workers 2 --factory
app:create_app` on 127.0.0.1 (or `--server gunicorn`: `gunicorn -w 2 -k gthread --threads 4`),
with OCOP_DATA_DIR pointing at a temporary copy of data/ (data/ itself is never written).  The
load comes from wrk (Debian: `apt-get install -y wrk`), one thread per connection, each with one
keep-alive connection, sending `Accept-Encoding: gzip` and rotating over the URLs in URLS; the
map's script URL is the one named by the most recent `/` any connection fetched (read from the
page, gunzipped), as a browser would load it.  Each connection sends its next request as soon
as the previous one is answered (a closed loop: --connections requests in flight at most).  A
small Lua script (LUA) notes every answer (time, latency, URL, status, the products export's
ETag) in a file per thread; this process reads them afterwards.  An error is a status other
than 2xx/3xx, a request cut off by a socket error, or one of wrk's connect errors or time-outs
(30 s).

Half-way through, the data is updated the way officials do it:
`flask --app app ocop import tests/data/lonlat.csv` (2 products) with OCOP_DATA_DIR set to the
copy, while the traffic goes on.  The running workers notice the new files by themselves.
Proof that the new data is served: the products export's feature count and ETag before the
import, and after it until the new count is seen, then on every one of 10 fresh connections at
the end; the table also lists, per minute, the ETags the load saw on the products export.

Every few seconds (--sample-seconds) the RSS of the server's child processes (the workers;
VmRSS in /proc/PID/status) is sampled.  Per minute: requests, errors, p50/p99/max latency and
the workers' RSS.  Exit status 1 when there was any error, the import failed or the new data
was not served.  Everything is bounded in time (--minutes, at most 240; wrk stops by itself)
and talks only to 127.0.0.1; the server and wrk are stopped at the end, also on an error or
Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import (HOST, ROOT, SERVERS, WRK_DONE, Server, clean_env, decoded,
                          descendants, fetch, find_tool, free_port, machine_line, parse_wrk, pct,
                          raise_on_sigterm, require_server, rss_kib, server_cmd, server_label,
                          signals_ignored, stop_group, table, tool_version, wrk_cmd)

IMPORT_FILE = ROOT / "tests" / "data" / "lonlat.csv"
EXPORT = "/export/products.geojson"
SCRIPT = "<map script>"   # stands for the script named by the most recent `/`
URLS = ["/", SCRIPT, "/?lang=en", "/embed", EXPORT, "/export/products.csv",
        "/ogc/collections/products/items?limit=100", "/list", "/nearby?near=106.68,20.86",
        "/export/products.geojson?category=food&stars=4"]
HEADERS = {"Accept-Encoding": "gzip"}
REQUEST_TIMEOUT = 30

# wrk's script: rotate over the URLs, time each answer on the monotonic clock (the same clock
# as time.monotonic() here), note it in a file per thread.  wrk's Lua is LuaJIT: its FFI gives
# the clock and zlib (to read the gzipped page).  args: directory, start time, connections.
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk, soak_timespec *tp);
typedef struct {
  const char *next_in; unsigned int avail_in; unsigned long total_in;
  unsigned char *next_out; unsigned int avail_out; unsigned long total_out;
  const char *msg; void *state; void *zalloc; void *zfree; void *opaque;
  int data_type; unsigned long adler; unsigned long reserved;
} soak_zstream;
const char *zlibVersion(void);
int inflateInit2_(soak_zstream *strm, int windowBits, const char *version, int size);
int inflate(soak_zstream *strm, int flush);
int inflateEnd(soak_zstream *strm);
]]
local zlib = ffi.load("libz.so.1")
local ts = ffi.new("soak_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)   -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local function gunzip(s)
  local strm = ffi.new("soak_zstream")
  if zlib.inflateInit2_(strm, 31, zlib.zlibVersion(), ffi.sizeof(strm)) ~= 0 then return nil end
  local cap = 64 * 1024 + #s * 32
  local out = ffi.new("unsigned char[?]", cap)
  strm.next_in, strm.avail_in = s, #s
  strm.next_out, strm.avail_out = out, cap
  local rc = zlib.inflate(strm, 4)   -- Z_FINISH
  local n = cap - strm.avail_out
  zlib.inflateEnd(strm)
  if rc ~= 1 then return nil end     -- Z_STREAM_END
  return ffi.string(out, n)
end

local urls = URLS_HERE
local SCRIPT, EXPORT = "SCRIPT_HERE", "EXPORT_HERE"
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local dir, t0, log, i, own_script, pending, path, start
function init(args)
  dir, t0 = args[1], tonumber(args[2])
  i = math.floor(id * #urls / tonumber(args[3]))
  log = io.open(dir .. "/t" .. id .. ".log", "w")
  log:setvbuf("full", 65536)
end

local function header(headers, name)
  for k, v in pairs(headers) do
    if string.lower(k) == name then return v end
  end
end

local function note(t, k, status, etag, p)
  log:write(string.format("%.6f %.6f %d %d %s %s\n", t - t0, t - start, k, status,
                          etag or "-", p or "-"))
end

local function latest()
  local f = io.open(dir .. "/latest", "r")
  if f then
    local u = f:read("*a")
    f:close()
    if u and #u > 0 then return u end
  end
  return own_script
end

local verified = false
function request()
  -- wrk calls thread 0's request() once before the load, to check it: not a request sent.
  if id == 0 and not verified then
    verified = true
    return wrk.format("GET", "/")
  end
  if pending then note(now(), pending, 0, nil, path) end   -- cut off by a socket error
  local k, p
  repeat
    k = i % #urls + 1
    i = i + 1
    p = urls[k]
    if p == SCRIPT then p = latest() end           -- nil until a `/` was read
  until p
  pending, path, start = k, p, now()
  return wrk.format("GET", p)
end

function response(status, headers, body)
  local t = now()
  local k = pending
  pending = nil
  if not k then return end
  local etag, p = nil, nil
  if status >= 200 and status < 400 then
    if urls[k] == "/" then
      local html = body
      if header(headers, "content-encoding") == "gzip" then html = gunzip(body) or "" end
      local found = string.match(html, '<script[^>]-%ssrc="(/map/[^"]+%.js)"')
      if found then
        own_script = found
        local tmp = dir .. "/latest." .. id
        local f = io.open(tmp, "w")
        f:write(found)
        f:close()
        os.rename(tmp, dir .. "/latest")
      end
    elseif urls[k] == EXPORT then
      etag = header(headers, "etag")
    end
  end
  if urls[k] == SCRIPT or status < 200 or status >= 400 then p = path end
  note(t, k, status, etag and string.gsub(etag, "%s", "") or nil, p)
end
"""


def lua_script() -> str:
    return (LUA.replace("URLS_HERE", "{" + ", ".join(json.dumps(u) for u in URLS) + "}")
            .replace("SCRIPT_HERE", SCRIPT).replace("EXPORT_HERE", EXPORT) + WRK_DONE)


# -- HTTP ---------------------------------------------------------------------------------------

def export_state(port: int) -> tuple[int | None, str | None]:
    """(feature count, ETag) of the products export, (None, None) if it does not answer 200."""
    try:
        status, headers, body = fetch(port, EXPORT, HEADERS, timeout=REQUEST_TIMEOUT)
    except OSError:
        return None, None
    if status != 200:
        return None, None
    return len(json.loads(decoded(headers, body))["features"]), headers.get("etag")


# -- what the load saw --------------------------------------------------------------------------

class Recorder:
    """What the load saw, bucketed by minute since the start of the load."""

    def __init__(self, seconds: float):
        self.last = max(0, math.ceil(seconds / 60) - 1)   # a request ending late counts here
        self.latency = defaultdict(list)        # minute -> [seconds]
        self.errors = Counter()                 # minute -> errors
        self.by_url = defaultdict(list)         # url label -> [seconds]
        self.url_errors = Counter()
        self.etags = defaultdict(Counter)       # minute -> {ETag of the products export: n}
        self.samples: list[str] = []            # the first few errors, described
        self.etag_seen: dict[str, list[float]] = {}   # ETag -> [first, last] seconds

    def minute(self, t: float) -> int:
        """The minute of `t` seconds since the start of the load."""
        return min(max(0, int(t // 60)), self.last)

    def add(self, label: str, t: float, seconds: float, error: str | None,
            etag: str | None = None):
        m = self.minute(t)
        self.latency[m].append(seconds)
        self.by_url[label].append(seconds)
        if error:
            self.errors[m] += 1
            self.url_errors[label] += 1
            if len(self.samples) < 10:
                self.samples.append(f"{t:7.1f} s  {label}: {error}")
        if etag:
            self.etags[m][etag] += 1
            seen = self.etag_seen.setdefault(etag, [t, t])
            seen[1] = t

    def read(self, directory: Path) -> None:
        """The lines the Lua script wrote: time, latency, URL number, status, ETag, path."""
        lines = []
        for log in sorted(directory.glob("t*.log")):
            for line in log.read_text(errors="replace").splitlines():
                parts = line.split(" ")
                if len(parts) == 6:
                    lines.append(parts)
        for t, lat, k, status, etag, path in sorted(lines, key=lambda p: float(p[0])):
            status = int(status)
            error = None
            if status == 0:
                error = f"socket error for {path}"
            elif not 200 <= status < 400:
                error = f"HTTP {status} for {path}"
            self.add(URLS[int(k) - 1], float(t), float(lat), error,
                     None if etag == "-" else etag)


# -- memory -------------------------------------------------------------------------------------

def sampler(master: int, every: float, stop: threading.Event, t0: float, out: list):
    """Append (seconds since t0, {worker pid: VmRSS KiB}) every `every` seconds."""
    while True:
        rss = {p: r for p in descendants(master, direct=True) if (r := rss_kib(p)) is not None}
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
                   help="wrk connections, one thread and keep-alive connection each "
                        "(default 4)")
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
    find_tool("wrk")
    require_server(args.server)
    raise_on_sigterm()
    print(f"Reproduce: {command_line(args)}", flush=True)
    header = machine_line()
    seconds = max(6, round(args.minutes * 60))
    stop = threading.Event()
    sampling = None
    load = None
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        tmp = Path(tmp)
        data_dir = Path(shutil.copytree(ROOT / "data", tmp / "data",
                                        ignore=shutil.ignore_patterns(".history")))
        logs = tmp / "load"
        logs.mkdir()
        script = tmp / "soak.lua"
        script.write_text(lua_script())
        port = free_port()
        cmd = server_cmd(args.server, sys.executable, args.workers, port, "app:create_app",
                         True, args.threads)
        server = Server("app", cmd, clean_env(OCOP_DATA_DIR=str(data_dir)), tmp / "server.log",
                        port, "/")
        try:
            server.start()
            before = export_state(port)
            if before[0] is None:
                raise RuntimeError(f"{EXPORT} did not answer 200 before the load")
            samples: list = []
            t0 = time.monotonic()
            deadline = t0 + seconds
            load = subprocess.Popen(
                wrk_cmd(port, "/", HEADERS, seconds, args.connections, script,
                        REQUEST_TIMEOUT, threads=args.connections,
                        args=(logs, f"{t0:.6f}", args.connections)),
                cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True)
            sampling = threading.Thread(target=sampler, daemon=True, args=(
                server.proc.pid, args.sample_seconds, stop, t0, samples))
            sampling.start()
            print(f"  load running for {seconds} s; import at {seconds / 2:.0f} s ...",
                  file=sys.stderr, flush=True)
            time.sleep(max(0.0, t0 + seconds / 2 - time.monotonic()))
            imp = run_import(data_dir, IMPORT_FILE)
            seen_at, after_count, after_etag = wait_for_new(
                port, before[0], before[1], max(30.0, deadline - time.monotonic()))
            wrk_out, wrk_err = load.communicate(timeout=max(0.0, deadline - time.monotonic())
                                                + REQUEST_TIMEOUT + 60)
            stop.set()
            sampling.join(10)
            final = [export_state(port) for _ in range(10)]
            pids_end = descendants(server.proc.pid, direct=True)
        finally:
            stop.set()
            with signals_ignored():
                if load is not None and load.poll() is None:
                    stop_group(load)
                server.stop()
        log_tail = server.log_tail(40)
        summary = parse_wrk(wrk_out)
        if load.returncode != 0 or summary is None:
            raise SystemExit(f"wrk failed ({load.returncode}): {wrk_err.strip() or wrk_out}")
        rec = Recorder(seconds)
        rec.read(logs)

    # -- report ---------------------------------------------------------------------------------
    minutes = sorted(set(rec.latency) | set(rec.errors))
    import_min = rec.minute(imp["start"] - t0)
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
        if new_seen and rec.minute(new_seen[0]) == m:
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
    # Read and write errors cut a request off (noted by the script); these never reach it.
    unnoted = summary.kinds["connect"] + summary.kinds["timeout"]
    errors = sum(rec.errors.values()) + unnoted
    served = (seen_at is not None and after_count == before[0] + 2 and after_etag != before[1]
              and all(c == after_count and e == after_etag for c, e in final))

    print()
    print(f"Reproduce: {command_line(args)}")
    print(f"Soak: {server_label(args.server, sys.executable, args.workers, args.threads)} "
          f"on {HOST}, "
          f"data: a temporary copy of data/; {seconds / 60:g} min of load from wrk "
          f"{tool_version(['wrk', '--version'])}, {args.connections} connections (one thread "
          f"each, keep-alive, closed loop); {header}")
    print()
    print("\n".join(table(head, rows, left={0, 7, 9, 10})))
    print()
    print("Per URL (whole run):")
    print("\n".join(table(["url", "requests", "errors", "p50 ms", "p99 ms"], url_rows)))
    print()
    all_lat = [x for v in rec.latency.values() for x in v]
    print(f"Total: {total:,} requests in {seconds:,.0f} s ({total / seconds:,.0f} req/s), "
          f"{errors} errors (socket errors, time-outs, HTTP >= 400; {unnoted} of them wrk's "
          f"connect errors and time-outs, not in the tables), p50 {ms(pct(all_lat, .5))} ms, "
          f"p99 {ms(pct(all_lat, .99))} ms")
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
        first = next((rss for t, rss in samples if t >= min(60, seconds / 2) - 1e-9),
                     samples[0][1])
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

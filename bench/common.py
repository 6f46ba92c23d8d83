"""What the benchmarks share: servers on a free port of 127.0.0.1, wrk, tables, timing, tools.

Everything here talks only to 127.0.0.1.  A server is started in its own process group and
stopped with its workers (SIGTERM, then SIGKILL), also on an error or Ctrl-C.  The one load
generator is wrk, Debian's package (`apt-get install -y wrk`): `run_wrk` runs it for a bounded
number of seconds and reads its report.
"""
from __future__ import annotations

import gzip
import http.client
import json
import logging
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"            # the only address any benchmark talks to
SERVERS = ("granian", "gunicorn")   # production servers; the first is the README's choice
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]
APT = {"wrk": "wrk", "nginx": "nginx", "chromium": "chromium", "pdfinfo": "poppler-utils"}


# -- the report ---------------------------------------------------------------------------------

def machine_line() -> str:
    """Date, CPUs and the 1-minute load average, for every table header."""
    return (f"{date.today().isoformat()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; 1-minute load average before the run: "
            f"{os.getloadavg()[0]:.2f} (other jobs may share the cores)")


def table(head: list[str], rows: list[list], left=1) -> list[str]:
    """A plain-text table: the first `left` columns (or the columns in a set `left`)
    left-aligned, the others right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    left = set(range(left)) if isinstance(left, int) else set(left)

    def fmt(cells):
        return "  ".join(str(c).ljust(w) if i in left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [fmt(head), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def pct(values, q: float) -> float:
    """The q-quantile (0..1) of the values, nearest rank; NaN when there are none."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def timed(fn, repeat: int = 1):
    """(result of the last call, median seconds over `repeat` calls)."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, statistics.median(times)


def synthetic_data(target: Path, scale: int | None, **kw) -> Path:
    """data/ itself, or `scale` synthetic products (tests.synthetic) written under `target`,
    a temporary directory: never into data/."""
    if not scale:
        return ROOT / "data"
    from tests.synthetic import write_dataset

    return write_dataset(target, n_products=scale, **kw)


# -- tools --------------------------------------------------------------------------------------

def find_tool(name: str) -> str:
    """The path of a Debian tool (also in /usr/sbin), or exit with how to install it."""
    found = shutil.which(name, path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"]))
    if found is None:
        raise SystemExit(f"{name} is not installed; this benchmark needs it: "
                         f"apt-get install -y {APT.get(name, name)}")
    return found


def chromium_path() -> str:
    """Debian's chromium, as the browser tests use it (CHROMIUM=/path overrides)."""
    for path in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if path and Path(path).exists():
            return path
    raise SystemExit("Chromium not found: apt-get install -y chromium (or set CHROMIUM=/path)")


def tool_version(cmd: list[str]) -> str:
    """The version word of `wrk --version` or `nginx -v` (both print e.g. `nginx/1.22.1`)."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    first = (out.stdout or out.stderr).split()
    word = next((w for w in first if "/" in w or w[:1].isdigit()), first[1] if len(first) > 1
                else "?")
    return word.split("/", 1)[-1] if word.startswith("nginx/") else word


def package_version(python: Path | str, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    return out.stdout.strip() or "?"


# -- HTTP ---------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def fetch(port: int, path: str, headers: dict | None = None, timeout: float = 30):
    """(status, lower-cased headers, body as sent) of one GET on a fresh connection."""
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

def stop_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL, to a child started with start_new_session=True and its group;
    then SIGKILL to the group again, for a worker its dead master left behind."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def signals_ignored():
    """While stopping what was started: a second Ctrl-C (or SIGTERM) must not cut it short."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so `finally` blocks stop what was started."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


class Server:
    """A server process on 127.0.0.1:port in its own process group (its workers too)."""

    def __init__(self, name: str, cmd: list[str], env: dict, log: Path, port: int,
                 idle_path: str = "/"):
        self.name, self.cmd, self.env, self.log, self.port = name, cmd, env, log, port
        self.idle_path = idle_path   # a cheap URL, to wait until the server has caught up
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def start(self, ready_path: str | None = None, timeout: float = 180) -> "Server":
        self._log_file = open(self.log, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.wait_ready(ready_path or self.idle_path, timeout)
        return self

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, path: str, timeout: float = 180) -> None:
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

    def drain(self, timeout: float = 300) -> None:
        """Wait until the server has worked off the requests still queued when a load run
        stopped, so that they do not run into the next measurement."""
        try:
            fetch(self.port, self.idle_path, timeout=timeout)
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc, grace=20)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OCOP_", "PYGEOAPI_", "VIRTUAL_ENV", "PYTHONHOME"))}
    env.update(extra)
    return env


def server_cmd(kind: str, python: Path | str, workers: int, port: int, target: str,
               factory: bool = False, threads: int = 4) -> list[str]:
    """The command of a production server for the WSGI app `module:name` (a factory when
    `factory`): granian (as the README recommends) or gunicorn with gthread workers."""
    if kind == "granian":
        return [str(python), "-m", "granian", "--interface", "wsgi", "--workers", str(workers),
                "--host", HOST, "--port", str(port), "--log-level", "warning",
                *(["--factory"] if factory else []), target]
    # --timeout: a worker that loads a large (--scale) data set is not killed while it starts.
    extra = ["-k", "gthread", "--threads", str(threads)] if threads > 1 else []
    return [str(python), "-m", "gunicorn", "-w", str(workers), *extra, "-b", f"{HOST}:{port}",
            "--timeout", "300", f"{target}()" if factory else target]


def server_label(kind: str, python: Path | str, workers: int, threads: int) -> str:
    version = package_version(python, kind)
    if kind == "granian":
        return f"granian {version} --interface wsgi --workers {workers}"
    mode = "sync" if threads <= 1 else f"gthread --threads {threads}"
    return f"gunicorn {version} -w {workers} ({mode})"


def require_server(kind: str) -> None:
    try:
        __import__(kind)          # the app's own environment runs it
    except ImportError:
        raise SystemExit(f"{kind} is not installed for this Python: pip install {kind}")


@contextmanager
def serve_wsgi(app):
    """A WSGI app on a werkzeug server in a thread (as tests/conftest.py runs it); yields its
    base URL."""
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # no request log in the table
    with serving(make_server(HOST, 0, app, threaded=True)) as url:
        yield url


@contextmanager
def serving(server):
    """Run a socketserver-style server (serve_forever/shutdown) in a thread; yield its URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- memory of processes ------------------------------------------------------------------------

def rss_kib(pid: int) -> int | None:
    """VmRSS of a process (KiB), None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def descendants(root: int, direct: bool = False) -> list[int]:
    """The processes below `root` (only its children when `direct`), from /proc."""
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent[int(name)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = sorted(c for c, p in parent.items() if p == pid)
        out += kids
        if not direct:
            todo += kids
    return out


# -- wrk ----------------------------------------------------------------------------------------

# wrk prints its own report; this adds one line of JSON that run_wrk reads (latencies in µs).
WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p99_us":%.0f,"max_us":%.0f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class Load:
    """One wrk run: requests, seconds, latency percentiles (ms), errors (socket errors,
    time-outs and HTTP statuses >= 400)."""
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    max_ms: float = float("nan")
    kinds: dict = field(default_factory=dict)   # wrk's errors by kind: connect, read, ...

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_wrk(stdout: str) -> Load | None:
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        return None
    d = json.loads(line[len("WRKJSON "):])
    kinds = {k: int(d[k]) for k in ("connect", "read", "write", "status", "timeout")}
    return Load(int(d["requests"]), d["duration_us"] / 1e6, d["p50_us"] / 1000,
                d["p99_us"] / 1000, sum(kinds.values()), d["max_us"] / 1000, kinds)


def wrk_cmd(port: int, path: str, headers: dict, seconds: int, connections: int, script: Path,
            timeout: int = 10, threads: int | None = None, args: tuple = ()) -> list[str]:
    threads = threads or max(1, min(2, connections))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, int(seconds))}s",
           "--timeout", f"{timeout}s", "-s", str(script)]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd.append(f"http://{HOST}:{port}{path}")
    return cmd + (["--", *map(str, args)] if args else [])


def run_wrk(port: int, path: str, headers: dict, seconds: int, connections: int, script: Path,
            timeout: int = 10) -> Load:
    """wrk for `seconds` (whole seconds) against 127.0.0.1:port; `script` holds WRK_DONE."""
    cmd = wrk_cmd(port, path, headers, seconds, connections, script, timeout)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout + 60)
    load = parse_wrk(out.stdout)
    if out.returncode != 0 or load is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")
    return load
